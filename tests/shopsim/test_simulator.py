"""The shop simulator speaks the PrestaShop webservice as real shops do."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest
from PIL import Image

from shopsim import DEMO_API_KEY, ShopSimulator
from tests.plugins.simulator import sim_get, sim_post, sim_stats


@pytest.fixture
def api(shop_simulator):
    with httpx.Client(base_url=f"{shop_simulator.url}/api/", auth=(shop_simulator.api_key, "")) as client:
        yield client


def shop_errors(response):
    if response.headers["Content-Type"].startswith("application/json"):
        return [error["code"] for error in response.json()["errors"]]
    return [int(code.text) for code in ET.fromstring(response.content).iterfind("./errors/error/code")]


def product_xml(api, product_id):
    return ET.fromstring(api.get(f"products/{product_id}").content)


def put_product(api, root):
    return api.put(f"products/{root.findtext('product/id')}", content=ET.tostring(root))


# Formats


def test_xml_is_the_default_and_only_exact_json_selects_json(api):
    assert api.get("products").headers["Content-Type"].startswith("text/xml")
    assert api.get("products", params={"output_format": "json"}).headers["Content-Type"].startswith("text/xml")
    assert api.get("products", params={"output_format": "JSON"}).json()["products"][0] == {"id": 1}
    assert api.get("products", headers={"Io-Format": "JSON"}).headers["Content-Type"] == "application/json"


def test_a_single_product_in_json_drops_falsy_fields_and_lists_keep_them(api):
    single = api.get("products/1", params={"output_format": "JSON"}).json()["product"]
    listed = api.get("products", params={"output_format": "JSON", "display": "full", "filter[id]": "[1]"}).json()
    assert "ean13" not in single and listed["products"][0]["ean13"] == ""
    assert single["name"] == [{"id": "1", "value": "Product 1"}, {"id": "2", "value": "Produit 1"}]


def test_a_product_without_images_has_an_empty_cover(make_shop_simulator):
    sim = make_shop_simulator(products=1, no_image_ratio=1.0)
    body = httpx.get(f"{sim.url}/api/products/1", auth=(sim.api_key, "")).text
    assert '<id_default_image notFilterable="true"></id_default_image>' in body
    assert '<images nodeType="image" api="images"/>' in body


def test_a_missing_record_is_404_with_an_empty_body(api):
    response = api.get("products/999")
    assert response.status_code == 404 and response.content == b""


def test_bodies_carry_a_sha1_and_a_matching_local_sha1_is_304(api):
    response = api.get("products/1")
    assert response.headers["Content-Sha1"] == hashlib.sha1(response.content).hexdigest()
    again = api.get("products/1", headers={"Local-Content-Sha1": response.headers["Content-Sha1"]})
    assert again.status_code == 304 and again.content == b""


# Authentication


def test_no_credentials_is_a_plain_text_401(shop_simulator):
    response = httpx.get(f"{shop_simulator.url}/api/products")
    assert (response.status_code, response.text) == (401, "401 Unauthorized")
    assert response.headers["WWW-Authenticate"].startswith('Basic realm="Welcome to PrestaShop Webservice')


@pytest.mark.parametrize(("key", "codes"), [("", [17]), ("short", [18]), ("W" * 32, [20, 21])])
def test_bad_keys_get_the_prestashop_error_codes(shop_simulator, key, codes):
    response = httpx.get(f"{shop_simulator.url}/api/products", auth=(key, ""))
    assert response.status_code == 401 and shop_errors(response) == codes
    assert "WWW-Authenticate" in response.headers and "PSWS-Version" not in response.headers


def test_the_key_may_be_a_ws_key_parameter(shop_simulator):
    response = httpx.get(f"{shop_simulator.url}/api/products", params={"ws_key": shop_simulator.api_key})
    assert response.status_code == 200 and response.headers["PSWS-Version"]


# Lists and filters


def list_ids(api, **params):
    body = api.get("products", params={"output_format": "JSON", **params}).json()
    return [] if body == [] else [p["id"] for p in body["products"]]


def test_date_filters_and_sorts_need_date_1(api):
    since = {"filter[date_upd]": ">[2024-01-01 00:00:00]"}
    assert shop_errors(api.get("products", params=since)) == [32]
    assert shop_errors(api.get("products", params={"sort": "[date_upd_ASC]"})) == [38]
    assert len(list_ids(api, date="1", **since)) == 25


def test_filter_forms(api, shop_simulator):
    dates = sorted((sim_get(shop_simulator, f"products/{i}")["date_upd"], i) for i in (3, 9))
    between = f"[{dates[0][0]},{dates[1][0]}]"
    inside = list_ids(api, date="1", **{"filter[date_upd]": between})
    assert {3, 9} <= set(inside)  # BETWEEN is inclusive at both ends

    middle = dates[0][0]
    after = list_ids(api, date="1", **{"filter[date_upd]": f">[{middle}]"})
    before = list_ids(api, date="1", **{"filter[date_upd]": f"<[{middle}]"})
    at = list_ids(api, date="1", **{"filter[date_upd]": f"[{middle},{middle}]"})
    assert dates[0][1] in at and dates[1][1] in after and dates[0][1] not in after + before  # strict bounds
    assert sorted(after + before + at) == list(range(1, 26))

    assert list_ids(api, **{"filter[id]": "[3|5|7]"}) == [3, 5, 7]
    assert list_ids(api, **{"filter[id]": "![1|2]", "limit": "2"}) == [3, 4]
    assert list_ids(api, **{"filter[name]": "%[duit 1]%"}) == [1, *range(10, 20)]
    assert list_ids(api, **{"filter[reference]": "REF00004"}) == [4]


def test_sort_and_limit(api):
    assert list_ids(api, sort="[id_DESC]", limit="3") == [25, 24, 23]
    assert list_ids(api, sort="[id_ASC]", limit="20,10") == [21, 22, 23, 24, 25]
    assert shop_errors(api.get("products", params={"limit": "1,2,3"})) == [39]
    assert shop_errors(api.get("products", params={"sort": "[id_UP]"})) == [37]


def test_id_ranges_compare_numbers(api, shop_simulator):
    assert list_ids(api, **{"filter[id]": "[8,12]"}) == [8, 9, 10, 11, 12]  # "12" < "8" as text
    assert list_ids(api, **{"filter[id]": "[12,8]"}) == [8, 9, 10, 11, 12]
    assert list_ids(api, **{"filter[id]": ">[22]"}) == [23, 24, 25]
    assert list_ids(api, **{"filter[id]": "<[3]", "sort": "[id_DESC]"}) == [2, 1]


def _scan(shop, resource, filters, sort, limit):
    """The answer by brute force: every record tested, then sorted (the indexes' reference)."""
    from shopsim.schema import RESOURCES, compile_filter, field_sort_key
    from shopsim.state import _date_range

    resource = RESOURCES[resource]
    records = shop.records[resource.name]
    tests = [(name, _date_range(resource, name, e) or compile_filter(e)) for name, e in filters.items()]
    ids = [i for i in sorted(records) if all(test(records[i][name]) for name, test in tests)]
    for name, descending in reversed(sort):
        key = field_sort_key(resource.field(name))
        ids.sort(key=lambda i, name=name, key=key: key(records[i][name]), reverse=descending)
    offset, count = limit
    return ids[offset : None if count is None else offset + count]


def test_indexed_queries_answer_as_a_scan_would():
    """Lists are found through sorted indexes (O(log n) a page); the answers are those of a
    scan and sort of every record, after writes, creates and image changes too."""
    from shopsim.schema import PRODUCTS

    shop = ShopSimulator(products=300, customers=0, orders=0, seed=5)
    shop.mutate(list(range(1, 300, 7)), 0, {})  # new prices, now as date_upd: many in one second
    shop.write(PRODUCTS, "POST", {"price": "3", "name": {1: "New", 2: "Nouveau"}}, None)
    shop.set_image_mode(5, "add")
    dates = sorted(record["date_upd"] for record in shop.records["products"].values())
    low, middle, high = dates[10], dates[150], dates[-1]
    queries = [
        ({}, [], (0, None)),
        ({}, [("id", True)], (5, 20)),
        ({"filter[id]": "[40,140]"}, [], (0, 30)),
        ({"filter[id]": ">[250]"}, [("id", True)], (0, 10)),
        ({"filter[id]": "<[20]", "active": "[1]"}, [("price", False)], (0, None)),
        ({"date_upd": f"[{low},9999-12-31 23:59:59]"}, [("date_upd", False), ("id", False)], (0, 100)),
        ({"date_upd": f"[{middle},{middle}]", "id": ">[100]"}, [("id", False)], (0, 100)),
        ({"date_upd": f">[{middle}]"}, [("date_upd", False)], (3, 50)),
        ({"date_upd": f"<[{middle}]"}, [("date_upd", True), ("id", True)], (0, 40)),
        ({"date_upd": f"<[{high}]"}, [("date_upd", True)], (0, 40)),
        ({"date_upd": f"[{low},{high}]", "id": "[100,200]"}, [("date_upd", False), ("id", False)], (0, 30)),
        ({"reference": "%[REF001]%"}, [("date_upd", False)], (0, None)),
    ]
    for filters, sort, limit in queries:
        filters = {name.removeprefix("filter[").removesuffix("]"): value for name, value in filters.items()}
        got = shop.query(PRODUCTS, filters, sort, limit, dates=True)
        assert got == _scan(shop, "products", filters, sort, limit), (filters, sort, limit)
        assert got or filters.get("id") == "<[20]", (filters, sort, limit)


def test_display_rules(api):
    assert shop_errors(api.get("products", params={"filter[id_default_image]": "[1]"})) == [34]
    assert shop_errors(api.get("products", params={"display": "[id,colour]"})) == [35]
    assert shop_errors(api.get("products", params={"display": "[associations]"})) == [35]
    item = api.get("products", params={"output_format": "JSON", "display": "[id,images[id]]", "limit": "1"}).json()
    assert set(item["products"][0]) == {"id", "associations"}


def test_stock_availables_filter_by_product(api):
    rows = api.get(
        "stock_availables",
        params={
            "output_format": "JSON",
            "display": "[id,id_product,quantity]",
            "filter[id_product]": "[2|4]",
            "filter[id_product_attribute]": "[0]",
        },
    ).json()["stock_availables"]
    assert [row["id_product"] for row in rows] == ["2", "4"]


# Writes


def test_put_with_read_only_fields_is_error_93(api):
    response = put_product(api, product_xml(api, 1))
    assert response.status_code == 400 and shop_errors(response) == [93]


def test_put_wipes_omitted_fields_and_requires_price(api, shop_simulator):
    root = product_xml(api, 2)
    product = root.find("product")
    for name in ("manufacturer_name", "quantity", "reference"):
        product.remove(product.find(name))
    assert put_product(api, root).status_code == 200
    assert sim_get(shop_simulator, "products/2")["reference"] == ""

    product.remove(product.find("price"))
    response = put_product(api, root)
    assert response.status_code == 400 and shop_errors(response) == [41]


def test_put_takes_the_id_from_the_body_and_post_refuses_one(api):
    body = b"<prestashop><product><price>1</price></product></prestashop>"
    assert shop_errors(api.put("products/1", content=body)) == [90]
    with_id = b"<prestashop><product><id>1</id><price>1</price></product></prestashop>"
    assert shop_errors(api.post("products", content=with_id)) == [91]


def test_post_creates_a_product_with_its_stock_row(api, shop_simulator):
    body = (
        b'<prestashop><product><price>3</price><name><language id="1">Tray</language>'
        b'<language id="2">Plateau</language></name></product></prestashop>'
    )
    response = api.post("products", content=body)
    assert response.status_code == 201
    created = sim_get(shop_simulator, "products/26")
    assert created["name"] == {"1": "Tray", "2": "Plateau"} and created["link_rewrite"]["2"] == "plateau"
    assert created["quantity"] == "0"


def test_stock_can_be_patched_but_orders_are_read_only(api, shop_simulator):
    response = api.patch(
        "stock_availables/3",
        content=b"<prestashop><stock_available><id>3</id><quantity>11</quantity></stock_available></prestashop>",
    )
    assert response.status_code == 200
    assert sim_get(shop_simulator, "products/3")["quantity"] == "11"
    assert shop_errors(api.put("orders/1", content=b"<prestashop/>")) == [25]


# Images


def test_delete_removes_a_record_from_the_lists_and_its_indexes(api, shop_simulator):
    assert api.delete("products/4").status_code == 200
    assert api.get("products/4").status_code == 404
    assert api.delete("products/4").status_code == 404
    assert api.delete("products").status_code == 400  # no id
    ids = api.get("products", params={"display": "[id]", "sort": "[id_ASC]", "filter[id]": ">[2]", "limit": "0,3"})
    assert [int(row.text) for row in ET.fromstring(ids.content).iterfind("./products/product/id")] == [3, 5, 6]
    stock = api.get("stock_availables", params={"display": "[id]", "filter[id_product]": "[4]"})
    assert ET.fromstring(stock.content).find("./stock_availables/stock_available") is None
    by_date = api.get("products", params={"display": "[id]", "date": "1", "sort": "[date_upd_ASC,id_ASC]"})
    assert "4" not in [row.text for row in ET.fromstring(by_date.content).iterfind("./products/product/id")]
    assert api.delete("customers/2").status_code == 200 and api.get("customers/2").status_code == 404
    assert api.delete("orders/1").status_code == 405  # orders are read only
    assert sim_post(shop_simulator, "products/5/delete") == {"deleted": 5}
    assert api.get("products/5").status_code == 404
    assert sim_stats(shop_simulator)["product_delete"] == 2
    with pytest.raises(httpx.HTTPStatusError):
        sim_post(shop_simulator, "products/5/delete")


def test_an_id_is_never_given_twice_even_after_a_delete(api, shop_simulator):
    """Found by the engine's property model: the simulator gave a deleted product's id to the
    next new one, which a shop on MySQL's AUTO_INCREMENT does not."""
    body = b'<prestashop><product><price>3</price><name><language id="1">Tray</language></name></product></prestashop>'
    assert api.post("products", content=body).status_code == 201
    sim_post(shop_simulator, "products/26/delete")
    assert api.post("products", content=body).status_code == 201
    assert sim_get(shop_simulator, "products/27")["name"]["1"] == "Tray"
    assert httpx.get(f"{shop_simulator.url}/_sim/products/26").status_code == 404


def test_images_list_binary_and_errors(api, shop_simulator):
    declinations = ET.fromstring(api.get("images/products/1").content).findall("./image/declination")
    image_id = int(declinations[0].get("id"))
    binary = api.get(f"images/products/1/{image_id}")
    Image.open(io.BytesIO(binary.content)).verify()
    assert binary.headers["Content-Type"] in ("image/jpeg", "image/png")

    assert shop_errors(api.get("images/products/1/999999")) == [57]
    assert api.get("images/products/1", params={"output_format": "JSON"}).status_code == 500

    while sim_get(shop_simulator, "products/1")["images"]:
        sim_post(shop_simulator, "products/1/delete_image")
    response = api.get("images/products/1")
    assert response.status_code == 404 and response.content == b""


def test_image_modes(api, shop_simulator):
    image_id = int(ET.fromstring(api.get("images/products/1").content).find("./image/declination").get("id"))
    url = f"images/products/1/{image_id}"
    original = api.get(url).content

    sim_post(shop_simulator, "products/1/image", {"mode": "change"})
    assert api.get(url).content != original
    sim_post(shop_simulator, "products/1/image", {"mode": "html"})
    html = api.get(url)
    assert html.headers["Content-Type"] == "image/jpeg" and html.content.startswith(b"<!DOCTYPE html>")
    sim_post(shop_simulator, "products/1/image", {"mode": "corrupt"})
    with pytest.raises(OSError):
        Image.open(io.BytesIO(api.get(url).content)).load()
    sim_post(shop_simulator, "products/1/image", {"mode": "missing"})
    assert shop_errors(api.get(url)) == [61]


def test_generated_data_and_images_are_deterministic():
    first, second = ShopSimulator(products=5, seed=7), ShopSimulator(products=5, seed=7)
    assert first.records == second.records
    pid = next(pid for pid, images in first.images.items() if images)
    assert first.image_bytes(pid, first.images[pid][0]) == second.image_bytes(pid, second.images[pid][0])
    assert ShopSimulator(products=5, seed=8).records != first.records


# Control API


def test_stats_count_requests_by_kind_and_reset(api, shop_simulator):
    api.get("products")
    api.get("products/1")
    stats = sim_stats(shop_simulator)
    assert (stats["total"], stats["products_list"], stats["product_get"]) == (2, 1, 1)
    assert stats["recent"] == ["GET /api/products", "GET /api/products/1"]
    sim_post(shop_simulator, "reset_stats")
    assert sim_stats(shop_simulator)["total"] == 0


def test_config_injects_failures_and_changes_the_key(api, shop_simulator):
    sim_post(shop_simulator, "config", {"fail_next": {"count": 1, "status": 503, "retry_after": 2}})
    failed = api.get("products")
    assert failed.status_code == 503 and failed.headers["Retry-After"] == "2"
    assert api.get("products").status_code == 200

    config = sim_post(shop_simulator, "config", {"api_key": "N" * 32, "latency_ms": 1})
    assert config["latency_ms"] == 1 and api.get("products").status_code == 401


def test_a_failure_after_the_work_carries_the_request_out_and_loses_its_answer(api, shop_simulator):
    sim_post(shop_simulator, "config", {"fail_next": {"status": 504, "method": "PATCH", "after": True}})
    body = "<prestashop><product><id>6</id><reference>LOST-1</reference></product></prestashop>"
    lost = api.patch("products/6", content=body)
    assert lost.status_code == 504
    assert sim_get(shop_simulator, "products/6")["reference"] == "LOST-1"


def test_a_failure_rate_fails_some_requests(make_shop_simulator):
    sim = make_shop_simulator(products=1, failure_rate=0.5, seed=1)
    with httpx.Client(auth=(sim.api_key, "")) as client:
        statuses = {client.get(f"{sim.url}/api/products").status_code for _ in range(20)}
    assert statuses == {200, 503}


def test_mutate_bumps_date_upd_and_changes_values(shop_simulator):
    before = sim_get(shop_simulator, "products/6")
    result = sim_post(shop_simulator, "mutate", {"products": [6], "fields": {"name": "Renamed", "quantity": 5}})
    after = sim_get(shop_simulator, "products/6")
    assert result == {"mutated": [6]}
    assert after["date_upd"] > before["date_upd"] and after["name"]["2"] == "Renamed" and after["quantity"] == "5"
    assert len(sim_post(shop_simulator, "mutate", {"count": 3})["mutated"]) == 3


def test_unknown_control_requests_are_json_errors(shop_simulator):
    response = httpx.get(f"{shop_simulator.url}/_sim/nothing")
    assert response.status_code == 404 and "error" in response.json()


def test_the_command_line_starts_a_shop():
    process = subprocess.Popen(
        [sys.executable, "-m", "shopsim", "--port", "0", "--products", "3"],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        banner = process.stdout.readline()
        base = banner.split(" on ", 1)[1].split("/api/", 1)[0]
        response = httpx.get(f"{base}/api/products", params={"output_format": "JSON"}, auth=(DEMO_API_KEY, ""))
        assert json.loads(response.text) == {"products": [{"id": 1}, {"id": 2}, {"id": 3}]}
    finally:
        process.terminate()
        process.wait(timeout=10)
