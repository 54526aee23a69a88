from decimal import Decimal

import pytest

from catalog.models import Order, Product, Store
from catalog.roles import Role

pytestmark = pytest.mark.django_db


# --- stores ---


def test_admin_creates_a_store_and_the_key_is_never_returned(api, admin_user):
    response = api(admin_user).post(
        "/api/v1/stores/",
        {
            "name": "Milan",
            "code": "milan",
            "platform": "prestashop",
            "platform_url": "http://127.0.0.1:1/",
            "platform_api_key": "K" * 32,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert "platform_api_key" not in body and body["has_api_key"] is True
    assert "K" * 32 not in response.content.decode()
    assert Store.objects.get(code="milan").platform_api_key == "K" * 32


def test_store_is_addressed_by_id_and_by_uuid(api, admin_user, store):
    client = api(admin_user)
    assert client.get(f"/api/v1/stores/{store.pk}/").json()["code"] == "main"
    assert client.get(f"/api/v1/stores/{store.uuid}").json()["id"] == store.pk


@pytest.mark.parametrize("ref", ["999999", "0c1e8a4e-93b0-4b8e-9a3e-000000000000", "not-an-id", "1.5", "%2e%2e"])
def test_unknown_or_malformed_store_is_404(api, admin_user, ref):
    response = api(admin_user).get(f"/api/v1/stores/{ref}/")
    assert response.status_code == 404 and response.json()["status"] == "error"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "A", "code": "main"}, "code"),
        ({"name": "A", "code": "has space"}, "code"),
        ({"name": "A", "code": "a", "platform": "magento"}, "platform"),
        ({"name": "A", "code": "a", "platform": "prestashop"}, "platform_url"),
        ({"name": "A", "code": "a", "platform": "prestashop", "platform_url": "ftp://shop.example/"}, "platform_url"),
        ({"name": "A", "code": "a", "platform": "prestashop", "platform_url": "http://10.0.0.5/"}, "platform_url"),
        (
            {"name": "A", "code": "a", "platform": "prestashop", "platform_url": "http://169.254.169.254/"},
            "platform_url",
        ),
        (
            {"name": "A", "code": "a", "platform": "prestashop", "platform_url": "http://[::ffff:10.0.0.1]/"},
            "platform_url",
        ),
        ({"name": "A", "code": "a", "is_active": "perhaps"}, "is_active"),
    ],
)
def test_bad_store_input_is_a_400(api, admin_user, store, payload, field):
    response = api(admin_user).post("/api/v1/stores/", payload, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["detail"]
    assert Store.objects.count() == 1


def test_private_url_is_accepted_when_allowlisted(api, admin_user, settings):
    settings.PLATFORM_URL_ALLOWLIST = ["10.0.5.0/24"]
    response = api(admin_user).post(
        "/api/v1/stores/",
        {"name": "On premise", "code": "onprem", "platform": "prestashop", "platform_url": "http://10.0.5.7/"},
        format="json",
    )
    assert response.status_code == 201, response.json()


def test_members_see_only_their_stores_read_only(api, make_user, store, other_store):
    operator = make_user("op", role=Role.OPERATOR, stores=[store])
    client = api(operator)
    assert [s["id"] for s in client.get("/api/v1/stores/").json()["results"]] == [store.pk]
    assert client.get(f"/api/v1/stores/{other_store.pk}/").status_code == 404
    assert client.patch(f"/api/v1/stores/{store.pk}/", {"name": "x"}, format="json").status_code == 403
    assert client.post("/api/v1/stores/", {"name": "x", "code": "x"}, format="json").status_code == 403


def test_admin_updates_a_store_without_resending_the_key(api, admin_user, store):
    Store.objects.filter(pk=store.pk).update(platform_api_key="S" * 32)
    response = api(admin_user).patch(f"/api/v1/stores/{store.pk}/", {"name": "Renamed"}, format="json")
    assert response.status_code == 200
    store.refresh_from_db()
    assert store.name == "Renamed" and store.platform_api_key == "S" * 32


# --- products ---


@pytest.fixture
def products(store, other_store):
    Product.objects.create(store=store, id_origin=1, sku="A-1", name="Apple", price=Decimal("1.50"))
    Product.objects.create(store=store, id_origin=None, sku="B-2", name="Bread", status="inactive")
    Product.objects.create(store=other_store, id_origin=1, sku="A-1", name="Other apple")


def test_products_are_listed_per_store_with_filters(api, admin_user, store, products):
    client = api(admin_user)
    base = f"/api/v1/stores/{store.uuid}/products/"
    assert [p["sku"] for p in client.get(base).json()["results"]] == ["A-1", "B-2"]
    assert [p["sku"] for p in client.get(base, {"sku": "B-2"}).json()["results"]] == ["B-2"]
    assert [p["sku"] for p in client.get(base, {"status": "inactive"}).json()["results"]] == ["B-2"]
    assert [p["sku"] for p in client.get(base, {"has_origin": "true"}).json()["results"]] == ["A-1"]
    assert [p["sku"] for p in client.get(base, {"has_origin": "false"}).json()["results"]] == ["B-2"]
    assert client.get(base, {"updated_since": "2999-01-01T00:00:00Z"}).json()["count"] == 0


@pytest.mark.parametrize("params", [{"updated_since": "yesterday"}, {"status": "sleeping"}, {"has_origin": "maybe"}])
def test_bad_product_filters_are_a_400(api, admin_user, store, params):
    response = api(admin_user).get(f"/api/v1/stores/{store.pk}/products/", params)
    assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR"


def test_product_crud(api, admin_user, store):
    client = api(admin_user)
    base = f"/api/v1/stores/{store.pk}/products/"
    created = client.post(base, {"name": "Cheese", "sku": "C-3", "price": "4.20", "inventory": 7}, format="json")
    assert created.status_code == 201, created.json()
    product = created.json()
    assert product["store"] == store.pk and Decimal(product["price"]) == Decimal("4.20")
    updated = client.patch(f"{base}{product['uuid']}/", {"inventory": 3}, format="json")
    assert updated.json()["inventory"] == 3
    assert client.delete(f"{base}{product['id']}/").status_code == 204
    assert not Product.objects.filter(pk=product["id"]).exists()


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "X", "price": "abc"},
        {"name": "X", "inventory": "many"},
        {"price": "1.00"},
        {"name": "X", "id_origin": -4},
        {"name": "X", "status": "gone"},
    ],
)
def test_bad_product_input_is_a_400(api, admin_user, store, payload):
    response = api(admin_user).post(f"/api/v1/stores/{store.pk}/products/", payload, format="json")
    assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize(
    ("change", "field"),
    [({"price": -1}, "price"), ({"price": "-0.01"}, "price"), ({"inventory": -5}, "inventory")],
)
def test_a_negative_price_or_stock_is_refused_where_it_comes_in(api, admin_user, store, products, change, field):
    """The sync would dead-letter it later (INVALID_DATA_FORMAT): the model's rule refuses it now."""
    client = api(admin_user)
    apple = Product.objects.get(store=store, sku="A-1")
    patched = client.patch(f"/api/v1/stores/{store.pk}/products/{apple.pk}/", change, format="json")
    assert patched.status_code == 400, patched.json()
    body = patched.json()
    assert body["code"] == "VALIDATION_ERROR" and list(body["detail"]) == [field]
    apple.refresh_from_db()
    assert (apple.price, apple.inventory) == (Decimal("1.50"), 0)
    created = client.post(f"/api/v1/stores/{store.pk}/products/", {"name": "Cheese", **change}, format="json")
    assert created.status_code == 400 and created.json()["code"] == "VALIDATION_ERROR"
    assert not Product.objects.filter(name="Cheese").exists()


