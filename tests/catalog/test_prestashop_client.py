"""The PrestaShop client against the simulator, over real HTTP."""

from __future__ import annotations

import base64
import hashlib
import io
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import unquote

import httpx
import pytest
from PIL import Image

from catalog.platforms import (
    ImageTooLarge,
    PlatformAuthError,
    PlatformBadResponse,
    PlatformNotConfigured,
    PlatformNotFound,
    PlatformServerError,
    PlatformTimeout,
    PlatformUnsupported,
    PlatformValidationError,
    PrestaShopService,
    create_ecommerce_service,
)
from catalog.platforms.errors import PlatformError, ShopError, redact
from tests.plugins.simulator import sim_get, sim_post, sim_stats

pytestmark = pytest.mark.usefixtures("platform_settings")


@pytest.fixture
def shop(shop_simulator):
    with PrestaShopService(shop_simulator.url, shop_simulator.api_key) as service:
        yield service


def raw(sim, resource, record_id):
    return sim_get(sim, f"{resource}/{record_id}")


def requests_of(sim, prefix):
    return [line for line in sim_stats(sim)["recent"] if line.startswith(prefix)]


# Reading products


def test_ids_are_fetched_in_batches_of_100(make_shop_simulator):
    sim = make_shop_simulator(products=250)
    with PrestaShopService(sim.url, sim.api_key) as shop:
        products = shop.fetch_products(range(1, 251))

    assert [p.id for p in products] == list(range(1, 251))
    stats = sim_stats(sim)
    assert stats["products_list"] == 3 and stats["stock_list"] == 3
    assert all("filter[id]=[" in line for line in requests_of(sim, "GET /api/products"))


def test_fetched_products_follow_the_requested_order_and_skip_missing_ids(shop):
    assert [p.id for p in shop.fetch_products([5, 3, 999, 5])] == [5, 3]


