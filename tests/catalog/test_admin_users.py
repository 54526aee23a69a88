"""The console's user pages keep the users API's hierarchy: only a superuser manages superuser and
staff accounts, and a staff member cannot raise their own privileges."""

import pytest
from django.contrib.auth.models import Permission

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(make_user, client):
    """A staff member allowed to view and change users, as an operator lead might be."""
    user = make_user("lead")
    user.is_staff = True
    user.save()
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_user", "change_user", "delete_user"]))
    client.force_login(user)
    return user


def form_for(user, **changes) -> dict:
    data = {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": user.email,
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    if user.is_staff:
        data["is_staff"] = "on"
    if user.is_superuser:
        data["is_superuser"] = "on"
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def test_staff_cannot_change_or_delete_a_superuser(client, staff, superuser):
    url = f"/admin/auth/user/{superuser.pk}/change/"
    response = client.post(url, form_for(superuser, email="taken@example.com"))
    assert response.status_code == 403
    assert (
        client.post(
            f"/admin/auth/user/{superuser.pk}/password/", {"password1": "x" * 20, "password2": "x" * 20}
        ).status_code
        == 403
    )
    assert client.post(f"/admin/auth/user/{superuser.pk}/delete/", {"post": "yes"}).status_code == 403
    superuser.refresh_from_db()
    assert superuser.email != "taken@example.com"
    assert superuser.check_password("x" * 20) is False
    # The page itself stays readable: view permission is not management.
    assert client.get(url).status_code == 200


def test_staff_cannot_make_themselves_a_superuser(client, staff):
    response = client.post(f"/admin/auth/user/{staff.pk}/change/", form_for(staff, is_superuser="on"))
    assert response.status_code == 302, response.content[:500]
    staff.refresh_from_db()
    assert staff.is_superuser is False


def test_staff_cannot_give_another_user_staff_rights(client, staff, make_user):
    clerk = make_user("clerk")
    response = client.post(
        f"/admin/auth/user/{clerk.pk}/change/", form_for(clerk, is_staff="on", email="c@example.com")
    )
    assert response.status_code == 302, response.content[:500]
    clerk.refresh_from_db()
    assert (clerk.is_staff, clerk.email) == (False, "c@example.com")


def test_a_superuser_still_manages_everyone(client, superuser, make_user):
    client.force_login(superuser)
    lead = make_user("lead2")
    lead.is_staff = True
    lead.save()
    response = client.post(f"/admin/auth/user/{lead.pk}/change/", form_for(lead, is_superuser="on"))
    assert response.status_code == 302, response.content[:500]
    lead.refresh_from_db()
    assert lead.is_superuser is True


def test_staff_cannot_delete_a_superuser_in_bulk(client, staff, superuser):
    response = client.post(
        "/admin/auth/user/", {"action": "delete_selected", "_selected_action": [superuser.pk], "post": "yes"}
    )
    assert response.status_code in (200, 302, 403)
    superuser.refresh_from_db()  # still there
