"""The OpenAPI schema is checked against the running application by schemathesis."""

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from catalog.models import Product
from config.wsgi import application

# Loaded through the WSGI app itself: the schema that is served is the one checked.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Calling the WSGI app directly fires request_finished, which would close the test's
    database connection (Django's test client disconnects the same handler)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def auth_headers(admin_user, store):
    from catalog.tokens import StampedRefreshToken

    Product.objects.create(store=store, id_origin=1, sku="A", name="Apple")
    return {"Authorization": f"Bearer {StampedRefreshToken.for_user(admin_user).access_token}"}


@schema.parametrize()
# auth_headers is made once for all the generated cases on purpose (one admin, one store):
# the one health check that would flag it is off, the others stay on.
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_answer_matches_the_schema(case, auth_headers):
    case.call_and_validate(
        headers=auth_headers,
        checks=[
            schemathesis.checks.not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )


def test_the_served_schema_matches_the_committed_one(tmp_path):
    """docs/openapi.yaml is the contract API clients read: a change to the API must change it on purpose
    (regenerate it with ``manage.py spectacular --file docs/openapi.yaml`` on PostgreSQL, whose integer
    ranges it states)."""
    from pathlib import Path

    from django.core.management import call_command

    from tests.plugins.services import require_postgres

    require_postgres()
    generated = tmp_path / "openapi.yaml"
    call_command("spectacular", "--file", str(generated))
    committed = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
    assert generated.read_text() == committed.read_text()
