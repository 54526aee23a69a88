"""What is running: the runtime mode and whether a beat scheduler is alive (its heartbeat)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from config.scheduler import read_heartbeat


def runtime_status() -> dict:
    """``{"mode": "embedded" | "production" | "edge", "scheduler": {"alive": bool, "last_tick": datetime | None}}``:
    alive while the last tick is less than ``SCHEDULER_STALE_AFTER`` seconds old."""
    beat = read_heartbeat()
    last_tick = beat["last_tick"] if beat else None
    alive = last_tick is not None and timezone.now() - last_tick < timedelta(seconds=settings.SCHEDULER_STALE_AFTER)
    return {"mode": settings.RUNTIME_MODE, "scheduler": {"alive": alive, "last_tick": last_tick}}
