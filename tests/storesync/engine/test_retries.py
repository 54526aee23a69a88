"""Shop failures against the simulator: record writes retried with exponential backoff and
jitter (at most 5 attempts), what still fails dead-lettered, and the seed's error codes
(``RATE_LIMIT_EXCEEDED``, ``SYNC_TIMEOUT``, ``NETWORK_ERROR``, ``INVALID_DATA_FORMAT``) in
the job's errors and in the API."""

from __future__ import annotations

import pytest

from catalog.platforms import create_ecommerce_service
from catalog.roles import Role
from storesync import services
from storesync.engine.entities import ADAPTERS
from storesync.engine.shop_writer import ShopWriter, WriteOp, backoff_delay
from storesync.models import DeadLetter
from tests.plugins.simulator import sim_post, sim_stats
from tests.storesync.conftest import configure, edit_platform, platform_product

pytestmark = pytest.mark.django_db


def synced(store):
    configure(store, products={})
    job = services.run_sync_now(store, sync_type="full")
    assert job.status == "succeeded", job.message


def job_view(api, make_user, store, job) -> dict:
    client = api(make_user("operator", role=Role.OPERATOR, stores=[store]))
    response = client.get(f"/api/v1/sync/jobs/{job.pk}")
    assert response.status_code == 200, response.content
    return response.json()["data"]


def test_backoff_doubles_with_jitter_and_is_capped():
    for attempt in range(1, 6):
        delays = [backoff_delay(attempt, 2.0) for _ in range(200)]
        nominal = 2.0 * 2 ** (attempt - 1)
        assert all(0.5 * nominal <= d <= 1.5 * nominal for d in delays)
        assert len(set(delays)) > 150  # jitter: retries of many records do not fall in step
    assert backoff_delay(30, 2.0) <= 1.5 * 60


def test_a_write_is_attempted_five_times_with_growing_jittered_waits(shop_store, sim, settings):
    settings.PLATFORM_RETRY_ATTEMPTS = 1  # the connector's own retries off: one request per attempt
    sim_post(sim, "config", {"fail_next": {"count": 50, "status": 503, "method": "PATCH"}})
    waits: list[float] = []
    with create_ecommerce_service(shop_store) as service:
        writer = ShopWriter(shop_store, service, concurrency=1, backoff=0.5, sleep=waits.append)
        [outcome] = writer.run(ADAPTERS["products"], [WriteOp("update", 2, {"price": "5.000000"})])

    assert not outcome.ok and outcome.attempts == 5 and outcome.transient
    assert outcome.code == "PLATFORM_SERVER_ERROR"
    assert sim_stats(sim)["injected_failures"] == 5
    assert len(waits) == 4
    for attempt, wait in enumerate(waits, 1):
        assert 0.5 * 0.5 * 2 ** (attempt - 1) <= wait <= 1.5 * 0.5 * 2 ** (attempt - 1)
    assert waits[3] > waits[0]


def test_a_refused_write_is_not_retried(shop_store, sim, settings):
    settings.PLATFORM_RETRY_ATTEMPTS = 1
    sim_post(sim, "config", {"fail_next": {"count": 5, "status": 400, "method": "PATCH"}})
    waits: list[float] = []
    with create_ecommerce_service(shop_store) as service:
        writer = ShopWriter(shop_store, service, concurrency=1, sleep=waits.append)
        [outcome] = writer.run(ADAPTERS["products"], [WriteOp("update", 2, {"price": "5.000000"})])
    assert (outcome.attempts, outcome.code, waits) == (1, "INVALID_DATA_FORMAT", [])


def test_rate_limited_writes_are_dead_lettered_as_rate_limit_exceeded(shop_store, sim, api, make_user):
    synced(shop_store)
    edit_platform(platform_product(shop_store, 2), price="21.000000")
    sim_post(sim, "config", {"fail_next": {"count": 40, "status": 429, "retry_after": 0, "method": "PATCH"}})
    job = services.run_sync_now(shop_store)

    assert job.status == "partial"
    letter = DeadLetter.objects.get()
    assert (letter.code, letter.attempts, letter.payload) == ("RATE_LIMIT_EXCEEDED", 5, {"price": "21.000000"})
    data = job_view(api, make_user, shop_store, job)
    assert data["status"] == "partial" and data["results"]["products"]["errors"] == 1
    assert [(e["code"], e["shop_id"], e["operation"]) for e in data["errors"]] == [
        ("RATE_LIMIT_EXCEEDED", 2, "update_store")
    ]


def test_a_shop_that_never_answers_in_time_fails_the_job_with_sync_timeout(shop_store, sim, settings, api, make_user):
    synced(shop_store)
    settings.PLATFORM_TIMEOUT, settings.PLATFORM_RETRY_ATTEMPTS = 0.2, 1
    sim_post(sim, "config", {"latency_ms": 600})
    job = services.run_sync_now(shop_store)
    sim_post(sim, "config", {"latency_ms": 0})

    assert job.status == "failed" and job.retries == 4
    assert job.message.startswith("SYNC_TIMEOUT") and "gave up after 5 attempts" in job.message
    assert job_view(api, make_user, shop_store, job)["message"].startswith("SYNC_TIMEOUT")


def test_an_unreachable_shop_fails_the_job_with_network_error(shop_store, sim, settings):
    synced(shop_store)
    settings.PLATFORM_RETRY_ATTEMPTS = 1
    sim.shutdown()
    job = services.run_sync_now(shop_store)

    assert job.status == "failed" and job.retries == 4
    assert job.message.startswith("NETWORK_ERROR")


def test_a_shop_that_recovers_within_the_retries_loses_nothing(shop_store, sim, settings):
    synced(shop_store)
    settings.PLATFORM_RETRY_ATTEMPTS = 1
    edit_platform(platform_product(shop_store, 3), price="31.000000")
    sim_post(sim, "config", {"fail_next": {"count": 3, "status": 503}})  # the first reads fail: the job retries
    job = services.run_sync_now(shop_store)

    assert job.status == "succeeded" and job.retries >= 1
    assert not DeadLetter.objects.exists()
    from tests.plugins.simulator import sim_get

    assert sim_get(sim, "products/3")["price"] == "31.000000"


def test_a_failed_job_carries_its_error_code_in_its_own_column(shop_store, sim, settings):
    synced(shop_store)
    settings.PLATFORM_TIMEOUT, settings.PLATFORM_RETRY_ATTEMPTS = 0.2, 1
    sim_post(sim, "config", {"latency_ms": 600})
    job = services.run_sync_now(shop_store)
    sim_post(sim, "config", {"latency_ms": 0})

    assert job.status == "failed" and job.error_code == "SYNC_TIMEOUT"
    assert job.message.startswith("SYNC_TIMEOUT: ")  # the text the API shows is unchanged


def test_the_sync_failed_event_reads_the_code_from_the_job_not_its_message(shop_store):
    from operations.events import finished_message

    configure(shop_store, products={})
    job = services.trigger_sync(shop_store, send=False)
    job.status, job.message, job.error_code = "failed", "The worker running this job stopped reporting.", "SYNC_TIMEOUT"
    assert finished_message(job)["data"]["code"] == "SYNC_TIMEOUT"
    job.message, job.error_code = "ValueError: boom", ""
    assert finished_message(job)["data"]["code"] is None
