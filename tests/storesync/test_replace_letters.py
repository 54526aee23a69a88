"""Writes that delete as they replace need the D letter, like any delete.

``rules`` with ``replace: true`` and ``filters`` (which replaces an entity's filters and
excluded fields) used to let an OPERATOR (C, R and U on storesync, no D) wipe every rule
and filter of a store.
"""

from __future__ import annotations

import pytest

from catalog.roles import Role
from storesync.models import SyncFilter, SyncRule
from tests.storesync.conftest import configure

pytestmark = pytest.mark.django_db

RULE = {"name": "price_newest", "entity_type": "products", "field": "price", "action": "newest_wins"}
OTHER_RULE = {"name": "inventory_store", "entity_type": "products", "field": "inventory", "action": "use_store_value"}
ACTIVE = {"field": "status", "operator": "equals", "value": "active"}
PRICED = {"field": "price", "operator": "greater_than", "value": 0}


def url(store, action: str) -> str:
    return f"/api/v1/stores/{store.pk}/sync/{action}"


@pytest.fixture
def configured(shop_store):
    configure(shop_store, products={})
    return shop_store


@pytest.fixture
def operator(api, make_user, configured):
    return api(make_user("operator", role=Role.OPERATOR, stores=[configured]))


@pytest.fixture
def admin(api, make_user, configured):
    return api(make_user("admin-user", role=Role.ADMIN, stores=[configured]))


def assert_refused(response) -> None:
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["code"] == "PERMISSION_DENIED" and "'D' permission" in body["message"], body


def test_an_operator_adds_rules_but_cannot_replace_them(operator, admin, configured):
    assert operator.post(url(configured, "rules"), {"rules": [RULE, OTHER_RULE]}, format="json").status_code == 200

    assert_refused(operator.post(url(configured, "rules"), {"rules": [RULE], "replace": True}, format="json"))
    assert_refused(operator.post(url(configured, "rules"), {"rules": [], "replace": True}, format="json"))
    assert set(SyncRule.objects.values_list("name", flat=True)) == {"price_newest", "inventory_store"}

    response = admin.post(url(configured, "rules"), {"rules": [RULE], "replace": True}, format="json")
    assert response.status_code == 200, response.content
    assert list(SyncRule.objects.values_list("name", flat=True)) == ["price_newest"]


def test_an_operator_adds_filters_but_cannot_drop_one(operator, admin, configured):
    first = {"entity_type": "products", "filters": [ACTIVE], "exclude_fields": ["vendor_code"]}
    assert operator.post(url(configured, "filters"), first, format="json").status_code == 200
    wider = {"entity_type": "products", "filters": [ACTIVE, PRICED], "exclude_fields": ["vendor_code", "ean"]}
    assert operator.post(url(configured, "filters"), wider, format="json").status_code == 200
    assert operator.post(url(configured, "filters"), wider, format="json").status_code == 200  # the same again

    for dropping in (
        {"entity_type": "products", "filters": [], "exclude_fields": []},
        {"entity_type": "products", "filters": [PRICED], "exclude_fields": ["vendor_code", "ean"]},
        {"entity_type": "products", "filters": [ACTIVE, PRICED], "exclude_fields": ["ean"]},
        {
            "entity_type": "products",
            "filters": [ACTIVE, {**PRICED, "value": 5}],
            "exclude_fields": ["vendor_code", "ean"],
        },
    ):
        assert_refused(operator.post(url(configured, "filters"), dropping, format="json"))
    assert SyncFilter.objects.count() == 2

    cleared = {"entity_type": "products", "filters": [], "exclude_fields": []}
    assert admin.post(url(configured, "filters"), cleared, format="json").status_code == 200
    assert SyncFilter.objects.count() == 0
