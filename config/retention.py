"""Retention: old finished rows are deleted in batches (``manage.py prune``, a beat task).

Each app registers, in its ``AppConfig.ready()``, what may go once it is older than the
cutoff; a rule's queryset must never select live work (a running job, a pending
conflict, an undelivered webhook, a dead letter).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

PRUNE_BATCH_SIZE = 1000


@dataclass(frozen=True)
class RetentionRule:
    label: str
    select: Callable[[datetime], QuerySet]  # rows older than the cutoff that may be deleted


_rules: dict[str, RetentionRule] = {}


def register(label: str, select: Callable[[datetime], QuerySet]) -> None:
    _rules[label] = RetentionRule(label, select)


def finished_jobs(model) -> Callable[[datetime], QuerySet]:
    """Jobs in a final state that finished before the cutoff (never an active one)."""
    from config.jobs import ACTIVE_STATUSES

    return lambda cutoff: model.objects.exclude(status__in=ACTIVE_STATUSES).filter(finished_at__lt=cutoff)


def retention_cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=settings.RETENTION_DAYS)


def prune_preview(now: datetime | None = None) -> dict[str, int]:
    """What the next prune would delete, per rule."""
    cutoff = retention_cutoff(now)
    return {label: rule.select(cutoff).count() for label, rule in sorted(_rules.items())}


def prune(*, now: datetime | None = None, batch_size: int = PRUNE_BATCH_SIZE) -> dict[str, int]:
    """Delete what the rules select, ``batch_size`` rows per transaction; returns counts."""
    cutoff = retention_cutoff(now)
    deleted: dict[str, int] = {}
    for label, rule in sorted(_rules.items()):
        total = 0
        while True:
            queryset = rule.select(cutoff)
            batch = list(queryset.order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not batch:
                break
            with transaction.atomic():
                total += queryset.model.objects.filter(pk__in=batch).delete()[1].get(queryset.model._meta.label, 0)
        deleted[label] = total
    return deleted


@shared_task(name="config.retention.prune")
def prune_task() -> dict[str, int]:
    return prune()
