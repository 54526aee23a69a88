"""The OpenAPI schema is checked against the running application by schemathesis."""

from pathlib import Path

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from catalog.models import Product
from config.wsgi import application

ROOT = Path(__file__).resolve().parents[2]
# Loaded through the WSGI app itself: the schema that is served is the one checked, with the
# project's schemathesis.toml (the few documented 400s the schema cannot state, each with its reason).
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/?format=json",
    application,
    config=schemathesis.config.SchemathesisConfig.from_path(ROOT / "schemathesis.toml"),
)


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
    # No list of checks: schemathesis then runs every check it registers (status codes, content
    # types, response schemas and headers, negative and positive data, auth, ...), as `--checks all`.
    case.call_and_validate(headers=auth_headers)


def test_the_served_schema_matches_the_committed_one(tmp_path):
    """docs/openapi.yaml is the contract API clients read: a change to the API must change it on purpose
    (regenerate it with ``manage.py spectacular --file docs/openapi.yaml`` on PostgreSQL, whose integer
    ranges it states)."""
    from django.core.management import call_command

    from tests.plugins.services import require_postgres

    require_postgres()
    generated = tmp_path / "openapi.yaml"
    call_command("spectacular", "--file", str(generated))
    committed = ROOT / "docs" / "openapi.yaml"
    assert generated.read_text() == committed.read_text()
