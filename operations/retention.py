"""Retention pruning: delete, in batches, what the apps' retention rules select (``config.retention``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.retention import rules

PRUNE_BATCH_SIZE = 1000


def retention_cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=settings.RETENTION_DAYS)


def prune_preview(now: datetime | None = None) -> dict[str, int]:
    """What the next prune would delete, per rule."""
    cutoff = retention_cutoff(now)
    return {rule.label: rule.select(cutoff).count() for rule in rules()}


def prune(*, now: datetime | None = None, batch_size: int = PRUNE_BATCH_SIZE) -> dict[str, int]:
    """Delete what the rules select, ``batch_size`` rows per transaction; returns counts."""
    cutoff = retention_cutoff(now)
    deleted: dict[str, int] = {}
    for rule in rules():
        total = 0
        while True:
            queryset = rule.select(cutoff)
            batch = list(queryset.order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not batch:
                break
            with transaction.atomic():
                total += queryset.model.objects.filter(pk__in=batch).delete()[1].get(queryset.model._meta.label, 0)
        deleted[rule.label] = total
    return deleted
