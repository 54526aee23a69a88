"""Alerts on the spec's conditions, evaluated every minute by Celery beat.

Each rule (``AlertRule``: threshold and window editable in the admin) measures one value
per store with a sync configuration; the alert opens when the value exceeds the
threshold, stays open (its value refreshed) while it does, and resolves when it no longer
does. Opening and resolving notify by e-mail (Django's mail backend) and to the optional
alert webhook (a signed outbound delivery, retried like the stores' ones). One open alert
per rule and store (a partial unique index).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from catalog.models import Store
from config.jobs import JobStatus
from storesync.health import metrics
from storesync.health.models import Alert, AlertRule, AlertStatus
from storesync.models import StoreSyncJob, SyncConfig, SyncConflict
from storesync.webhooks.models import DeliveryTarget
from storesync.webhooks.outbound import queue_event

logger = logging.getLogger(__name__)

# key: (name, default threshold, default window in minutes, unit)
DEFAULT_RULES = {
    "sync_failure_rate": ("Sync failure rate above threshold (%)", 5.0, 24 * 60, "%"),
    "conflicts_per_hour": ("Conflicts per hour above threshold", 10.0, 60, " conflicts"),
    "sync_duration": ("Sync duration above threshold (s)", 30.0, 60, "s"),
    "data_drift": ("Data drift above threshold (%)", 1.0, 0, "%"),
    "webhook_failures": ("Consecutive webhook failures above threshold", 3.0, 0, " failures"),
    # Created when a job is first held (not one of the spec's conditions).
    "held_jobs": ("Sync jobs held by the mass-change brake", 0.0, 0, " held"),
}


def _failure_rate(store, window: timedelta, now: datetime) -> float:
    rate, _, total = metrics.success_rate(StoreSyncJob.objects.filter(store=store), now - window)
    return round(100.0 - rate, 1) if total else 0.0


def _conflicts(store, window: timedelta, now: datetime) -> float:
    count = SyncConflict.objects.filter(store=store, created_at__gte=now - window).count()
    return round(count * timedelta(hours=1) / window, 1) if window else float(count)


def _duration(store, window: timedelta, now: datetime) -> float:
    """The latest finished sync's duration (within the window), or the running one's so far."""
    running = StoreSyncJob.objects.filter(store=store, status=JobStatus.RUNNING).aggregate(Max("started_at"))
    longest = 0.0
    if running["started_at__max"]:
        longest = (now - running["started_at__max"]).total_seconds()
    last = (
        StoreSyncJob.objects.filter(store=store, finished_at__gte=now - window)
        .exclude(started_at=None)
        .exclude(status=JobStatus.CANCELLED)
        .order_by("-finished_at")
        .first()
    )
    if last is not None:
        longest = max(longest, (last.finished_at - last.started_at).total_seconds())
    return round(longest, 1)


def _drift(store, window: timedelta, now: datetime) -> float:
    drifted, in_sync = metrics.drift(Store.objects.filter(pk=store.pk))
    return round(100.0 * drifted / in_sync, 2) if in_sync else 0.0


def _webhook_failures(store, window: timedelta, now: datetime) -> float:
    return float(metrics.consecutive_webhook_failures(store.pk))


def _held(store, window: timedelta, now: datetime) -> float:
    return float(StoreSyncJob.objects.filter(store=store, status=JobStatus.HELD).count())


MEASURES: dict[str, Callable] = {
    "held_jobs": _held,
    "sync_failure_rate": _failure_rate,
    "conflicts_per_hour": _conflicts,
    "sync_duration": _duration,
    "data_drift": _drift,
    "webhook_failures": _webhook_failures,
}


def ensure_default_rules() -> None:
    for key, (name, threshold, window, _) in DEFAULT_RULES.items():
        AlertRule.objects.get_or_create(
            key=key, defaults={"name": name, "threshold": threshold, "window_minutes": window}
        )


def evaluate_all(now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    counts = {"opened": 0, "resolved": 0, "open": 0}
    rules = list(AlertRule.objects.filter(enabled=True, key__in=list(MEASURES)))
    for config in SyncConfig.objects.filter(store__is_active=True).select_related("store"):
        for rule in rules:
            try:
                outcome = evaluate(rule, config.store, now)
            except Exception:
                logger.exception("alert rule %s failed for store %s", rule.key, config.store_id)
                continue
            if outcome:
                counts[outcome] += 1
    counts["open"] = Alert.objects.filter(status=AlertStatus.OPEN).count()
    return counts


def evaluate(rule: AlertRule, store, now: datetime) -> str | None:
    """Open, refresh or resolve the rule's alert for the store; 'opened', 'resolved' or None."""
    window = timedelta(minutes=rule.window_minutes)
    value = MEASURES[rule.key](store, window, now)
    firing = value > rule.threshold
    current = Alert.objects.filter(rule=rule, store=store, status=AlertStatus.OPEN).first()
    unit = DEFAULT_RULES.get(rule.key, ("", 0, 0, ""))[3]
    message = f"{rule.name}: {value:g}{unit} (threshold {rule.threshold:g}{unit}) for store {store.code or store.pk}."
    if firing and current is None:
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    rule=rule,
                    store=store,
                    value=value,
                    threshold=rule.threshold,
                    message=message,
                    opened_at=now,
                    last_seen_at=now,
                )
        except IntegrityError:
            return None  # opened by a concurrent evaluation
        notify(alert, "opened")
        return "opened"
    if firing:
        Alert.objects.filter(pk=current.pk).update(
            value=value, threshold=rule.threshold, message=message, last_seen_at=now
        )
        return None
    if current is not None:
        updated = Alert.objects.filter(pk=current.pk, status=AlertStatus.OPEN).update(
            status=AlertStatus.RESOLVED, resolved_at=now, value=value, last_seen_at=now
        )
        if updated:
            current.refresh_from_db()
            notify(current, "resolved")
            return "resolved"
    return None


