"""Health metrics from a known history: GET /api/v1/sync/metrics (the spec's block) and the
Prometheus text at /metrics, parsed with prometheus_client's own parser."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from catalog.roles import Role
from storesync.health.metrics import health_metrics
from tests.storesync import history
from tests.storesync.conftest import configure

pytestmark = pytest.mark.django_db


@pytest.fixture
def known(make_store):
    store = make_store("m")
    configure(store, products={})
    for _ in range(8):
        history.finished_job(store, "succeeded", 2)
    history.finished_job(store, "partial", 4)
    history.finished_job(store, "failed", 1)
    history.finished_job(store, "cancelled", 50)  # not counted
    history.finished_job(store, "failed", 1, ago=timedelta(hours=30))  # outside the 24 hours
    history.conflicts(store, 3)
    history.conflicts(store, 2, ago=timedelta(hours=30), first_pk=2000)
    products = history.records_in_sync(store, 10)
    history.drift_one(products[0])
    history.conflicts(store, 1, status="pending", first_pk=products[1].pk)
    history.deliveries(store, succeeded=3, dead=1, pending=2)
    return store


def test_each_metric_from_a_known_history(known):
    from catalog.models import Store

    metrics = health_metrics(Store.objects.filter(pk=known.pk))
    assert metrics == {
        "sync_success_rate": 80.0,  # 8 of 10 finished (the cancelled and the old one left out)
        "avg_sync_duration": "2.2s",  # (8 x 2 s + 4 s) / 9
        "conflicts_per_day": 4,  # 3 + the pending one, within 24 hours
        "data_drift_percentage": 20.0,  # 2 of 10 records differ now: one moved, one pending conflict
        "webhook_delivery_rate": 75.0,  # 3 delivered of 4 settled
    }


def test_an_empty_history_reports_nothing_failed(make_store):
    from catalog.models import Store

    store = make_store("empty")
    assert health_metrics(Store.objects.filter(pk=store.pk)) == {
        "sync_success_rate": 100.0,
        "avg_sync_duration": None,
        "conflicts_per_day": 0,
        "data_drift_percentage": 0.0,
        "webhook_delivery_rate": 100.0,
    }


def test_the_metrics_endpoint_for_one_store_or_all_visible_ones(known, make_store, make_user, api):
    other = make_store("other")
    history.finished_job(other, "failed", 1)
    admin = make_user("admin", role=Role.ADMIN)
    one = api(admin).get(f"/api/v1/sync/metrics?store_id={known.uuid}")
    assert one.status_code == 200
    assert one.json()["data"]["store_id"] == known.pk and one.json()["data"]["metrics"]["sync_success_rate"] == 80.0
    every = api(admin).get("/api/v1/sync/metrics/").json()["data"]
    assert every["store_id"] is None and every["metrics"]["sync_success_rate"] == round(100 * 8 / 11, 1)
    viewer = make_user("viewer", role=Role.VIEWER, stores=[known])
    assert api(viewer).get("/api/v1/sync/metrics").json()["data"]["metrics"]["sync_success_rate"] == 80.0
    assert api(viewer).get(f"/api/v1/sync/metrics?store_id={other.pk}").status_code == 404
    assert api(None).get("/api/v1/sync/metrics").status_code == 401
    assert api(admin).get("/api/v1/sync/metrics?store_id=nope").json()["code"] == "VALIDATION_ERROR"


def samples(text: str) -> dict[tuple, float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_prometheus_text(known, client, settings):
    response = client.get("/metrics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain")
    values = samples(response.content.decode())
    assert values[("rsh_jobs", (("kind", "store_sync"), ("status", "succeeded")))] == 8
    assert values[("rsh_jobs", (("kind", "store_sync"), ("status", "failed")))] == 2
    assert values[("rsh_job_duration_seconds_count", (("kind", "store_sync"),))] == 11
    assert values[("rsh_job_duration_seconds_bucket", (("kind", "store_sync"), ("le", "5.0")))] == 10
    assert values[("rsh_sync_conflicts", (("status", "pending"),))] == 1
    assert values[("rsh_webhook_deliveries", (("status", "dead"),))] == 1
    assert values[("rsh_sync_records_drifted", ())] == 2
    assert values[("rsh_sync_records_in_sync", ())] == 10
    assert ("rsh_nas_documents_pending", ()) in values
    settings.METRICS_TOKEN = "scrape-token"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token").status_code == 200
