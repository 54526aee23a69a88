"""Hostile input on every JSON body and every timestamp parameter: a 400 in the envelope, never a 500.

Deeply nested JSON used to exhaust the decoder's recursion (RecursionError, 500) on every JSON
endpoint, anonymous ones included; a timestamp whose offset PostgreSQL refuses (beyond ±15:59)
or that overflows once shifted to UTC used to reach the database (500).
"""

from __future__ import annotations

import base64
import json

import pytest

from config.api import parsers
from storesync import services as storesync_services

DEEP = 100_000  # far beyond Python's recursion limit


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def assert_invalid_format(response) -> None:
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert body["status"] == "error" and body["code"] == "INVALID_DATA_FORMAT", body


# Nesting


def test_loads_accepts_the_limit_and_refuses_one_level_more(settings):
    settings.API_JSON_MAX_DEPTH = 4
    assert parsers.loads('{"a": [[{"b": 1}]]}') == {"a": [[{"b": 1}]]}
    with pytest.raises(parsers.NestingTooDeep):
        parsers.loads('{"a": [[{"b": [1]}]]}')
    with pytest.raises(parsers.NestingTooDeep):
        parsers.loads(nested(DEEP))
    with pytest.raises(ValueError):
        parsers.loads('{"price": NaN}')


@pytest.mark.django_db
def test_deep_json_to_the_anonymous_token_endpoint_is_a_400(client):
    response = client.post("/api/v1/auth/token/", nested(DEEP), content_type="application/json")
    assert_invalid_format(response)
    assert "nested deeper than" in response.json()["message"]


@pytest.mark.django_db
@pytest.mark.parametrize("depth", [40, DEEP])
def test_deep_json_to_authenticated_endpoints_is_a_400(api, superuser, store, depth):
    storesync_services.configure_sync(store, sync_frequency="manual", entities=[{"type": "products"}])
    client = api(superuser)
    body = json.dumps({"rules": json.loads(nested(40)), "replace": False}) if depth == 40 else nested(depth)
    for path in (
        f"/api/v1/stores/{store.pk}/sync/rules",  # storesync's own JSON views
        f"/api/v1/stores/{store.uuid}/products/",  # a DRF viewset on the default parsers
        "/api/v1/sync/product-photos/status/",
    ):
        assert_invalid_format(client.post(path, body, content_type="application/json"))


def test_a_deep_photo_cursor_is_a_400_not_a_500(api, superuser, store):
    cursor = base64.urlsafe_b64encode(nested(DEEP).encode()).decode()
    response = api(superuser).get("/api/v1/sync/product-photos/", {"store_id": store.pk, "cursor": cursor})
    assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR"


# Timestamps: an offset Python accepts but PostgreSQL refuses is the same instant in UTC;
# a value that overflows once shifted, or is not a date, is a 400.

ACCEPTED = ["2026-01-01T00:00:00-23:59", "2026-01-01T00:00:00+23:59", "2026-01-01T00:00:00+19:17"]
REFUSED = [
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "2026-02-30T00:00:00Z",
    "2026-01-01T24:00:01Z",
    "2026-01-01T00:00:00+24:00",
    "+275760-09-13T00:00:00Z",
    "2026-01-01T00:00:00+99:99",
]


def timestamp_endpoints(store) -> dict[str, tuple[str, str]]:
    """Every GET timestamp parameter of the API: name → (path, parameter)."""
    return {
        "photos since": ("/api/v1/sync/product-photos/", "since"),
        "products updated_since": (f"/api/v1/stores/{store.uuid}/products/", "updated_since"),
        "customers updated_since": (f"/api/v1/stores/{store.uuid}/customers/", "updated_since"),
        "orders updated_since": (f"/api/v1/stores/{store.uuid}/orders/", "updated_since"),
        "documents created_after": ("/api/v1/documents/", "created_after"),
        "documents created_before": ("/api/v1/documents/", "created_before"),
        "history start_date": (f"/api/v1/stores/{store.pk}/sync/history", "start_date"),
        "history end_date": (f"/api/v1/stores/{store.pk}/sync/history", "end_date"),
    }


@pytest.fixture
def timestamp_client(api, superuser, store):
    storesync_services.configure_sync(store, sync_frequency="manual", entities=[{"type": "products"}])
    return api(superuser)


@pytest.mark.parametrize("value", ACCEPTED + REFUSED)
def test_every_timestamp_parameter_answers_200_or_400_never_500(timestamp_client, store, value):
    for name, (path, param) in timestamp_endpoints(store).items():
        response = timestamp_client.get(path, {param: value, "store_id": store.pk})
        expected = 200 if value in ACCEPTED else 400
        assert response.status_code == expected, (name, value, response.content[:300])
        if expected == 400:
            assert response.json()["code"] == "VALIDATION_ERROR", (name, value)
