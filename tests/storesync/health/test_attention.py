"""What waits for a person is never reported as healthy: pending manual conflicts and dead
letters make the store's ``overall_status`` ``needs_attention``, and a job that leaves
conflicts pending says so in its result, its history summary and the admin."""

from __future__ import annotations

import pytest

from catalog.roles import Role
from storesync import resolution, selectors, services
from storesync.models import DeadLetter, StoreSyncJob, SyncConflict
from tests.plugins.simulator import sim_post
from tests.storesync.conftest import configure, edit_platform, platform_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(api, make_user, shop_store):
    return api(make_user("operator", role=Role.OPERATOR, stores=[shop_store]))


def status_of(operator, store) -> dict:
    response = operator.get(f"/api/v1/stores/{store.pk}/sync/status")
    assert response.status_code == 200, response.content
    return response.json()["data"]


def leave_three_conflicts(store, sim) -> StoreSyncJob:
    configure(store, products={"conflict_resolution": "manual_resolution"})
    services.run_sync_now(store, sync_type="full")
    for shop_id in (2, 3, 4):
        sim_post(sim, "mutate", {"products": [shop_id], "fields": {"price": "11.110000"}})
        edit_platform(platform_product(store, shop_id), price="22.220000")
    return services.run_sync_now(store)


def test_pending_manual_conflicts_need_attention_until_settled(operator, shop_store, sim):
    leave_three_conflicts(shop_store, sim)
    waiting = selectors.awaiting_human(shop_store)
    assert (waiting.conflicts, waiting.dead_letters, waiting.held_jobs, waiting.total) == (3, 0, 0, 3)
    status = status_of(operator, shop_store)
    assert status["overall_status"] == "needs_attention"
    assert status["awaiting_human"] == {"conflicts": 3, "dead_letters": 0, "held_jobs": 0}

    for conflict in SyncConflict.objects.filter(store=shop_store, status="pending"):
        resolution.resolve_conflict(conflict, resolution="use_store_value")
    assert not selectors.awaiting_human(shop_store)
    status = status_of(operator, shop_store)
    assert status["overall_status"] == "healthy"
    assert status["awaiting_human"] == {"conflicts": 0, "dead_letters": 0, "held_jobs": 0}


def test_pending_dead_letters_need_attention(operator, shop_store, sim):
    configure(shop_store, products={})
    services.run_sync_now(shop_store, sync_type="full")
    edit_platform(platform_product(shop_store, 2), price="21.000000")
    sim_post(sim, "config", {"fail_next": {"count": 1, "status": 400, "method": "PATCH"}})
    services.run_sync_now(shop_store)
    assert DeadLetter.objects.filter(store=shop_store, status="pending").count() == 1
    assert selectors.awaiting_human(shop_store).dead_letters == 1
    assert status_of(operator, shop_store)["overall_status"] == "needs_attention"


def test_a_job_that_leaves_conflicts_pending_says_so(operator, console, shop_store, sim):
    job = leave_three_conflicts(shop_store, sim)
    assert job.status == "succeeded"  # the spec's status words stay: the job did its work
    assert job.result["conflicts_pending"] == 3
    assert "3 conflicts wait" in job.message
    detail = operator.get(f"/api/v1/sync/jobs/{job.pk}").json()["data"]
    assert detail["status"] == "completed" and "3 conflicts wait" in detail["message"]
    history = operator.get(f"/api/v1/stores/{shop_store.pk}/sync/history").json()["data"][0]
    assert history["summary"]["conflicts_pending"] == 3
    page = console.get("/admin/storesync/storesyncjob/").content.decode()
    assert 'data-state="succeeded"' in page and "3 conflicts wait for a manual resolution." in page
