"""Alert rules: each opens once when its condition holds, stays open while it holds, and
resolves when it clears; notifications by e-mail and to the alert webhook; the API and
the admin (thresholds, acknowledge); the beat entries."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from catalog.roles import Role
from storesync.health import alerts
from storesync.health.models import Alert, AlertRule
from storesync.models import SyncRecordState
from tests.storesync import history
from tests.storesync.conftest import configure

pytestmark = pytest.mark.django_db


@pytest.fixture
def store(make_store, settings):
    settings.STORESYNC_ALERT_EMAILS = ["ops@example.com"]
    store = make_store("watched")
    configure(store, products={})
    return store


def run(store, key, now=None):
    return alerts.evaluate(AlertRule.objects.get(key=key), store, now or timezone.now())


def open_alerts(store, key):
    return Alert.objects.filter(store=store, rule__key=key, status="open")


def lifecycle(store, key, *, make_it_hold, make_it_clear, now_after=None):
    """Opens once, holds (one open alert, no second mail), resolves."""
    make_it_hold()
    assert run(store, key) == "opened"
    assert run(store, key) is None  # still holding: the same alert, no new one
    assert open_alerts(store, key).count() == 1
    opened_mails = [m for m in mail.outbox if "ALERT" in m.subject]
    assert len(opened_mails) == 1 and opened_mails[0].to == ["ops@example.com"]
    make_it_clear()
    assert run(store, key, now_after) == "resolved"
    assert not open_alerts(store, key).exists()
    alert = Alert.objects.get(store=store, rule__key=key)
    assert alert.status == "resolved" and alert.resolved_at
    assert any("Resolved" in m.subject for m in mail.outbox)
    return alert


def test_the_spec_conditions_are_the_default_rules():
    rules = {r.key: (r.threshold, r.window_minutes) for r in AlertRule.objects.all()}
    assert rules == {
        "sync_failure_rate": (5.0, 1440),
        "conflicts_per_hour": (10.0, 60),
        "sync_duration": (30.0, 60),
        "data_drift": (1.0, 0),
        "webhook_failures": (3.0, 0),
    }
    tasks = set(PeriodicTask.objects.values_list("task", flat=True))
    assert {"storesync.tasks.evaluate_alerts", "storesync.tasks.dispatch_webhooks"} <= tasks


def test_failure_rate_above_5_percent(store):
    def hold():
        for _ in range(18):
            history.finished_job(store, "succeeded", 1)
        history.finished_job(store, "failed", 1)
        history.finished_job(store, "failed", 1)  # 2 of 20: 10%

    def clear():
        for _ in range(20):
            history.finished_job(store, "succeeded", 1)  # 2 of 40: 5%, not above

    alert = lifecycle(store, "sync_failure_rate", make_it_hold=hold, make_it_clear=clear)
    assert alert.threshold == 5.0 and alert.value == 5.0


def test_more_than_10_conflicts_an_hour(store):
    lifecycle(
        store,
        "conflicts_per_hour",
        make_it_hold=lambda: history.conflicts(store, 11, ago=timedelta(minutes=10)),
        make_it_clear=lambda: None,
        now_after=timezone.now() + timedelta(minutes=55),
    )


def test_a_sync_over_30_seconds(store):
    lifecycle(
        store,
        "sync_duration",
        make_it_hold=lambda: history.finished_job(store, "succeeded", 45),
        make_it_clear=lambda: history.finished_job(store, "succeeded", 3, ago=timedelta(minutes=1)),
    )


def test_drift_above_1_percent(store):
    products = []

    def hold():
        products.extend(history.records_in_sync(store, 50))
        history.drift_one(products[0])  # 2%

    def clear():  # the next sync carries the change: its state matches again
        products[0].refresh_from_db()
        SyncRecordState.objects.filter(record_pk=products[0].pk).update(platform_modified=products[0].updated_at)

    lifecycle(store, "data_drift", make_it_hold=hold, make_it_clear=clear)


def test_more_than_3_consecutive_webhook_failures(
    store,
    settings,
    receiver,
    django_capture_on_commit_callbacks,
):
    settings.STORESYNC_ALERT_WEBHOOK_URL = receiver.url
    settings.STORESYNC_ALERT_WEBHOOK_SECRET = "alert-secret"
    history.attempts(store, [True, False, False, False])
    assert run(store, "webhook_failures") is None  # 3 is not more than 3
    with django_capture_on_commit_callbacks(execute=True):
        alert = lifecycle(
            store,
            "webhook_failures",
            make_it_hold=lambda: history.attempts(store, [False]),
            make_it_clear=lambda: history.attempts(store, [True]),
        )
    posted = [json.loads(r.body) for r in receiver.requests]
    assert [p["type"] for p in posted] == ["alert.opened", "alert.resolved"]
    assert posted[0]["data"]["alert_id"] == alert.pk and posted[0]["data"]["rule"] == "webhook_failures"
    from storesync.webhooks.signatures import verify

    verify("alert-secret", receiver.requests[0].headers, receiver.requests[0].body, tolerance=300)


def test_thresholds_are_editable_and_evaluate_all_runs_every_rule(store, client, superuser):
    history.finished_job(store, "succeeded", 45)
    client.force_login(superuser)
    rule = AlertRule.objects.get(key="sync_duration")
    page = client.get(f"/admin/storesync/alertrule/{rule.pk}/change/")
    assert page.status_code == 200
    response = client.post(
        f"/admin/storesync/alertrule/{rule.pk}/change/",
        {
            "name": rule.name,
            "threshold": "60",
            "window_minutes": "60",
            "enabled": "on",
            "notify_emails": "[]",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert alerts.evaluate_all()["opened"] == 0  # 45 s is under the new 60 s threshold
    AlertRule.objects.filter(pk=rule.pk).update(threshold=30)
    assert alerts.evaluate_all()["opened"] == 1


def test_the_alerts_api_and_acknowledge(store, make_store, make_user, api, client, superuser):
    history.finished_job(store, "succeeded", 45)
    other = make_store("other")
    configure(other, products={})
    history.finished_job(other, "succeeded", 50)
    alerts.evaluate_all()
    operator = make_user("op", role=Role.OPERATOR, stores=[store])
    viewer = make_user("viewer", role=Role.VIEWER, stores=[store])
    listed = api(viewer).get("/api/v1/sync/alerts")
    assert listed.status_code == 200
    data = listed.json()["data"]
    assert [a["store_id"] for a in data] == [store.pk]  # the other store's alert is not visible
    assert data[0]["rule"] == "sync_duration" and data[0]["status"] == "open" and data[0]["acknowledged"] is False
    assert listed.json()["pagination"] == {"page": 1, "limit": 20, "total": 1}
    alert_id = data[0]["alert_id"]
    assert api(viewer).post(f"/api/v1/sync/alerts/{alert_id}/acknowledge").status_code == 403
    acked = api(operator).post(f"/api/v1/sync/alerts/{alert_id}/acknowledge")
    assert acked.status_code == 200 and acked.json()["data"]["acknowledged_by"] == "op"
    assert api(viewer).get("/api/v1/sync/alerts?acknowledged=false").json()["data"] == []
    foreign = Alert.objects.get(store=other).pk
    assert api(operator).post(f"/api/v1/sync/alerts/{foreign}/acknowledge").status_code == 404
    assert api(viewer).get("/api/v1/sync/alerts?status=resolved").json()["data"] == []
    client.force_login(superuser)
    response = client.post("/admin/storesync/alert/", {"action": "acknowledge", "_selected_action": [str(foreign)]})
    assert response.status_code == 302 and Alert.objects.get(pk=foreign).acknowledged_at is not None