def test_a_zero_price_and_stock_are_fine(api, admin_user, store, products):
    apple = Product.objects.get(store=store, sku="A-1")
    patched = api(admin_user).patch(
        f"/api/v1/stores/{store.pk}/products/{apple.pk}/", {"price": "0", "inventory": 0}, format="json"
    )
    assert patched.status_code == 200 and Decimal(patched.json()["price"]) == 0


def test_duplicate_origin_id_in_a_store_is_a_400(api, admin_user, store, products):
    response = api(admin_user).post(
        f"/api/v1/stores/{store.pk}/products/", {"name": "Dup", "id_origin": 1}, format="json"
    )
    assert response.status_code == 400, response.json()


def test_other_stores_products_are_invisible(api, make_user, store, other_store, products):
    viewer = make_user("viewer", role=Role.VIEWER, stores=[store])
    client = api(viewer)
    other = Product.objects.get(store=other_store)
    assert client.get(f"/api/v1/stores/{other_store.pk}/products/").status_code == 404
    assert client.get(f"/api/v1/stores/{store.pk}/products/{other.pk}/").status_code == 404
    assert client.get(f"/api/v1/stores/{store.pk}/products/").status_code == 200
    denied = client.post(f"/api/v1/stores/{store.pk}/products/", {"name": "x"}, format="json")
    assert denied.status_code == 403


def test_user_without_role_cannot_read_products(api, make_user, store, products):
    nobody = make_user("nobody", stores=[store])
    assert api(nobody).get(f"/api/v1/stores/{store.pk}/products/").status_code == 403


def test_orders_are_read_only(api, admin_user, store):
    Order.objects.create(store=store, id_origin=5, reference="ORD5", status="2", total=Decimal("9.90"))
    client = api(admin_user)
    orders = client.get(f"/api/v1/stores/{store.pk}/orders/").json()["results"]
    assert [o["reference"] for o in orders] == ["ORD5"]
    assert client.post(f"/api/v1/stores/{store.pk}/orders/", {}, format="json").status_code == 405
    assert client.get(f"/api/v1/stores/{store.pk}/customers/").json()["count"] == 0
