import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from catalog.roles import Role

pytestmark = pytest.mark.django_db


def test_roles_exist_with_their_permissions():
    groups = {group.name: group for group in Group.objects.prefetch_related("permissions")}
    assert set(groups) >= {"ADMIN", "OPERATOR", "EDGE", "VIEWER"}
    codenames = {name: {p.codename for p in group.permissions.all()} for name, group in groups.items()}
    assert {"add_store", "change_store", "delete_store", "view_store"} <= codenames["ADMIN"]
    assert "view_store" in codenames["VIEWER"] and "add_store" not in codenames["VIEWER"]
    assert "view_product" in codenames["EDGE"] and "change_product" not in codenames["EDGE"]
    assert "change_product" in codenames["OPERATOR"] and "delete_store" not in codenames["OPERATOR"]


def test_token_pair_refresh_and_verify(make_user):
    make_user("alice")
    client = APIClient()
    tokens = client.post("/api/v1/auth/token/", {"username": "alice", "password": "pass-Word-123"}).json()
    refreshed = client.post("/api/v1/auth/token/refresh/", {"refresh": tokens["refresh"]})
    assert refreshed.status_code == 200 and "access" in refreshed.json()
    assert client.post("/api/v1/auth/token/verify/", {"token": tokens["access"]}).status_code == 200
    bad = client.post("/api/v1/auth/token/verify/", {"token": tokens["access"] + "x"})
    assert bad.status_code == 401 and bad.json()["code"] == "NOT_AUTHENTICATED"


def test_wrong_password_is_a_401_envelope(make_user):
    make_user("alice")
    response = APIClient().post("/api/v1/auth/token/", {"username": "alice", "password": "nope"})
    assert response.status_code == 401
    assert response.json()["code"] == "NOT_AUTHENTICATED"


def test_admin_creates_a_user_with_role_and_stores(api, admin_user, store, other_store):
    response = api(admin_user).post(
        "/api/v1/users/",
        {"username": "edge1", "password": "Sturdy-pass-42", "role": "EDGE", "stores": [store.pk]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["role"] == "EDGE" and body["stores"] == [store.pk]
    assert "password" not in body
    token = APIClient().post("/api/v1/auth/token/", {"username": "edge1", "password": "Sturdy-pass-42"})
    assert token.status_code == 200


def test_user_changes_role_and_stores_then_is_deactivated(api, admin_user, make_user, store, other_store):
    user = make_user("bob", role=Role.VIEWER, stores=[store])
    client = api(admin_user)
    changed = client.patch(f"/api/v1/users/{user.pk}/", {"role": "OPERATOR", "stores": [other_store.pk]}, format="json")
    assert changed.status_code == 200
    assert changed.json()["role"] == "OPERATOR" and changed.json()["stores"] == [other_store.pk]
    assert list(user.groups.values_list("name", flat=True)) == ["OPERATOR"]
    assert client.delete(f"/api/v1/users/{user.pk}/").status_code == 204
    user.refresh_from_db()
    assert user.is_active is False
    token = APIClient().post("/api/v1/auth/token/", {"username": "bob", "password": "pass-Word-123"})
    assert token.status_code == 401


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"username": "x", "password": "123", "role": "EDGE"}, "password"),
        ({"username": "x", "password": "Sturdy-pass-42", "role": "KING"}, "role"),
        ({"username": "x", "password": "Sturdy-pass-42"}, "role"),
        ({"username": "x", "role": "EDGE"}, "password"),
        ({"username": "x", "password": "Sturdy-pass-42", "role": "EDGE", "stores": [999999]}, "stores"),
        ({"username": "x", "password": "Sturdy-pass-42", "role": "EDGE", "stores": "one"}, "stores"),
    ],
)
def test_bad_user_input_is_refused(api, admin_user, payload, field):
    response = api(admin_user).post("/api/v1/users/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["detail"]


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.EDGE, Role.VIEWER])
def test_only_admins_manage_users(api, make_user, role):
    user = make_user("someone", role=role)
    response = api(user).get("/api/v1/users/")
    assert response.status_code == 403 and response.json()["code"] == "PERMISSION_DENIED"


def test_superuser_manages_users_without_a_role(api, superuser):
    assert api(superuser).get("/api/v1/users/").status_code == 200


# The role hierarchy: every actor x target x operation.

ACTORS = ["superuser", "ADMIN", "OPERATOR", "EDGE", "VIEWER"]
TARGETS = ["superuser", "staff", "ADMIN", "OPERATOR", "EDGE", "VIEWER", "self"]
OPERATIONS = ["password", "role", "deactivate", "is_active"]


@pytest.fixture
def fast_passwords(settings):
    """The matrix creates some 300 accounts: a cheap hasher keeps it quick (tests only)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _account(make_user, name: str, kind: str):
    if kind == "superuser":
        return make_user(name, superuser=True)
    if kind == "staff":  # staff without superuser: reaches the Django admin with its permissions
        user = make_user(name)
        user.is_staff = True
        user.save(update_fields=["is_staff"])
        return user
    return make_user(name, role=Role(kind))


def _expected(actor: str, target: str, operation: str) -> tuple[int, str | None]:
    if actor not in ("superuser", "ADMIN"):
        return 403, "PERMISSION_DENIED"
    if target == "self":
        return (200, None) if operation == "password" else (403, "OWN_ACCOUNT_PROTECTED")
    if target in ("superuser", "staff") and actor != "superuser":
        return 403, "SUPERUSER_REQUIRED"
    return (204, None) if operation == "deactivate" else (200, None)


def _operate(client, user, operation: str):
    url = f"/api/v1/users/{user.pk}/"
    if operation == "deactivate":
        return client.delete(url)
    payload = {
        "password": {"password": "Brand-new-pass-77"},
        "role": {"role": "EDGE" if user.groups.filter(name="VIEWER").exists() else "VIEWER"},
        "is_active": {"is_active": False},
    }[operation]
    return client.patch(url, payload, format="json")


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("actor", ACTORS)
def test_role_hierarchy(fast_passwords, api, make_user, actor, target, operation):
    acting = _account(make_user, "actor", actor)
    user = acting if target == "self" else _account(make_user, "target", target)
    before = (user.password, user.is_active, list(user.groups.values_list("name", flat=True)))
    status, code = _expected(actor, target, operation)
    response = _operate(api(acting), user, operation)
    assert response.status_code == status, response.content
    user.refresh_from_db()
    after = (user.password, user.is_active, list(user.groups.values_list("name", flat=True)))
    if code:
        assert response.json()["status"] == "error" and response.json()["code"] == code
        assert after == before  # nothing changed
    else:
        assert after != before


def test_an_admin_cannot_take_over_the_superuser(api, admin_user, superuser):
    client = api(admin_user)
    response = client.patch(f"/api/v1/users/{superuser.pk}/", {"password": "Taken-over-123"}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "SUPERUSER_REQUIRED"
    assert client.delete(f"/api/v1/users/{superuser.pk}/").status_code == 403
    superuser.refresh_from_db()
    assert superuser.is_active and not superuser.check_password("Taken-over-123")
    assert client.get(f"/api/v1/users/{superuser.pk}/").status_code == 200  # reading stays allowed