def job_held(sender, job, **kwargs) -> None:
    """``job_changed`` receiver: a store sync held by the brake opens the store's ``held_jobs``
    alert at once (the minute's evaluation resolves it when no job is held any more)."""
    if job.kind != StoreSyncJob.KIND or job.status != JobStatus.HELD:
        return

    def run():
        try:
            name, threshold, window, _ = DEFAULT_RULES["held_jobs"]
            rule, _ = AlertRule.objects.get_or_create(
                key="held_jobs", defaults={"name": name, "threshold": threshold, "window_minutes": window}
            )
            if rule.enabled:
                evaluate(rule, job.store, timezone.now())
        except Exception:
            logger.warning("could not raise the alert of held job %s", job.pk, exc_info=True)

    transaction.on_commit(run)


def acknowledge(alert: Alert, user) -> Alert:
    if alert.acknowledged_at is None:
        alert.acknowledged_at, alert.acknowledged_by = timezone.now(), user if getattr(user, "pk", None) else None
        alert.save(update_fields=["acknowledged_at", "acknowledged_by"])
    return alert


def alert_item(alert: Alert) -> dict:
    return {
        "alert_id": alert.pk,
        "rule": alert.rule.key,
        "name": alert.rule.name,
        "store_id": alert.store_id,
        "status": alert.status,
        "value": alert.value,
        "threshold": alert.threshold,
        "message": alert.message,
        "opened_at": alert.opened_at.isoformat(),
        "last_seen_at": alert.last_seen_at.isoformat(),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "acknowledged": alert.acknowledged_at is not None,
        "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
        "acknowledged_by": alert.acknowledged_by.get_username() if alert.acknowledged_by else None,
    }


def notify(alert: Alert, what: str) -> None:
    """E-mail and the alert webhook; a failing channel is logged, never raised."""
    recipients = list(dict.fromkeys([*settings.STORESYNC_ALERT_EMAILS, *(alert.rule.notify_emails or [])]))
    subject = f"[Retail Sync Hub] {'ALERT' if what == 'opened' else 'Resolved'}: {alert.rule.name}"
    if recipients:
        try:
            send_mail(subject, alert.message, settings.DEFAULT_FROM_EMAIL, recipients)
        except Exception:
            logger.exception("could not e-mail alert %s", alert.pk)
    if settings.STORESYNC_ALERT_WEBHOOK_URL:
        queue_event(store=None, target=DeliveryTarget.ALERTS, event_type=f"alert.{what}", data=alert_item(alert))
