"""Fixtures of the integration suites: the fault stack (tests/plugins/faults.py) and shops."""

from __future__ import annotations

import pytest

from catalog.models import Store
from catalog.services import import_products_now
from tests.plugins.faults import fault_stack, in_process  # noqa: F401  (fixture)


@pytest.fixture
def make_shop_store(platform_settings):
    """``make_shop_store(sim, code)``: a store on the simulator, its catalogue imported in-process."""

    def make(sim, code: str = "shop") -> Store:
        store = Store.objects.create(
            code=code, name=code.title(), platform="prestashop", platform_url=sim.url, platform_api_key=sim.api_key
        )
        with in_process():
            job = import_products_now(store)
        assert job.status == "succeeded", job.message
        return store

    return make
