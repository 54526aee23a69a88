"""Running sync jobs: :class:`StoreSyncRunner`, the store sync's queued runner.

The mechanics (one running job per store, the others waiting in priority order, a claim
token per message, the next job sent when one finishes, job-level retries with backoff) are
:class:`config.jobs.queued.QueuedRunner`'s; this subclass runs the engine over the job's
entities and says what cancels or retries a store sync.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog.platforms import PlatformError, create_ecommerce_service
from config.jobs import JobStatus, job_changed
from config.jobs.queued import QueuedRunner
from storesync.constants import CELERY_PRIORITIES, JOB_KIND, PRIORITY_RANK, JobMode
from storesync.engine import preview
from storesync.engine.batch import ShopUnavailable, new_entity_result
from storesync.engine.entities import ADAPTERS
from storesync.engine.ledger import Ledger
from storesync.engine.scanning import iso
from storesync.engine.shop_writer import MAX_BACKOFF, ShopWriter
from storesync.engine.sync import EntitySync
from storesync.engine.undo import EntityUndo
from storesync.engine.undo import note as undo_note
from storesync.models import StoreSyncJob, SyncChange, SyncConfig
from storesync.presenters import job_summary, pending_conflicts_note
from storesync.task_names import RUN_STORE_SYNC

# Entities run in this order: orders link to customers created before them.
ENTITY_ORDER = {"products": 0, "customers": 1, "orders": 2}


class StoreSyncRunner(QueuedRunner):
    """One sync run of a store: every entity of the job, in ``ENTITY_ORDER``, through the engine."""

    model = StoreSyncJob
    kind = JOB_KIND
    task_name = RUN_STORE_SYNC
    priority_rank = PRIORITY_RANK
    celery_priorities = CELERY_PRIORITIES
    cancel_message = "Cancelled: the store's sync was paused."
    retry_backoff_cap = MAX_BACKOFF

    @property
    def max_attempts(self) -> int:
        return settings.STORESYNC_MAX_ATTEMPTS

    @property
    def retry_backoff(self) -> float:
        return settings.STORESYNC_JOB_RETRY_BACKOFF

    @classmethod
    def hold_line(cls, store_id) -> str:
        """The store's configuration row serializes its claims; a paused store's jobs are cancelled."""
        config = SyncConfig.objects.select_for_update().filter(store_id=store_id).first()
        if config is None or config.paused:
            return "The store's sync is paused or not configured."
        return ""

    @classmethod
    def failure(cls, exc: Exception) -> tuple[str, str, bool] | None:
        """The shop being down (or a transient connector error) is retried; other connector errors fail."""
        if isinstance(exc, ShopUnavailable):
            return exc.code, str(exc), True
        if isinstance(exc, PlatformError):
            return exc.code, str(exc), exc.transient
        return None

    held: str = ""  # why the brake held the job (its plan is over a limit)

    def run(self) -> None:
        """The job's mode decides: a preview runs dry; a sync not yet approved plans first when it
        could exceed the brake's limits, and is held if its plan does; an apply syncs the
        preview's records (``EntitySync`` compares each with its planned changes)."""
        job = self.job
        config = job.store.sync_config
        entities = {entity.entity_type: entity for entity in config.entities.filter(enabled=True)}
        with create_ecommerce_service(job.store) as service, ShopWriter(job.store, service) as writer:
            if job.mode == JobMode.SYNC and not job.options.get("approved") and not job.options.get("planned"):
                braked = [n for n in job.entities if n in entities and preview.could_exceed(job, entities[n], service)]
                if braked:
                    self.run_entities(braked, entities, service, writer, dry=True)
                    reasons = preview.over_limit(job, entities, preview.totals(job))
                    if reasons:
                        self.held = "Held by the mass-change brake: " + "; ".join(reasons) + "."
                        return
                    self.forget_plan()
            self.run_entities(job.entities, entities, service, writer, dry=job.mode == JobMode.PREVIEW)

    def run_entities(self, names, entities, service, writer, *, dry: bool) -> None:
        for name in sorted(names, key=lambda n: ENTITY_ORDER.get(n, 9)):
            current = self.job.entity_results.get(name) or {}
            if current.get("status") in ("completed", "skipped"):
                continue  # done before a redelivery
            if self.job.mode == JobMode.UNDO:  # the source job's writes taken back (storesync.engine.undo)
                self.mark_entity(name, status="in_progress")
                EntityUndo(self.job, name, service, writer, progress=self.progress).run()
                continue
            entity = entities.get(name)
            self.mark_entity(name, status="skipped" if entity is None else "in_progress")
            if entity is not None:
                model = ADAPTERS[entity.entity_type].model
                ledger = Ledger(self.job, entity, model, progress=self.progress, dry=dry)
                EntitySync(self.job, entity, service, writer, ledger).run()

    def forget_plan(self) -> None:
        """The brake's plan is within the limits: the job starts again from nothing, for real."""
        job = self.job
        with transaction.atomic():
            SyncChange.objects.filter(job=job).delete()
            row = StoreSyncJob.objects.select_for_update().get(pk=job.pk)
            forget_progress(row)
            row.options = {**row.options, "planned": True}
            row.save()
        job.refresh_from_db()

    def mark_entity(self, name: str, *, status: str) -> None:
        job = self.job
        with transaction.atomic():
            row = StoreSyncJob.objects.select_for_update().get(pk=job.pk)
            result = row.entity_results.setdefault(name, new_entity_result())
            result["status"] = status
            result["started_at"] = result.get("started_at") or iso(timezone.now())
            row.current_entity = name if status == "in_progress" else ""
            row.save(update_fields=["entity_results", "current_entity"])
        job.entity_results, job.current_entity = row.entity_results, row.current_entity
        job_changed.send(sender=StoreSyncJob, job=job)

    def result(self) -> dict:
        if self.job.mode == JobMode.PREVIEW or self.held:
            return {**job_summary(self.job), "preview": preview.totals(self.job)}
        return job_summary(self.job)

    def finish(self, *, status=None, message: str = "", result: dict | None = None, error_code: str = ""):
        """A run that leaves conflicts pending still succeeds (the spec's status words), and says so.
        A job the brake held ends ``held``, its plan attached."""
        if self.held and status in (JobStatus.SUCCEEDED, JobStatus.PARTIAL):
            status, message = JobStatus.HELD, self.held
        if not message and result:
            message = undo_note(self.job) if self.job.mode == JobMode.UNDO else ""
            message = message or pending_conflicts_note(result["conflicts_pending"])
        return super().finish(status=status, message=message, result=result, error_code=error_code)

    def after_run(self) -> None:
        StoreSyncJob.objects.filter(pk=self.job.pk).update(current_entity="")


def forget_progress(job: StoreSyncJob) -> None:
    """A job's counters, results and checkpoint back to a fresh job's (not saved)."""
    job.entity_results = {name: new_entity_result() for name in job.entities}
    job.checkpoint, job.current_entity = {}, ""
    job.items_total = job.items_processed = job.items_succeeded = job.items_failed = job.error_count = 0
    job.counters, job.errors = {}, []
