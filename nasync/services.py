"""NAS document operations: upload, replace, delete, sync runs, single syncs, checks.

Views, tasks, admin actions and the demo all call these functions. Runs are sent to Celery
by task name: this module never imports ``nasync.tasks``.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import CharField, Count, Max, Q, QuerySet, Value
from django.db.models.functions import Concat, Substr
from django.utils import timezone

from config.jobs import JobAlreadyRunning, JobRunner, JobStatus, JobTrigger, fail_stale_jobs
from config.jobs.backoff import backoff_delay
from nasync import messages, rsync
from nasync.config import NasConfig, load_config
from nasync.errors import DocumentRejected, problem_answer
from nasync.files import detect_content_type, safe_filename, sha256_of
from nasync.messages import Problem, render_error
from nasync.models import DOCUMENTS_DIR, Document, NasSyncRun

logger = logging.getLogger(__name__)

# A failed document is retried after NAS_RETRY_BACKOFF * 2**(attempts-1) s, times 1 to 1.25.
RETRY_JITTER = (1.0, 1.25)


# --- documents ------------------------------------------------------------------------


def _store_file(uploaded) -> dict:
    """Check the upload's bytes, write it under today's date folder; the values of its row."""
    if not uploaded.size:
        raise DocumentRejected(messages.UPLOAD_EMPTY)
    uploaded.seek(0)
    head = uploaded.read(16)
    uploaded.seek(0)
    content_type = detect_content_type(head)
    if content_type is None:
        raise DocumentRejected(messages.UPLOAD_UNSUPPORTED)
    original = str(getattr(uploaded, "name", "") or "").replace("\x00", "")
    safe = safe_filename(original, content_type)
    digest = sha256_of(uploaded)
    folder = timezone.localdate().strftime("%Y/%m/%d")
    # default_storage.save keeps our safe name (FieldFile.save would re-mangle it); a taken
    # name gets a suffix. The row references the file only once it is fully written.
    name = default_storage.save(f"{DOCUMENTS_DIR}/{folder}/{safe}", uploaded, max_length=500)
    return {
        "file": name,
        "original_name": original[:255],
        "content_type": content_type,
        "size": uploaded.size,
        "sha256": digest,
    }


def _delete_file_on_commit(name: str) -> None:
    if name:
        transaction.on_commit(lambda: default_storage.delete(name))


def document_create(*, uploaded, user=None) -> Document:
    values = _store_file(uploaded)
    try:
        with transaction.atomic():
            return Document.objects.create(uploaded_by=user if getattr(user, "pk", None) else None, **values)
    except Exception:
        default_storage.delete(values["file"])
        raise


UNSYNCED = {
    "synced_to_nas": False,
    "synced_at": None,
    "sync_error": "",
    "sync_attempts": 0,
    "next_attempt_at": None,
    "held_for_operator": False,
    "nas_path": "",
}


def document_replace_file(*, document: Document, uploaded, user=None) -> Document:
    """A new file for the document: it is pending again (the NAS keeps the earlier copy)."""
    values = _store_file(uploaded)
    old = document.file.name
    try:
        with transaction.atomic():
            for field, value in {**values, **UNSYNCED}.items():
                setattr(document, field, value)
            if getattr(user, "pk", None):
                document.uploaded_by = user
            document.save()
            _delete_file_on_commit(old)
    except Exception:
        default_storage.delete(values["file"])
        raise
    return document


def document_delete(*, document: Document) -> None:
    """Delete the row and its stored file (the NAS copy stays: the NAS is the archive)."""
    with transaction.atomic():
        name = document.file.name
        document.delete()
        _delete_file_on_commit(name)


def documents_requeue(queryset: QuerySet) -> int:
    """Put failed or held documents back in the queue with fresh attempts."""
    return queryset.filter(synced_to_nas=False).update(
        held_for_operator=False, sync_attempts=0, next_attempt_at=None, sync_error=""
    )


def filter_state(queryset: QuerySet, state: str) -> QuerySet:
    if state == "synced":
        return queryset.filter(synced_to_nas=True)
    if state == "pending":
        return queryset.filter(synced_to_nas=False, held_for_operator=False, sync_error="")
    if state == "failed":
        return queryset.filter(synced_to_nas=False).exclude(sync_error="")
    if state == "held":
        return queryset.filter(synced_to_nas=False, held_for_operator=True)
    return queryset


def sync_status() -> dict:
    """GET /sync/status: counts in one query."""
    figures = Document.objects.aggregate(
        total=Count("id"), synced=Count("id", filter=Q(synced_to_nas=True)), last=Max("synced_at")
    )
    total, synced = figures["total"], figures["synced"]
    return {
        "total_documents": total,
        "synced": synced,
        "pending": total - synced,
        "sync_percentage": round(100.0 * synced / total, 1) if total else 100.0,
        "last_sync": figures["last"],
        "nas_configured": load_config().problem() is None,
    }


# --- sources: where rsync reads the files -----------------------------------------------


@contextmanager
def _source_root(documents: list[Document]):
    """A local folder holding ``<relative_path>`` for the documents.

    The storage's own folder when it is on this machine; otherwise (S3) the files are
    streamed into a staging folder under VAR_DIR for the time of the transfer, with their
    storage times kept so a retried transfer is still skipped when already on the NAS.
    """
    try:
        yield Path(default_storage.path(DOCUMENTS_DIR)), None
        return
    except NotImplementedError:
        pass
    staging_root = Path(settings.VAR_DIR) / "nas-staging"
    staging_root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="run-", dir=staging_root))
    missing: set[int] = set()
    try:
        for document in documents:
            target = folder / document.relative_path
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with default_storage.open(document.file.name, "rb") as source, open(target, "wb") as out:
                    shutil.copyfileobj(source, out, 1024 * 1024)
                stamp = document.updated_at.timestamp()
                os.utime(target, (stamp, stamp))
            except (OSError, ValueError) as exc:
                logger.warning("document %s could not be staged: %s", document.pk, exc)
                missing.add(document.pk)
        yield folder, missing
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --- one batch: the core of every sync ---------------------------------------------------


@dataclass
class BatchOutcome:
    synced: list[int]
    failed: dict[int, Problem]
    problem: Problem | None  # the NAS could not be used: the rest stays pending
    sent: int = 0
    unchanged: int = 0
    bytes_sent: int = 0
    warnings: tuple[str, ...] = ()


def sync_batch(config: NasConfig, documents: list[Document]) -> BatchOutcome:
    """Push the documents in one rsync and record on each row what happened to it."""
    failed: dict[int, Problem] = {}
    with _source_root(documents) as (root, missing):
        by_path: dict[str, Document] = {}
        for document in documents:
            relpath = document.relative_path
            absent = (missing is not None and document.pk in missing) or (
                missing is None and not (root / relpath).is_file()
            )
            if not document.file.name.startswith(f"{DOCUMENTS_DIR}/") or absent:
                failed[document.pk] = Problem("source_missing")
            else:
                by_path[relpath] = document
        result = None
        if by_path:
            rsync.ensure_known_hosts_dir(config)
            result = rsync.push(config, root, list(by_path))
    synced: list[int] = []
    if result is not None:
        for relpath, document in by_path.items():
            if result.arrived(relpath):
                synced.append(document.pk)
            elif result.complete:
                reason = result.file_errors.get(relpath)
                failed[document.pk] = (
                    Problem("file_error", {"reason": reason})
                    if reason
                    else Problem("not_transferred", {"reason": rsync.EXIT_MEANINGS.get(result.exit_code, "")})
                )
    arrived = set(synced)
    _mark_synced(config, [d for d in documents if d.pk in arrived])
    _mark_failed(documents, failed)
    return BatchOutcome(
        synced=synced,
        failed=failed,
        problem=result.problem if result else None,
        sent=len(result.sent) if result else 0,
        unchanged=len(result.unchanged) if result else 0,
        bytes_sent=sum(result.sent.values()) if result else 0,
        warnings=tuple(result.warnings) if result else (),
    )


def _mark_synced(config: NasConfig, documents: list[Document]) -> None:
    if not documents:
        return
    base = config.path.rstrip("/")
    # Guarded by the file name: a document whose file was replaced meanwhile stays pending.
    nas_path = Concat(Value(f"{base}/"), Substr("file", len(DOCUMENTS_DIR) + 2), output_field=CharField())
    rows = Document.objects.filter(pk__in=[d.pk for d in documents], file__in=[d.file.name for d in documents])
    rows.update(**{**UNSYNCED, "synced_to_nas": True, "synced_at": timezone.now(), "nas_path": nas_path})


def _mark_failed(documents: list[Document], failed: dict[int, Problem]) -> None:
    """Count an attempt; schedule the next with exponential backoff, or hold the document."""
    if not failed:
        return
    now = timezone.now()
    names = {d.pk: d.file.name for d in documents}
    for pk, problem in failed.items():
        with transaction.atomic():
            row = Document.objects.select_for_update().filter(pk=pk, file=names.get(pk)).first()
            if row is None:
                continue
            row.sync_attempts += 1
            row.sync_error = problem.english()[:2000]
            if row.sync_attempts >= settings.NAS_MAX_ATTEMPTS:
                row.held_for_operator, row.next_attempt_at = True, None
            else:
                delay = backoff_delay(row.sync_attempts, base=settings.NAS_RETRY_BACKOFF, jitter=RETRY_JITTER)
                row.next_attempt_at = now + timedelta(seconds=delay)
            row.save(
                update_fields=["sync_attempts", "sync_error", "held_for_operator", "next_attempt_at", "updated_at"]
            )


# --- runs -------------------------------------------------------------------------------


def _selection(job: NasSyncRun) -> QuerySet:
    ids = job.params.get("document_ids")
    if ids is not None:
        return Document.objects.filter(pk__in=ids)
    queryset = Document.objects.filter(synced_to_nas=False, held_for_operator=False)
    if job.params.get("due_only"):
        queryset = queryset.filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now()))
    return queryset


class NasSyncRunner(JobRunner):
    """A NAS run: the selected documents, one rsync per batch."""

    model = NasSyncRun
    kind = NasSyncRun.KIND
    task_name = "nasync.tasks.nas_sync_task"

    def run(self) -> None:
        job = self.job
        config = load_config()
        problem = config.problem()
        if problem is not None:
            self.stop(problem)
            return
        ids = list(_selection(job).order_by("pk").values_list("pk", flat=True))
        self.progress(total=len(ids))
        for batch_ids in rsync.batches(ids, max(1, settings.NAS_RSYNC_BATCH_SIZE)):
            documents = list(Document.objects.filter(pk__in=batch_ids).order_by("pk"))
            outcome = sync_batch(config, documents)
            errors = [
                {"document_id": pk, **problem.as_dict(), "message": problem.english()}
                for pk, problem in sorted(outcome.failed.items())
            ]
            self.progress(
                processed=len(outcome.synced) + len(outcome.failed),
                succeeded=len(outcome.synced),
                failed=len(outcome.failed),
                counters={"sent": outcome.sent, "unchanged": outcome.unchanged, "bytes_sent": outcome.bytes_sent},
                errors=errors,
            )
            if outcome.warnings:
                logger.warning("rsync warnings in run %s: %s", job.pk, "; ".join(outcome.warnings[:5]))
            if outcome.problem is not None:
                self.stop(outcome.problem)
                return

    def stop(self, problem: Problem) -> None:
        """The NAS could not be used: the run ends, the documents not sent stay pending."""
        job = self.job
        job.refresh_from_db()
        status = JobStatus.PARTIAL if job.items_succeeded else JobStatus.FAILED
        error_code = problem_answer(problem)[1] if status == JobStatus.FAILED else ""
        self.progress(errors=[{"document_id": None, **problem.as_dict(), "message": problem.english()}])
        self.finish(
            status=status, message=problem.english(), result={"problem": problem.as_dict()}, error_code=error_code
        )
        logger.warning("NAS run %s stopped: %s", job.pk, problem.english())


def run_problem(job: NasSyncRun) -> Problem | None:
    return Problem.from_dict((job.result or {}).get("problem"))


def start_nas_sync(
    *, trigger: str = JobTrigger.API, user=None, document_ids: list[int] | None = None, due_only: bool = False
) -> NasSyncRun:
    """Queue a NAS run (JobAlreadyRunning when one is active)."""
    params: dict = {"due_only": True} if due_only else {}
    if document_ids is not None:
        params["document_ids"] = sorted(set(document_ids))
    return NasSyncRunner.start(trigger=trigger, params=params, requested_by=user)


def nas_sync_now(*, trigger: str = JobTrigger.COMMAND, user=None, document_ids: list[int] | None = None) -> NasSyncRun:
    """Run a NAS run in this process (management commands, benchmark)."""
    params = {"document_ids": sorted(set(document_ids))} if document_ids is not None else {}
    job = NasSyncRunner.create(trigger=trigger, params=params, requested_by=user)
    return NasSyncRunner.execute(job.pk) or job


def scheduled_nas_sync() -> str:
    """Beat entry point: a run for the documents that are due, when there are any."""
    fail_stale_jobs(NasSyncRun)
    if load_config().problem() is not None:
        return "not configured"
    due = Document.objects.filter(synced_to_nas=False, held_for_operator=False).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=timezone.now())
    )
    if not due.exists():
        return "nothing due"
    try:
        job = start_nas_sync(trigger=JobTrigger.SCHEDULE, due_only=True)
    except JobAlreadyRunning as exc:
        return f"a run is in progress ({exc.job.pk})"
    return f"queued {job.pk}"


def run_summary(job: NasSyncRun) -> dict:
    """The figures of POST /sync/run's answer (errors rendered in the active language)."""
    return {
        "total": job.items_total,
        "synced": job.items_succeeded,
        "failed": job.items_failed,
        "errors": [render_error(entry) for entry in job.errors],
    }


# --- single documents and checks --------------------------------------------------------


def sync_document_now(document: Document) -> Problem:
    """Push one document now (POST /sync/document/{id}); ``synced_to`` on success.

    Explicit: it is sent even when held or synced already (rsync skips an identical copy).
    """
    config = load_config()
    problem = config.problem()
    if problem is not None:
        return problem
    outcome = sync_batch(config, [document])
    document.refresh_from_db()
    if document.pk in outcome.failed:
        return outcome.failed[document.pk]
    if outcome.problem is not None:
        return outcome.problem
    return Problem("synced_to", {"host": config.host})


def test_connection() -> Problem:
    """POST /sync/test: ``connected`` or why not."""
    config = load_config()
    problem = config.problem()
    if problem is not None:
        return problem
    rsync.ensure_known_hosts_dir(config)
    return rsync.check_connection(config)
