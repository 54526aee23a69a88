"""What schemathesis (every check, tests/config/test_openapi.py) found where the API and its
schema disagreed, each pinned as a plain test: bad values the hub used to ignore answer 400, a
method a view does not serve answers 405 first, and a superuser's role reads null as documented."""

import pytest

pytestmark = pytest.mark.django_db


def bad(response, *, status: int = 400):
    assert response.status_code == status, response.content
    assert response.json()["status"] == "error"
    return response.json()


@pytest.mark.parametrize("limit", ["null", "abc", "0", "1001", "-5"])
def test_a_limit_outside_1_to_1000_is_a_400_not_the_default(api, superuser, limit):
    assert "limit" in bad(api(superuser).get(f"/api/v1/stores/?limit={limit}"))["message"]


@pytest.mark.parametrize("value", ["null", "maybe", ""])
def test_a_boolean_filter_refuses_what_is_not_a_boolean(api, superuser, value):
    bad(api(superuser).get(f"/api/v1/documents/?synced={value}"))


def test_an_empty_timestamp_filter_is_a_400(api, superuser):
    bad(api(superuser).get("/api/v1/documents/?created_before="))


@pytest.mark.parametrize("path", ["/api/v1/sync/alerts/", "/api/v1/sync/metrics/"])
@pytest.mark.parametrize("ref", ["", "abc", " 1", "{12345678-1234-1234-1234-123456789012}"])
def test_a_store_reference_that_is_neither_an_id_nor_a_uuid_is_a_400(api, superuser, path, ref):
    bad(api(superuser).get(path, {"store_id": ref}))


def test_a_store_reference_by_id_or_uuid_is_accepted(api, superuser, store):
    for ref in (str(store.pk), str(store.uuid), str(store.uuid).upper()):
        assert api(superuser).get("/api/v1/sync/metrics/", {"store_id": ref}).status_code == 200


def test_a_method_the_view_does_not_serve_is_a_405_before_the_store_lookup(api, superuser):
    response = api(superuser).generic("TRACE", "/api/v1/sync/sync-images/runs/?id_store=0")
    assert bad(response, status=405)["code"] == "METHOD_NOT_ALLOWED"


def test_a_superuser_lists_with_a_null_role_and_a_new_user_needs_one(api, superuser):
    users = api(superuser).get("/api/v1/users/").json()["results"]
    assert [user["role"] for user in users if user["username"] == "root"] == [None]
    detail = bad(
        api(superuser).post("/api/v1/users/", {"username": "x", "password": "a-Strong-pass-42"}, format="json")
    )
    assert "role" in detail["detail"]
