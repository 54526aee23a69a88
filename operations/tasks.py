"""Hub-wide Celery tasks (beat schedules created by data migrations keep their first names)."""

from celery import shared_task

from operations.reaper import reap_stale_jobs
from operations.retention import prune


@shared_task(name="config.reaper.reap_stale_jobs")
def reap_stale_jobs_task() -> dict[str, int]:
    """Every 5 minutes: fail the jobs that can no longer finish."""
    return reap_stale_jobs()


@shared_task(name="config.retention.prune")
def prune_task() -> dict[str, int]:
    """Nightly: delete what the retention rules select."""
    return prune()
