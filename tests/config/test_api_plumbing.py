"""The error envelope, auth failures, trailing slashes and the OpenAPI schema."""

import pytest
from rest_framework.exceptions import Throttled
from rest_framework.test import APIClient

from config.api.exceptions import exception_handler

pytestmark = pytest.mark.django_db


def assert_envelope(response, status: int, code: str):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == "error"
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    return body


def test_unknown_api_route_is_a_404_envelope(api, admin_user):
    assert_envelope(api(admin_user).get("/api/v1/no-such-thing/"), 404, "NOT_FOUND")


def test_missing_token_is_a_401_envelope(api):
    body = assert_envelope(api(None).get("/api/v1/stores/"), 401, "NOT_AUTHENTICATED")
    assert "credentials" in body["message"].lower()


def test_garbage_token_is_a_401_envelope():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not.a.jwt")
    assert_envelope(client.get("/api/v1/stores/"), 401, "NOT_AUTHENTICATED")


def test_wrong_method_is_a_405_envelope(api, admin_user):
    assert_envelope(api(admin_user).put("/api/v1/stores/"), 405, "METHOD_NOT_ALLOWED")


def test_malformed_json_is_invalid_data_format(api, admin_user):
    response = api(admin_user).post("/api/v1/stores/", data="{not json", content_type="application/json")
    assert_envelope(response, 400, "INVALID_DATA_FORMAT")


def test_validation_errors_name_the_fields(api, admin_user):
    body = assert_envelope(api(admin_user).post("/api/v1/stores/", {}, format="json"), 400, "VALIDATION_ERROR")
    assert set(body["detail"]) >= {"name", "code"}


def test_oversized_body_is_a_413_envelope(api, admin_user, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = api(admin_user).post(
        "/api/v1/stores/", data='{"name": "' + "x" * 4096 + '"}', content_type="application/json"
    )
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


def test_unhandled_errors_become_a_500_envelope_without_internals():
    response = exception_handler(RuntimeError("password=hunter2"), {"view": None})
    assert response.status_code == 500
    assert response.data == {"status": "error", "code": "INTERNAL_ERROR", "message": "Internal server error."}


def test_throttled_requests_carry_retry_after():
    response = exception_handler(Throttled(wait=12), {})
    assert response.status_code == 429
    assert response.data["code"] == "RATE_LIMIT_EXCEEDED"
    assert response["Retry-After"] == "12"


@pytest.mark.parametrize("path", ["/api/v1/auth/token", "/api/v1/auth/token/"])
def test_routes_answer_with_and_without_a_trailing_slash(make_user, path):
    make_user("alice")
    response = APIClient().post(path, {"username": "alice", "password": "pass-Word-123"}, format="json")
    assert response.status_code == 200
    assert {"access", "refresh"} <= set(response.json())


@pytest.mark.parametrize("path", ["/api/v1/stores", "/api/v1/stores/"])
def test_router_routes_answer_with_and_without_a_trailing_slash(api, admin_user, path):
    assert api(admin_user).get(path).status_code == 200


def test_non_api_404_stays_a_page(client):
    response = client.get("/definitely-not-here")
    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/stores/" in paths or "/api/v1/stores" in paths
    assert any(path.startswith("/api/v1/auth/token") for path in paths)
    assert client.get("/api/docs/").status_code == 200


def test_the_error_envelope_lists_every_apps_codes(client):
    """The OpenAPI enum of ``code`` is the union of the apps' error_codes enums."""
    from catalog.error_codes import CatalogErrorCode
    from config.error_codes import ErrorCode
    from nasync.error_codes import NasErrorCode
    from photosync.error_codes import PhotoErrorCode
    from storesync.error_codes import SyncErrorCode

    schema = client.get("/api/schema/?format=json").json()
    listed = schema["components"]["schemas"]["ErrorEnvelope"]["properties"]["code"]["enum"]
    for codes in (ErrorCode, CatalogErrorCode, NasErrorCode, PhotoErrorCode, SyncErrorCode):
        assert {str(code) for code in codes} <= set(listed)
    assert listed == sorted(set(listed))


def test_a_domain_error_renders_as_the_envelope_with_its_status():
    from config.errors import DomainError

    response = exception_handler(DomainError("NAS_NOT_CONFIGURED", 400, "NAS_HOST is not set.", {"x": 1}), {})
    assert response.status_code == 400
    assert response.data == {
        "status": "error",
        "code": "NAS_NOT_CONFIGURED",
        "message": "NAS_HOST is not set.",
        "detail": {"x": 1},
    }
