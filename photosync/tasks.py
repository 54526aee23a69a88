"""The app's Celery tasks (autodiscovered); each one calls into a wing. Names never change."""

from celery import shared_task
from django.conf import settings

from config.jobs import JobAlreadyRunning, JobTask, JobTrigger
from photosync.edge.service import edge_sync_now
from photosync.imagesync.runner import ImageSyncRunner, sync_active_stores


@shared_task(base=JobTask, job_model="photosync.ImageSyncRun", name="photosync.tasks.image_sync_task")
def image_sync_task(run_id: str) -> None:
    """The run's coordinator: plans the chunks, takes some, finishes with the last one."""
    ImageSyncRunner.execute(run_id)


@shared_task(base=JobTask, job_model="photosync.ImageSyncRun", name="photosync.tasks.image_sync_chunk_task")
def image_sync_chunk_task(run_id: str) -> None:
    """A helper: takes chunks of the run while any are left."""
    ImageSyncRunner.help(run_id)


@shared_task(name="photosync.nightly_image_sync")
def nightly_image_sync() -> list[str]:
    """Beat schedule (editable in the admin): queue a run for every active store."""
    return [str(run.pk) for run in sync_active_stores()]


@shared_task(name="photosync.edge_sync")
def edge_sync_task(full: bool = False) -> dict | None:
    """Beat schedule (edge mode only): one incremental pass from head office."""
    if not settings.EDGE_MODE:
        return None
    try:
        _run, summary = edge_sync_now(full=full, trigger=JobTrigger.SCHEDULE)
    except JobAlreadyRunning:
        return None
    return {"ok": summary.ok, "summary": summary.line()}
