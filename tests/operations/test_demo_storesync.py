"""The demo's store sync shows updates both ways and a pending conflict."""

import pytest

from catalog.models import Product
from operations.demo.storesync import run_demo
from tests.plugins.simulator import sim_get

pytestmark = pytest.mark.django_db


def test_the_demo_syncs_both_ways_and_leaves_a_conflict_for_the_operator(shop_store, sim):
    job, conflicts = run_demo(shop_store, sim.url)
    assert job.status == "succeeded", job.message
    assert job.entity_results["products"]["records_updated"] == 2
    [conflict] = conflicts
    assert conflict.field == "price" and conflict.resolution == ""
    assert (conflict.store_value, conflict.platform_value) == ("19.990000", "17.500000")
    assert Product.objects.get(store=shop_store, id_origin=1).name == "Renamed in the shop"
    assert sim_get(sim, "products/3")["name"]["1"] == "Renamed on the platform"
    again, still = run_demo(shop_store, sim.url)  # make demo twice: same story
    assert again.status == "succeeded" and len(still) == 1
