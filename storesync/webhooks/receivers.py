"""Signal receivers of the webhooks wing (connected in ``StoreSyncConfig.ready``)."""

from __future__ import annotations

import logging

from django.db import transaction

from config.jobs import Job, JobStatus
from storesync.models import StoreSyncJob
from storesync.presenters import FINISHED_EVENTS
from storesync.webhooks.inbound import release_held
from storesync.webhooks.outbound import job_finished, job_held, record_changed

logger = logging.getLogger(__name__)


def platform_record_saved(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    """A catalogue record saved on the platform side: tell the store (outbound webhook).
    The sync engine writes in bulk (no signal), so its own writes are not echoed back."""
    if raw:
        return

    def run():
        try:
            record_changed(instance, created)
        except Exception:
            logger.warning("could not queue the webhook of %s %s", sender.__name__, instance.pk, exc_info=True)

    transaction.on_commit(run)


def store_sync_finished(sender, job: Job, **kwargs) -> None:
    """``job_changed`` receiver: the outbound ``sync.completed`` / ``sync.failed`` of a store sync
    that ended (``sync.held`` of one the brake held), queued once the row's change is committed."""
    if job.kind != StoreSyncJob.KIND or job.status not in (*FINISHED_EVENTS, JobStatus.HELD):
        return
    send = job_held if job.status == JobStatus.HELD else job_finished

    def run():
        try:
            send(job)
        except Exception:
            logger.warning("could not queue the webhook of job %s", job.pk, exc_info=True)

    transaction.on_commit(run)


def sync_resumed(sender, store, **kwargs) -> None:
    """``storesync.signals.sync_resumed`` receiver: apply the notifications held while paused."""
    release_held(store)
