"""Reading the shop over HTTP: a full sync's windows of ids, read in parallel, give exactly
what the sequential keyset read gives."""

from __future__ import annotations

import math

import pytest

from catalog.platforms import create_ecommerce_service
from storesync.engine.connectors import ShopConnectors
from storesync.engine.entities import ADAPTERS
from storesync.engine.scanning import IdScanner, ShopScanner
from tests.plugins.simulator import sim_post, sim_stats

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("platform_settings")]

PRODUCTS = ADAPTERS["products"]


@pytest.fixture
def sim(make_shop_simulator):
    sim = make_shop_simulator(products=60, customers=0, orders=0)
    sim_post(sim, "mutate", {"products": [5, 17, 44], "fields": {}})  # new prices, and the latest changes
    return sim


@pytest.fixture
def store(make_store, sim):
    return make_store("shop", platform="prestashop", platform_url=sim.url, platform_api_key=sim.api_key)


@pytest.mark.parametrize("concurrency", [1, 4])
def test_windows_of_ids_read_in_parallel_give_the_sequential_read(store, sim, concurrency):
    with create_ecommerce_service(store) as service:
        sequential = list(ShopScanner(PRODUCTS, service, since=None, page_size=7))
        sim_post(sim, "reset_stats")
        connectors = ShopConnectors(store, service, concurrency=concurrency)
        scanner = IdScanner(PRODUCTS, connectors, page_size=7)
        try:
            parallel = list(scanner)
        finally:
            connectors.close()

    assert parallel == sorted(sequential, key=lambda remote: remote.id)  # every value, stock included
    assert scanner.cursor == max(remote.modified for remote in sequential) and scanner.after_id == 60
    stats = sim_stats(sim)
    windows = math.ceil(60 / 7)
    assert stats["products_list"] == windows + 2 * 2  # the windows; the extent, before and after
    assert stats["products_list_rows"] == 60 + 2 * 2 and stats["stock_list"] == windows
    assert all("filter[id]=[" in line for line in stats["recent"] if "display=full" in line)


def test_a_scan_resumes_after_its_last_record_and_reads_records_created_meanwhile(store, sim):
    with create_ecommerce_service(store) as service, create_ecommerce_service(store) as clerk:
        connectors = ShopConnectors(store, service, concurrency=3)
        scanner = IdScanner(PRODUCTS, connectors, page_size=10, after_id=30)
        try:
            ids = []
            for remote in scanner:
                if not ids:
                    clerk.create_product({"title": "New", "price": "3"})  # id 61, after the scan's end
                ids.append(remote.id)
        finally:
            connectors.close()
    assert ids == list(range(31, 62))
