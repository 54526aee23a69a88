"""Resolving a conflict is optimistic: the sides are read again, and a side that moved since
the conflict was recorded makes the resolution stale (409 ``CONFLICT_STALE``, the conflict
refreshed, nothing written), through the API and through the admin alike."""

from __future__ import annotations

from decimal import Decimal

import pytest

from catalog.roles import Role
from storesync import services
from storesync.models import SyncConflict
from tests.plugins.simulator import sim_get, sim_post
from tests.storesync.conftest import configure, edit_platform, platform_product

pytestmark = pytest.mark.django_db

SHOP_IDS = (2, 3, 4)


@pytest.fixture
def operator(api, make_user, shop_store):
    return api(make_user("operator", role=Role.OPERATOR, stores=[shop_store]))


@pytest.fixture
def conflicts(shop_store, sim):
    """Price conflicts pending on three products: store 11.11, platform 22.22."""
    configure(shop_store, products={"conflict_resolution": "manual_resolution"})
    services.run_sync_now(shop_store, sync_type="full")
    for shop_id in SHOP_IDS:
        shop_price(sim, shop_id, "11.110000")
        edit_platform(platform_product(shop_store, shop_id), price="22.220000")
    services.run_sync_now(shop_store)
    return list(SyncConflict.objects.filter(store=shop_store, status="pending").order_by("shop_id"))


def shop_price(sim, shop_id: int, price: str | None = None) -> str:
    if price is not None:
        sim_post(sim, "mutate", {"products": [shop_id], "fields": {"price": price}})
    return sim_get(sim, f"products/{shop_id}")["price"]


def resolve(operator, conflict, **body):
    return operator.post(
        f"/api/v1/sync/conflicts/{conflict.pk}/resolve", {"resolution": "use_store_value", **body}, format="json"
    )


def test_a_shop_edit_after_the_conflict_makes_the_resolution_stale(operator, shop_store, sim, conflicts):
    first = conflicts[0]
    assert (first.store_value, first.platform_value) == ("11.110000", "22.220000")
    shop_price(sim, first.shop_id, "33.330000")

    response = resolve(operator, first)
    assert response.status_code == 409, response.content
    body = response.json()
    assert body["code"] == "CONFLICT_STALE"
    assert (body["detail"]["store_value"], body["detail"]["platform_value"]) == (33.33, 22.22)
    assert body["detail"]["status"] == "pending"
    # Nothing was written: the shop keeps the newer edit, the platform its own value.
    assert shop_price(sim, first.shop_id) == "33.330000"
    assert platform_product(shop_store, first.shop_id).price == Decimal("22.22")
    first.refresh_from_db()
    assert (first.status, first.store_value, first.platform_value) == ("pending", "33.330000", "22.220000")

    # Decided again on the values now shown, it goes through.
    again = resolve(operator, first)
    assert again.status_code == 200, again.content
    assert shop_price(sim, first.shop_id) == "33.330000"
    assert platform_product(shop_store, first.shop_id).price == Decimal("33.33")


def test_a_platform_edit_after_the_conflict_makes_the_resolution_stale(operator, shop_store, sim, conflicts):
    first = conflicts[0]
    edit_platform(platform_product(shop_store, first.shop_id), price="44.440000")
    response = resolve(operator, first, resolution="use_platform_value")
    assert response.status_code == 409 and response.json()["code"] == "CONFLICT_STALE"
    assert response.json()["detail"]["platform_value"] == 44.44
    assert shop_price(sim, first.shop_id) == "11.110000"
    assert platform_product(shop_store, first.shop_id).price == Decimal("44.44")


def test_apply_to_similar_settles_only_the_targets_still_as_recorded(operator, shop_store, sim, conflicts):
    first, moved, still = conflicts
    shop_price(sim, moved.shop_id, "33.330000")
    response = resolve(operator, first, apply_to_similar=True)
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert sorted(data["resolved_conflicts"]) == sorted([first.pk, still.pk])
    assert data["failed_conflicts"] == []
    assert data["stale_conflicts"] == [
        {"conflict_id": moved.pk, "field": "price", "store_value": 33.33, "platform_value": 22.22}
    ]
    for settled in (first, still):
        assert platform_product(shop_store, settled.shop_id).price == Decimal("11.11")
    assert shop_price(sim, moved.shop_id) == "33.330000"
    assert platform_product(shop_store, moved.shop_id).price == Decimal("22.22")
    moved.refresh_from_db()
    assert (moved.status, moved.store_value) == ("pending", "33.330000")


def test_the_admins_resolve_reports_a_stale_conflict_as_an_error(console, shop_store, sim, conflicts):
    first, second, _ = conflicts
    shop_price(sim, first.shop_id, "33.330000")
    response = console.post(
        "/admin/storesync/syncconflict/",
        {"action": "use_store_value", "_selected_action": [first.pk, second.pk]},
        follow=True,
    )
    shown = [(m.level_tag, str(m)) for m in response.context["messages"]]
    errors = [text for level, text in shown if level == "error"]
    assert len(errors) == 1 and f"Conflict {first.pk}" in errors[0] and "33.33" in errors[0], shown
    assert [text for level, text in shown if level == "success"] == [
        "1 conflict(s) resolved: the value was written to both sides."
    ]
    assert shop_price(sim, first.shop_id) == "33.330000"
    first.refresh_from_db()
    assert (first.status, first.store_value) == ("pending", "33.330000")