def test_a_product_is_read_with_its_first_language_stock_and_images(shop, shop_simulator):
    product = shop.fetch_products([1])[0]
    state = raw(shop_simulator, "products", 1)

    assert product.name == state["name"]["1"] == "Product 1"
    assert product.description == state["description"]["1"]
    assert product.reference == "REF00001"
    assert product.price == Decimal(state["price"])
    assert product.quantity == int(state["quantity"])
    assert product.image_ids == tuple(image["id"] for image in state["images"])
    assert product.id_default_image == product.image_ids[0]
    assert product.date_upd == datetime.strptime(state["date_upd"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def test_a_single_language_shop_sends_plain_strings(make_shop_simulator):
    sim = make_shop_simulator(products=3, languages=1)
    body = httpx.get(
        f"{sim.url}/api/products", params={"display": "[id,name]", "output_format": "JSON"}, auth=(sim.api_key, "")
    ).json()
    assert body["products"][0]["name"] == "Product 1"

    with PrestaShopService(sim.url, sim.api_key) as shop:
        assert shop.fetch_products([1])[0].name == "Product 1"


def test_an_empty_result_is_the_bare_json_list(shop, shop_simulator):
    answer = httpx.get(
        f"{shop_simulator.url}/api/products",
        auth=(shop_simulator.api_key, ""),
        params={"display": "full", "filter[id]": "[999]", "output_format": "JSON"},
    )
    assert answer.text == "[]"
    assert shop.fetch_products([999]) == []


def test_partial_fields_are_requested_with_display_and_missing_ones_get_defaults(make_shop_simulator):
    sim = make_shop_simulator(products=3, no_image_ratio=1.0)
    with PrestaShopService(sim.url, sim.api_key) as shop:
        product = shop.fetch_products([2], fields=("id", "id_default_image", "name"))[0]

    assert product.name == "Product 2" and product.id_default_image is None
    assert product.quantity is None and product.reference == ""
    assert requests_of(sim, "GET /api/products")[0].startswith(
        "GET /api/products?display=[id,name,id_default_image]&filter[id]=[2]"
    )
    assert sim_stats(sim).get("stock_list", 0) == 0


def test_image_ids_can_be_requested_as_an_association(shop, shop_simulator):
    product = shop.fetch_products([1], fields=("image_ids",))[0]
    assert product.image_ids == tuple(i["id"] for i in raw(shop_simulator, "products", 1)["images"])
    assert "images[id]" in requests_of(shop_simulator, "GET /api/products")[0]


def test_unknown_product_fields_are_a_programming_error(shop):
    with pytest.raises(ValueError, match="colour"):
        shop.fetch_products([1], fields=("colour",))


def test_iter_products_since_returns_only_changed_products_with_one_stock_request(shop, shop_simulator):
    since = datetime.now(UTC) - timedelta(seconds=5)
    sim_post(shop_simulator, "mutate", {"products": [4, 7]})
    sim_post(shop_simulator, "reset_stats")

    changed = list(shop.iter_products(since=since))

    assert sorted(p.id for p in changed) == [4, 7]
    stats = sim_stats(shop_simulator)
    assert stats["products_list"] == 1 and stats["stock_list"] == 1
    assert "date=1" in stats["recent"][0] and "filter[date_upd]=[" in stats["recent"][0]


def _order(products):
    return [(p.date_upd, p.id) for p in products]


def test_iter_products_pages_by_keyset_until_a_short_page(shop, shop_simulator):
    products = list(shop.iter_products(page_size=10))

    assert sorted(p.id for p in products) == list(range(1, 26))
    assert _order(products) == sorted(_order(products))
    pages = requests_of(shop_simulator, "GET /api/products")
    assert len(pages) == 3 and sim_stats(shop_simulator)["stock_list"] == 3
    assert all("limit=0,10" in page for page in pages)  # never an offset
    assert "filter[date_upd]" not in pages[0]
    tenth = products[9].date_upd.strftime("%Y-%m-%d %H:%M:%S")
    assert f"filter[date_upd]=[{tenth}," in unquote(pages[1])


def test_a_product_modified_during_the_scan_skips_no_other(shop, shop_simulator):
    """With offsets, the record after a page would slide into that page once a record of it
    moved to the end, and never be read."""
    scan = shop.iter_products(page_size=10)
    first_page = [next(scan) for _ in range(10)]
    sim_post(shop_simulator, "mutate", {"products": [first_page[0].id], "fields": {"reference": "MOVED"}})
    rest = list(scan)

    assert {p.id for p in first_page + rest} == set(range(1, 26))
    assert rest[-1].id == first_page[0].id and rest[-1].reference == "MOVED"


def test_a_second_holding_more_records_than_a_page_is_read_by_id(shop, shop_simulator):
    since = datetime.now(UTC) - timedelta(seconds=5)
    sim_post(shop_simulator, "mutate", {"products": list(range(1, 26)), "fields": {"reference": "BULK"}})
    sim_post(shop_simulator, "reset_stats")

    changed = list(shop.iter_products(since=since, page_size=10))

    assert sorted(p.id for p in changed) == list(range(1, 26)) and len(changed) == 25
    assert _order(changed) == sorted(_order(changed))
    pages = [unquote(line) for line in requests_of(shop_simulator, "GET /api/products")]
    assert any("filter[id]=>[" in page for page in pages)
    assert len(pages) <= 6


def test_a_scan_resumes_after_its_last_record(shop, shop_simulator):
    everything = list(shop.iter_products(page_size=10))
    stop = everything[12]

    resumed = list(shop.iter_products(since=stop.date_upd, after_id=stop.id, page_size=10))

    assert [p.id for p in resumed] == [p.id for p in everything[13:]]


# Images


def test_image_list_uses_xml_and_a_product_without_images_has_none(shop, shop_simulator):
    while raw(shop_simulator, "products", 2)["images"]:
        sim_post(shop_simulator, "products/2/delete_image")

    assert shop.list_product_images(1) == [image["id"] for image in raw(shop_simulator, "products", 1)["images"]]
    assert shop.list_product_images(2) == []
    assert all("output_format" not in line for line in requests_of(shop_simulator, "GET /api/images"))


def test_an_image_downloads_as_a_real_image_with_its_checksum(shop):
    dest = io.BytesIO()
    fetch = shop.download_image(1, shop.list_product_images(1)[0], dest, max_bytes=1_000_000)

    data = dest.getvalue()
    assert fetch.size == len(data) > 0 and not fetch.not_modified
    assert fetch.sha1 == hashlib.sha1(data).hexdigest()
    assert fetch.content_type in ("image/jpeg", "image/png")
    Image.open(io.BytesIO(data)).verify()


def test_an_unchanged_image_is_not_downloaded_again(shop, shop_simulator):
    image_id = shop.list_product_images(1)[0]
    first = shop.download_image(1, image_id, io.BytesIO(), max_bytes=1_000_000)

    dest = io.BytesIO()
    again = shop.download_image(1, image_id, dest, max_bytes=1_000_000, local_sha1=first.sha1)
    assert again.not_modified and dest.getvalue() == b""
    assert sim_stats(shop_simulator)["image_not_modified"] == 1

    sim_post(shop_simulator, "products/1/image", {"mode": "change"})
    changed = shop.download_image(1, image_id, io.BytesIO(), max_bytes=1_000_000, local_sha1=first.sha1)
    assert not changed.not_modified and changed.sha1 != first.sha1


@pytest.mark.parametrize("mode", ["huge", "huge_chunked"])
def test_an_oversized_image_stops_the_download(shop, shop_simulator, mode):
    sim_post(shop_simulator, "products/1/image", {"mode": mode})
    with pytest.raises(ImageTooLarge):
        shop.download_image(1, shop.list_product_images(1)[0], io.BytesIO(), max_bytes=2_000_000)
    assert sim_stats(shop_simulator).get("image_bytes_sent", 0) < 25 * 1024 * 1024


def test_the_size_limit_applies_to_ordinary_images(shop):
    dest = io.BytesIO()
    with pytest.raises(ImageTooLarge):
        shop.download_image(1, shop.list_product_images(1)[0], dest, max_bytes=100)


def test_an_image_missing_on_disk_or_unknown_is_not_found_without_retries(shop, shop_simulator):
    image_id = shop.list_product_images(1)[0]
    sim_post(shop_simulator, "products/1/image", {"mode": "missing"})
    with pytest.raises(PlatformNotFound) as missing:
        shop.download_image(1, image_id, io.BytesIO(), max_bytes=1_000_000)
    assert 61 in missing.value.shop_error_codes
    with pytest.raises(PlatformNotFound):
        shop.download_image(1, 999_999, io.BytesIO(), max_bytes=1_000_000)
    assert sim_stats(shop_simulator)["image_get"] == 2


# Writing


def test_update_product_round_trip(shop, shop_simulator):
    before = raw(shop_simulator, "products", 3)
    updated = shop.update_product(
        3,
        {
            "title": "Espresso cup",
            "price": "12.50",
            "inventory": 42,
            "status": "inactive",
            "sku": "CUP-1",
        },
    )

    after = raw(shop_simulator, "products", 3)
    assert after["name"] == {"1": "Espresso cup", "2": "Espresso cup"}
    assert (after["price"], after["reference"], after["active"], after["quantity"]) == ("12.500000", "CUP-1", "0", "42")
    assert after["description"] == before["description"] and after["date_add"] == before["date_add"]
    assert after["images"] == before["images"] and after["date_upd"] > before["date_upd"]
    assert (updated.name, updated.price, updated.quantity, updated.active) == (
        "Espresso cup",
        Decimal("12.5"),
        42,
        False,
    )
    assert sim_stats(shop_simulator).get("errors", 0) == 0


def test_updating_one_field_leaves_the_others_intact(shop, shop_simulator):
    before = raw(shop_simulator, "products", 4)
    shop.update_product(4, {"price": 9})
    after = raw(shop_simulator, "products", 4)
    assert after["price"] == "9.000000"
    assert {k: v for k, v in after.items() if k not in ("price", "date_upd")} == {
        k: v for k, v in before.items() if k not in ("price", "date_upd")
    }


def test_update_inventory_only_touches_the_stock_row(shop, shop_simulator):
    shop.update_product(5, {"inventory": 3})
    stats = sim_stats(shop_simulator)
    assert raw(shop_simulator, "products", 5)["quantity"] == "3"
    assert stats["stock_write"] == 1 and stats.get("product_write", 0) == 0


def test_a_shop_that_takes_patch_gets_one_patch_of_the_changed_fields(shop, shop_simulator):
    """PrestaShop 8 (the simulator's default version): a PATCH of the product and one of its
    stock, after a first read that tells the shop's version; nothing else is touched."""
    before = {i: raw(shop_simulator, "products", i) for i in (6, 8)}
    updated = shop.update_product(6, {"price": "7.25", "title": "Mug", "inventory": 11})
    assert [line.split("?")[0] for line in sim_stats(shop_simulator)["recent"]] == [
        "GET /api/products/6",  # the first answer tells the version (and the shop's languages)
        "PATCH /api/products/6",
        "GET /api/stock_availables",  # the stock's blank schema: its fields' shapes, once
        "PATCH /api/stock_availables/6",
    ]
    sim_post(shop_simulator, "reset_stats")
    shop.update_product(8, {"description": "Stoneware.", "inventory": 2})

    stats = sim_stats(shop_simulator)
    assert [line.split("?")[0] for line in stats["recent"]] == [
        "PATCH /api/products/8",
        "PATCH /api/stock_availables/8",
    ]
    assert stats.get("product_put", 0) == stats.get("stock_put", 0) == stats.get("errors", 0) == 0
    assert updated == shop.fetch_products([6])[0]
    assert (updated.name, updated.price, updated.quantity) == ("Mug", Decimal("7.25"), 11)
    after = {i: raw(shop_simulator, "products", i) for i in (6, 8)}
    assert after[6]["name"] == {"1": "Mug", "2": "Mug"} and after[8]["description"] == {
        "1": "Stoneware.",
        "2": "Stoneware.",
    }
    unchanged = ("name", "description", "price", "quantity", "date_upd")
    for i in (6, 8):
        assert {k: v for k, v in after[i].items() if k not in unchanged} == {
            k: v for k, v in before[i].items() if k not in unchanged
        }
    assert after[6]["description"] == before[6]["description"] and after[8]["name"] == before[8]["name"]


def test_an_older_shop_gets_the_whole_record_put_back(make_shop_simulator):
    """PrestaShop 1.7 answers PATCH with 405: the record is read and PUT back whole."""
    sim = make_shop_simulator(version="1.7.8.11")
    with httpx.Client(auth=(sim.api_key, "")) as client:
        refused = client.patch(
            f"{sim.url}/api/products/6", content=b"<prestashop><product><id>6</id></product></prestashop>"
        )
    assert refused.status_code == 405 and refused.headers["PSWS-Version"] == "1.7.8.11"
    sim_post(sim, "reset_stats")

    with PrestaShopService(sim.url, sim.api_key) as shop:
        updated = shop.update_product(6, {"price": "7.25", "title": "Mug", "inventory": 11})
        first = sim_stats(sim)
        sim_post(sim, "reset_stats")
        shop.update_product(7, {"price": "1.50"})
        assert updated == shop.fetch_products([6])[0]

    assert (first["product_get"], first["product_put"], first["stock_get"], first["stock_put"]) == (1, 1, 1, 1)
    assert first["total"] == 4 and "product_patch" not in first and "stock_patch" not in first
    assert [line.split("?")[0] for line in sim_stats(sim)["recent"][:2]] == [
        "GET /api/products/7",
        "PUT /api/products/7",
    ]
    assert (updated.name, updated.price, updated.quantity) == ("Mug", Decimal("7.25"), 11)
    assert raw(sim, "products", 6)["name"] == {"1": "Mug", "2": "Mug"}


def test_an_update_without_stock_takes_two_requests(shop, shop_simulator):
    before = shop.fetch_products([7])[0]
    sim_post(shop_simulator, "reset_stats")

    updated = shop.update_product(7, {"description": "Stoneware."})

    assert sim_stats(shop_simulator)["total"] == 2
    assert updated == shop.fetch_products([7])[0]
    assert updated.quantity == before.quantity and updated.date_upd > before.date_upd


def test_create_product(shop, shop_simulator):
    product = shop.create_product(
        {"title": "Teapot", "price": "30", "inventory": 8, "sku": "TEA-1", "description": "Cast iron."}
    )
    state = raw(shop_simulator, "products", product.id)
    assert product.id == 26 and product.quantity == 8 and product.active
    assert product == shop.fetch_products([26])[0]
    assert state["name"] == {"1": "Teapot", "2": "Teapot"} and state["link_rewrite"]["1"] == "teapot"
    assert state["reference"] == "TEA-1" and state["state"] == "1"


def test_invalid_hub_values_are_refused_before_any_request(shop, shop_simulator):
    with pytest.raises(ValueError):
        shop.update_product(1, {"status": "archived"})
    with pytest.raises(ValueError):
        shop.update_product(1, {"colour": "red"})
    assert sim_stats(shop_simulator)["total"] == 0


def test_customers_are_read_updated_and_created(shop, shop_simulator):
    customers = shop.fetch_customers([2, 1])
    assert [c.id for c in customers] == [2, 1] and all("@" in c.email for c in customers)

    sim_post(shop_simulator, "reset_stats")
    updated = shop.update_customer(1, {"email": "ada@example.org", "last_name": "Lovelace"})
    assert (updated.email, updated.last_name) == ("ada@example.org", "Lovelace")
    assert sim_stats(shop_simulator)["total"] == 2 and updated == shop.fetch_customers([1])[0]
    assert raw(shop_simulator, "customers", 1)["firstname"] == customers[1].first_name

    created = shop.create_customer({"email": "new@example.org", "first_name": "New", "last_name": "Comer"})
    assert created.id == 11 and created.active and created.email == "new@example.org"
    assert created == shop.fetch_customers([11])[0]
    assert len(list(shop.iter_customers(page_size=4))) == 11


def test_a_shop_validation_error_is_typed_with_the_shop_message(shop):
    with pytest.raises(PlatformValidationError) as error:
        shop.update_customer(1, {"email": "not an email"})
    assert error.value.shop_error_codes == {85} and "email" in str(error.value)


def test_orders_carry_their_customer(shop, shop_simulator):
    orders = list(shop.iter_orders(page_size=4))
    assert len(orders) == 10
    order = shop.fetch_orders([orders[0].id])[0]
    customer = raw(shop_simulator, "customers", order.customer_id)
    assert order.customer_info == {
        "email": customer["email"],
        "first_name": customer["firstname"],
        "last_name": customer["lastname"],
    }
    state = raw(shop_simulator, "orders", order.id)
    assert order.total == Decimal(state["total_paid"]) and order.status == state["current_state"]


# Failures


def test_a_wrong_key_is_an_auth_error_that_never_shows_the_key(shop_simulator):
    key = "W" * 32
    with PrestaShopService(shop_simulator.url, key) as shop, pytest.raises(PlatformAuthError) as error:
        shop.check_connection()
    assert error.value.shop_error_codes == {20, 21} and error.value.code == "PLATFORM_AUTH_FAILED"
    assert key not in str(error.value) and key not in repr(error.value)
    assert sim_stats(shop_simulator)["auth_failed"] == 1  # not retried


@pytest.mark.parametrize("status", [500, 503, 429])
def test_transient_failures_are_retried(shop, shop_simulator, status):
    sim_post(shop_simulator, "config", {"fail_next": {"count": 2, "status": status, "retry_after": 0}})
    assert len(shop.fetch_products([1, 2])) == 2
    assert sim_stats(shop_simulator)["injected_failures"] == 2


def test_a_lasting_failure_ends_as_a_server_error_after_the_configured_attempts(shop, shop_simulator):
    sim_post(shop_simulator, "config", {"fail_next": {"count": 10, "status": 503}})
    with pytest.raises(PlatformServerError) as error:
        shop.fetch_products([1])
    assert error.value.transient and error.value.status_code == 503
    assert sim_stats(shop_simulator)["injected_failures"] == 3


def test_a_post_is_never_retried(shop, shop_simulator):
    sim_post(shop_simulator, "config", {"fail_next": {"count": 1, "status": 503, "method": "POST"}})
    with pytest.raises(PlatformServerError):
        shop.create_product({"title": "Mug", "price": 5})
    assert sim_stats(shop_simulator).get("product_post", 0) == 0
    assert len(requests_of(shop_simulator, "POST")) == 1


def test_a_slow_shop_times_out(make_shop_simulator, settings):
    settings.PLATFORM_RETRY_ATTEMPTS = 1
    sim = make_shop_simulator(products=2, latency_ms=300)
    with PrestaShopService(sim.url, sim.api_key, timeout=0.05) as shop, pytest.raises(PlatformTimeout) as error:
        shop.fetch_products([1])
    assert error.value.code == "SYNC_TIMEOUT" and error.value.transient


def test_an_html_page_instead_of_json_is_a_bad_response(shop, shop_simulator):
    sim_post(shop_simulator, "config", {"fail_next": {"count": 1, "status": 200, "body": "html"}})
    with pytest.raises(PlatformBadResponse):
        shop.fetch_products([1])


def test_a_missing_product_is_not_found(shop, shop_simulator):
    with pytest.raises(PlatformNotFound):
        shop.update_product(999, {"price": 1})
    assert sim_stats(shop_simulator)["product_get"] == 1


def test_the_key_never_reaches_errors_or_logs(shop_simulator, caplog):
    key = shop_simulator.api_key
    basic = base64.b64encode(f"{key}:".encode()).decode()
    sim_post(shop_simulator, "config", {"fail_next": {"count": 3, "status": 503}})
    errors: list[PlatformError] = []
    with caplog.at_level(logging.DEBUG), PrestaShopService(shop_simulator.url, key) as shop:
        for action in (lambda: shop.fetch_products([1]), lambda: shop.update_product(999, {"price": 1})):
            with pytest.raises(PlatformError) as error:
                action()
            errors.append(error.value)
        shop.fetch_products([1])
        text = " ".join([caplog.text, repr(shop), *(f"{e} {e!r}" for e in errors)])
    assert caplog.records and key not in text and basic not in text


def test_messages_are_redacted():
    error = PlatformError(
        "GET /api/?ws_key=SECRETKEY failed", shop_errors=[ShopError(1, "bad key SECRETKEY")], secrets=["SECRETKEY"]
    )
    assert "SECRETKEY" not in str(error) and "SECRETKEY" not in repr(error)
    assert redact("https://shop/api/?ws_key=abc&x=1") == "https://shop/api/?ws_key=********&x=1"


# The factory


def test_the_factory_builds_the_store_platform_connector(shop_simulator):
    store = SimpleNamespace(platform="prestashop", platform_url=shop_simulator.url, platform_api_key="K" * 32)
    with create_ecommerce_service(store) as service:
        assert isinstance(service, PrestaShopService) and service.base_url == f"{shop_simulator.url}/api/"
        assert "K" * 32 not in repr(service)


@pytest.mark.parametrize(
    ("platform", "url", "error"),
    [
        ("none", "http://127.0.0.1/", PlatformNotConfigured),
        ("", "http://127.0.0.1/", PlatformNotConfigured),
        ("prestashop", "", PlatformNotConfigured),
        ("magento", "http://127.0.0.1/", PlatformUnsupported),
    ],
)
def test_the_factory_refuses_stores_without_a_usable_platform(platform, url, error):
    store = SimpleNamespace(platform=platform, platform_url=url, platform_api_key="K" * 32)
    with pytest.raises(error) as raised:
        create_ecommerce_service(store)
    assert raised.value.http_status == 400
