"""Retention rules: what old rows may be deleted (``operations.retention`` prunes them).

Each app registers, in its ``AppConfig.ready()``, what may go once it is older than the
cutoff; a rule's queryset must never select live work (a running job, a pending
conflict, an undelivered webhook, a dead letter).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from config.jobs.models import ACTIVE_STATUSES


@dataclass(frozen=True)
class RetentionRule:
    label: str
    select: Callable[[datetime], QuerySet]  # rows older than the cutoff that may be deleted


_rules: dict[str, RetentionRule] = {}


def register(label: str, select: Callable[[datetime], QuerySet]) -> None:
    _rules[label] = RetentionRule(label, select)


def finished_jobs(model) -> Callable[[datetime], QuerySet]:
    """Jobs in a final state that finished before the cutoff (never an active one)."""
    return lambda cutoff: model.objects.exclude(status__in=ACTIVE_STATUSES).filter(finished_at__lt=cutoff)


def rules() -> list[RetentionRule]:
    """Every registered rule, by label."""
    return [rule for _label, rule in sorted(_rules.items())]
