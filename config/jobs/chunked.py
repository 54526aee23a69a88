"""A job split into leased chunks that every free worker helps with (imports no app).

The coordinator task plans the job a page at a time: each page is one transaction holding
its chunks and a chunk, done at once, that counts the page's items settled without work
(position 0 of the page: index ``page * STRIDE``). A redelivered coordinator therefore
resumes after the last planned page and nothing is counted twice. After each page commits,
helper tasks are queued so that every free worker takes chunks; the coordinator takes
chunks too, then waits for those other workers hold.

A worker claims a pending chunk (or one whose lease ran out: its worker died) with a
compare-and-set UPDATE, keeps renewing the lease while it works, and completes it in one
transaction: the chunk is marked done only if the claim is still its own, the outcome is
recorded (the job's counters move), and whoever completes the last chunk finishes the job.
A chunk is therefore counted once, even when its task is redelivered or two workers
processed it. A chunk that keeps killing its workers is abandoned after
``max_chunk_attempts``, never retried forever.

The chunk table needs the fields ``<job_field>`` (the job), ``index``, ``items`` (JSON),
``status`` (``pending``/``running``/``done``), ``token``, ``lease_until``, ``attempts``,
``claimed_by``, ``counters`` (JSON) and ``finished_at``; the job table a boolean ``planned``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import time
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from datetime import timedelta
from typing import Any, ClassVar

from django.db import IntegrityError, models, transaction
from django.db.models import F, Q
from django.utils import timezone

from config.celery import app as celery_app
from config.jobs.lifecycle import outcome_status
from config.jobs.models import ACTIVE_STATUSES, Job
from config.jobs.runner import JobRunner, celery_task

logger = logging.getLogger(__name__)

STRIDE = 10_000  # chunk index = page * STRIDE + position; position 0 is the page's settled part
PENDING, RUNNING, DONE = "pending", "running", "done"


class LeaseLost(Exception):
    """Another worker took the chunk over (this one was too slow to renew its lease)."""


class ChunkedRunner(JobRunner, register=False):
    """Generic mechanics of a chunked job; a subclass names its tables and tasks and implements
    the hooks: ``open_session``, ``next_page``/``plan_page`` (planning), ``process_chunk``
    and ``abandoned`` (the work), ``chunk_counters``/``record_chunk`` (completing a chunk),
    and optionally ``before_plan``, ``plan_started``, ``completion_message``, ``summary``.

    ``task_name`` is the coordinator's task, ``helper_task_name`` the helpers' (both take the
    job id). Helpers are queued only when the job's ``params["fan_out"]`` is true and tasks
    are not run eagerly (in this process, the coordinator does every chunk itself).
    """

    chunk_model: ClassVar[type[models.Model]]
    job_field: ClassVar[str] = "run"  # the chunk's foreign key to the job
    helper_task_name: ClassVar[str] = ""
    max_chunk_attempts: ClassVar[int] = 5
    complete_attempts: ClassVar[int] = 3  # completing a chunk is retried on IntegrityError
    wait_poll: ClassVar[float] = 0.2  # seconds between looks at chunks other workers hold

    def __init__(self, job: Job) -> None:
        super().__init__(job)
        self.session: Any = None

    # Hooks

    def lease_seconds(self) -> float:
        """How long a claim lasts without renewal."""
        return 120.0

    def open_session(self) -> contextlib.AbstractContextManager:
        """What planning and chunks share in one worker (a connector, a pool); ``self.session``."""
        return contextlib.nullcontext()

    def before_plan(self) -> bool:
        """Called once before the first page is planned (not on a resumed job); False when the
        job was finished here (e.g. the source cannot be reached)."""
        return True

    def plan_started(self) -> None:
        """Called before page 0 is planned (e.g. report the total)."""

    def next_page(self, after) -> tuple[list, Any]:
        """The next page of things to plan after the key ``after`` (None: from the start), and the
        last key of that page; an empty list when everything is planned."""
        raise NotImplementedError

    def plan_page(self, page: int, things: list) -> None:
        """Settle or chunk one page: must call :meth:`add_page` once."""
        raise NotImplementedError

    def process_chunk(self, chunk) -> Any:
        """Do a claimed chunk's work (renewing its lease, see :meth:`completed`); its outcome."""
        raise NotImplementedError

    def abandoned(self, chunk, message: str) -> Any:
        """The outcome of a chunk given up after ``max_chunk_attempts`` (its items fail)."""
        raise NotImplementedError

    def chunk_counters(self, outcome) -> dict:
        """The counters kept on the done chunk row."""
        return {}

    def record_chunk(self, chunk, outcome) -> None:
        """Write the outcome and move the job's counters (:meth:`progress`), in the chunk's transaction."""
        raise NotImplementedError

    def completion_message(self, job: Job) -> str:
        return ""

    def summary(self, job: Job) -> dict | None:
        return None

    # The coordinator and the helpers

    def run(self) -> None:
        """The coordinator: plan (or resume), queue helpers, take part, wait for the last chunk."""
        resuming = self.job.planned or self.chunks().exists()
        if not resuming and not self.before_plan():
            return
        with self.open_session() as self.session:
            if not self.job.planned:
                self.plan()
            else:  # a redelivered coordinator: the chunks of a worker that died are still to do
                self.queue_helpers(self.chunks().exclude(status=DONE).count())
            self.take_part(wait=True)
        self.job.refresh_from_db()

    @classmethod
    def help(cls, job_id) -> None:
        """A helper task: take chunks of an active job, if any are left."""
        job = cls.model.objects.filter(pk=job_id).select_related("store").first()
        if job is not None and job.is_active:
            runner = cls(job)
            with runner.open_session() as runner.session:
                runner.take_part(wait=False)

    def take_part(self, *, wait: bool) -> None:
        """Process chunks until none is left to claim; with ``wait``, until the job is finished."""
        while self.job_is_active():
            chunk = self.claim_chunk()
            if chunk is not None:
                self.work_on(chunk)
                continue
            if not wait or self.finish_if_complete():
                return
            time.sleep(self.wait_poll)

    def queue_helpers(self, count: int) -> None:
        """Ask other workers to take chunks (pointless when tasks run in this process)."""
        if count <= 0 or not self.job.params.get("fan_out") or celery_app.conf.task_always_eager:
            return
        helper = celery_task(self.helper_task_name)
        for _ in range(count):
            helper.delay(str(self.job.pk))

    def job_is_active(self) -> bool:
        return self.model.objects.filter(pk=self.job.pk, status__in=ACTIVE_STATUSES).exists()

    # Planning

    def chunks(self) -> models.QuerySet:
        return self.chunk_model.objects.filter(**{self.job_field: self.job})

    def plan(self) -> None:
        """Plan page by page from where a previous coordinator stopped; then mark the job planned."""
        page, after = self.planned_until()
        if page == 0:
            self.plan_started()
        while True:
            things, last_key = self.next_page(after)
            if not things:
                break
            self.plan_page(page, things)
            page, after = page + 1, last_key
        self.model.objects.filter(pk=self.job.pk).update(planned=True)
        self.job.planned = True

    def planned_until(self) -> tuple[int, Any]:
        """(next page, the last key planned) from the chunks already committed; (0, None) at first."""
        chunks = list(self.chunks().values_list("index", "items"))
        if not chunks:
            return 0, None
        last_page = max(index // STRIDE for index, _ in chunks)
        last_key = max(self.item_key(item) for index, items in chunks if index // STRIDE == last_page for item in items)
        return last_page + 1, last_key

    def item_key(self, item: dict):
        """The planning key of a chunk item (what ``next_page`` pages by)."""
        return item["key"]

    def add_page(
        self,
        page: int,
        *,
        settled: list[dict],
        settled_counters: dict,
        chunk_items: list[dict],
        chunk_size: int,
        **progress,
    ) -> None:
        """One transaction: the page's settled part (a done chunk), its chunks of at most
        ``chunk_size`` items, and ``progress(**progress)`` for the settled part; helpers are
        queued once it commits."""
        size = max(1, chunk_size)
        with transaction.atomic():
            rows = [
                self.chunk_model(
                    **{self.job_field: self.job},
                    index=page * STRIDE,
                    status=DONE,
                    finished_at=timezone.now(),
                    items=settled,
                    counters=settled_counters,
                ),
                *(
                    self.chunk_model(
                        **{self.job_field: self.job},
                        index=page * STRIDE + 1 + n,
                        items=chunk_items[start : start + size],
                    )
                    for n, start in enumerate(range(0, len(chunk_items), size))
                ),
            ]
            self.chunk_model.objects.bulk_create(rows)
            self.progress(**progress)
            transaction.on_commit(lambda count=len(rows) - 1: self.queue_helpers(count))

    # Chunks

    def _lease(self) -> timedelta:
        return timedelta(seconds=self.lease_seconds())

    def claim_chunk(self):
        """Take a pending chunk, or one whose lease expired; None when there is none."""
        now = timezone.now()
        claimable = Q(status=PENDING) | Q(status=RUNNING, lease_until__lt=now)
        for chunk in self.chunks().filter(claimable).order_by("index")[:10]:
            claimed = (
                self.chunk_model.objects.filter(pk=chunk.pk)
                .filter(claimable)
                .update(
                    status=RUNNING,
                    token=uuid.uuid4(),
                    lease_until=now + self._lease(),
                    attempts=F("attempts") + 1,
                    claimed_by=f"{socket.gethostname()}:{os.getpid()}",
                )
            )
            if claimed:
                chunk.refresh_from_db()
                return chunk
        return None

    def renew_lease(self, chunk) -> None:
        renewed = self.chunk_model.objects.filter(pk=chunk.pk, token=chunk.token, status=RUNNING).update(
            lease_until=timezone.now() + self._lease()
        )
        if not renewed:
            raise LeaseLost(f"chunk {chunk.index} of job {self.job.pk} was taken over")

    def completed(self, futures: Iterable[Future], chunk) -> Iterator[Future]:
        """Futures as they complete, renewing the chunk's lease meanwhile (``LeaseLost`` when
        another worker took it over); the futures left are cancelled."""
        futures = list(futures)
        done: queue.SimpleQueue[Future] = queue.SimpleQueue()
        for future in futures:
            future.add_done_callback(done.put)
        interval = max(0.5, self.lease_seconds() / 4)
        renewed = time.monotonic()
        remaining = len(futures)
        try:
            while remaining:
                try:
                    future = done.get(timeout=interval)
                except queue.Empty:
                    future = None
                if future is not None:
                    remaining -= 1
                    yield future
                if time.monotonic() - renewed >= interval:
                    self.renew_lease(chunk)
                    renewed = time.monotonic()
        finally:
            for future in futures:
                future.cancel()

    def work_on(self, chunk) -> None:
        """Do the chunk and complete it (or give it up if the lease is lost)."""
        if chunk.attempts > self.max_chunk_attempts:
            message = f"Gave up after {self.max_chunk_attempts} attempts: the worker processing it kept dying."
            outcome = self.abandoned(chunk, message)
        else:
            try:
                outcome = self.process_chunk(chunk)
            except LeaseLost:
                logger.warning("gave up chunk %s of job %s: another worker took it over", chunk.index, self.job.pk)
                return
        self.complete_chunk(chunk, outcome)

    def complete_chunk(self, chunk, outcome) -> bool:
        """Record the outcome and count the chunk, once; False if another worker owns it now."""
        counters = self.chunk_counters(outcome)
        for attempt in range(self.complete_attempts):
            try:
                with transaction.atomic():
                    done = self.chunk_model.objects.filter(pk=chunk.pk, token=chunk.token, status=RUNNING).update(
                        status=DONE, finished_at=timezone.now(), counters=counters
                    )
                    if not done:
                        return False
                    self.record_chunk(chunk, outcome)
                    self.finish_if_complete()
                return True
            except IntegrityError:  # a row written concurrently (e.g. by an upload): compare again
                if attempt == self.complete_attempts - 1:
                    raise
        return False

    def finish_if_complete(self) -> bool:
        """Finish the job once every chunk is done; True when the job is no longer active.

        The job row is locked before the chunks are counted, so of two workers completing the
        last two chunks at once, the second one sees both done and finishes the job.
        """
        with transaction.atomic():
            row = self.model.objects.select_for_update().get(pk=self.job.pk)
            if not row.is_active:
                return True
            if not row.planned or self.chunks().exclude(status=DONE).exists():
                return False
            self.finish(status=outcome_status(row), message=self.completion_message(row), result=self.summary(row))
        return True
