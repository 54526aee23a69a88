import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from catalog.models import ImportRun
from config.errors import DomainError
from config.jobs import (
    JobAlreadyRunning,
    JobRunner,
    JobStatus,
    backoff_delay,
    celery_task,
    fail_stale_jobs,
    finish_job,
    lifecycle,
    record_progress,
    run_job,
    runner_for,
    start_job,
    wait_for_job,
)
from tests.plugins.services import require_postgres

KIND = ImportRun.KIND


def start(store, **kwargs):
    return start_job(ImportRun, kind=KIND, store=store, **kwargs)


@pytest.mark.django_db
def test_second_start_for_the_same_store_and_kind_is_refused(store, other_store):
    first = start(store)
    with pytest.raises(JobAlreadyRunning) as refused:
        start(store)
    assert refused.value.job.pk == first.pk
    assert start(other_store).store == other_store
    assert start_job(ImportRun, kind="other_kind", store=store).kind == "other_kind"


@pytest.mark.django_db
def test_a_finished_job_frees_the_store(store):
    finish_job(start(store), status=JobStatus.SUCCEEDED)
    assert start(store).status == JobStatus.QUEUED


@pytest.mark.django_db
def test_jobs_without_a_store_are_exclusive_too():
    start_job(ImportRun, kind="global")
    with pytest.raises(JobAlreadyRunning):
        start_job(ImportRun, kind="global")


def race(work, threads: int) -> None:
    """``work`` in ``threads`` threads started together, each on a database connection of its own."""
    barrier = threading.Barrier(threads)

    def run():
        try:
            barrier.wait()
            work()
        finally:
            connection.close()

    started = [threading.Thread(target=run) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()


@pytest.mark.django_db(transaction=True)
def test_concurrent_starts_cannot_both_win(store):
    """Two connections racing: the partial unique index lets exactly one insert through."""
    require_postgres()
    outcomes: list[str] = []

    def contender():
        try:
            start(store)
            outcomes.append("started")
        except JobAlreadyRunning:
            outcomes.append("refused")

    race(contender, 8)
    assert sorted(outcomes) == ["refused"] * 7 + ["started"]
    assert ImportRun.objects.filter(store=store).count() == 1


@pytest.fixture(params=["in place", "locked"])
def progress_write(request, monkeypatch):
    """Both ways record_progress adds to a row: PostgreSQL's one statement, and the locked
    read and write of other databases (the embedded mode's SQLite)."""
    if request.param == "locked":
        monkeypatch.setattr(lifecycle, "_add_progress_in_place", lifecycle._add_progress_locked)
    return request.param


@pytest.mark.django_db
def test_progress_adds_up_and_caps_recorded_errors(store, progress_write):
    job = start(store)
    record_progress(
        job,
        total=1000,
        processed=400,
        succeeded=390,
        failed=10,
        counters={"created": 5},
        errors=[{"item": i, "message": "bad"} for i in range(400)],
    )
    record_progress(
        job,
        processed=600,
        succeeded=600,
        counters={"created": 1, "updated": 2},
        errors=[{"item": i, "message": "bad"} for i in range(200)],
    )
    job.refresh_from_db()
    assert (job.items_total, job.items_processed, job.items_succeeded, job.items_failed) == (1000, 1000, 990, 10)
    assert job.counters == {"created": 6, "updated": 2}
    assert len(job.errors) == 500 and job.error_count == 600
    assert job.progress == 100.0
    assert job.heartbeat_at is not None


@pytest.mark.django_db(transaction=True)
def test_progress_from_concurrent_workers_adds_up(store):
    """Several workers share one job: the row's counters lose none of their additions."""
    require_postgres()
    job = start(store)

    def worker():
        for _ in range(20):
            record_progress(ImportRun.objects.get(pk=job.pk), processed=1, counters={"created": 1})

    race(worker, 6)
    job.refresh_from_db()
    assert job.items_processed == 120 and job.counters == {"created": 120}


@pytest.mark.django_db(transaction=True)
def test_a_progress_tick_is_committed_at_once_and_the_connection_keeps_synchronous_commits(store):
    """Outside a transaction a tick commits on its own (asynchronously: only that tick's commit),
    so another connection sees it at once and the connection's next transactions are unchanged."""
    require_postgres()
    job = start(store)
    returned = record_progress(job, total=10, processed=3, counters={"created": 2})
    assert (returned.items_total, returned.items_processed, returned.counters) == (10, 3, {"created": 2})
    assert not connection.in_atomic_block
    seen = []
    race(lambda: seen.append(ImportRun.objects.get(pk=job.pk).items_processed), 1)  # another connection
    assert seen == [3]
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"


@pytest.mark.django_db
def test_progress_of_a_missing_job_raises(store):
    job = start(store)
    ImportRun.objects.filter(pk=job.pk).delete()
    with pytest.raises(ImportRun.DoesNotExist):
        record_progress(job, processed=1)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("succeeded", "failed", "expected"),
    [(10, 0, JobStatus.SUCCEEDED), (8, 2, JobStatus.PARTIAL), (0, 10, JobStatus.FAILED)],
)
def test_run_job_finishes_with_the_outcome_of_its_items(store, succeeded, failed, expected):
    job = start(store)

    def work(running):
        assert running.status == JobStatus.RUNNING
        record_progress(running, total=10, processed=10, succeeded=succeeded, failed=failed)

    finished = run_job(ImportRun, job.pk, work)
    assert finished.status == expected
    assert finished.attempts == 1
    assert finished.started_at <= finished.finished_at


@pytest.mark.django_db
def test_a_crashing_job_is_failed_with_its_reason_and_the_store_freed(store):
    job = start(store)

    def work(_job):
        raise RuntimeError("disk on fire")

    finished = run_job(ImportRun, job.pk, work)
    assert finished.status == JobStatus.FAILED
    assert "disk on fire" in finished.message
    start(store)


@pytest.mark.django_db
def test_a_redelivered_task_of_a_finished_job_does_nothing(store):
    job = start(store)
    calls = []
    run_job(ImportRun, job.pk, calls.append)
    assert run_job(ImportRun, job.pk, calls.append) is None
    assert len(calls) == 1


@pytest.mark.django_db
def test_a_redelivered_running_job_resumes_and_counts_the_attempt(store):
    job = start(store)
    ImportRun.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, attempts=1)
    finished = run_job(ImportRun, job.pk, lambda running: None)
    assert finished.attempts == 2 and finished.status == JobStatus.SUCCEEDED


@pytest.mark.django_db
def test_wait_returns_the_active_job_after_its_timeout(store):
    job = start(store)
    waited = wait_for_job(job, timeout=0.3)
    assert waited.status == JobStatus.QUEUED


@pytest.mark.django_db
def test_stale_running_jobs_are_failed(store, settings):
    job = start(store)
    settings.JOB_STALE_AFTER = 60
    ImportRun.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING, heartbeat_at=timezone.now() - timedelta(minutes=5)
    )
    assert fail_stale_jobs(ImportRun) == 1
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED


@pytest.mark.django_db
def test_the_reaper_fails_lost_jobs_of_every_kind_and_spares_live_ones(store, other_store, settings):
    from django_celery_beat.models import PeriodicTask

    from config.jobs.runner import NEVER_STARTED
    from nasync.models import NasSyncRun
    from operations.reaper import reap_stale_jobs

    settings.JOB_STALE_AFTER = 60
    long_ago = timezone.now() - timedelta(minutes=5)
    lost_message = start(store)
    ImportRun.objects.filter(pk=lost_message.pk).update(created_at=long_ago)
    lost_worker = start_job(NasSyncRun, kind=NasSyncRun.KIND, store=None)
    NasSyncRun.objects.filter(pk=lost_worker.pk).update(status=JobStatus.RUNNING, heartbeat_at=long_ago)
    waiting = start(other_store)
    running = start_job(NasSyncRun, kind="other-kind", store=None)
    NasSyncRun.objects.filter(pk=running.pk).update(status=JobStatus.RUNNING, heartbeat_at=timezone.now())

    assert reap_stale_jobs() == {"catalog.ImportRun": 1, "nasync.NasSyncRun": 1}

    for job in (lost_message, lost_worker, waiting, running):
        job.refresh_from_db()
    assert lost_message.status == JobStatus.FAILED and lost_message.message == NEVER_STARTED
    assert lost_worker.status == JobStatus.FAILED and "stopped reporting" in lost_worker.message
    assert waiting.status == JobStatus.QUEUED and running.status == JobStatus.RUNNING
    # A new job of the unblocked store and kind can start.
    assert start(store).status == JobStatus.QUEUED
    assert PeriodicTask.objects.get(task="config.reaper.reap_stale_jobs").interval.every == 5


@pytest.mark.django_db
def test_a_failed_jobs_log_lines_carry_its_id_and_store(store):
    import logging

    from config.observability import ContextFilter

    class Collect(logging.Handler):
        def __init__(self):
            super().__init__()
            self.records = []

        def emit(self, record):
            self.records.append(record)

    handler = Collect()
    handler.addFilter(ContextFilter())
    jobs_logger = logging.getLogger("config.jobs")
    jobs_logger.addHandler(handler)
    try:
        job = start(store)

        def broken(_job):
            raise ValueError("the shop sent nonsense")

        run_job(ImportRun, job.pk, broken)
    finally:
        jobs_logger.removeHandler(handler)
    failed = [record for record in handler.records if "failed" in record.getMessage()]
    assert failed and failed[0].job_id == str(job.pk) and failed[0].store_id == str(store.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "the shop sent nonsense" in job.message


class _FailingImport(JobRunner, register=False):
    """A runner whose work raises a domain error (a second runner on the import table)."""

    model = ImportRun
    kind = "failing_import"
    task_name = "catalog.tasks.import_products_task"

    def run(self) -> None:
        raise DomainError("PLATFORM_AUTH_FAILED", 502, "The shop refused the API key.")


@pytest.mark.django_db
def test_a_domain_error_finishes_the_job_with_its_code(store):
    job = _FailingImport.create(store=store)
    finished = _FailingImport.execute(job.pk)
    assert finished.status == JobStatus.FAILED
    assert finished.error_code == "PLATFORM_AUTH_FAILED"
    assert "The shop refused the API key." in finished.message


@pytest.mark.django_db
def test_an_unexpected_error_finishes_the_job_as_an_internal_error(store):
    def explode(job):
        raise RuntimeError("boom")

    finished = run_job(ImportRun, start(store).pk, explode)
    assert finished.status == JobStatus.FAILED and finished.error_code == "INTERNAL_ERROR"


def test_runners_are_found_by_their_table_and_tasks_by_their_name():
    from catalog.services import ProductImportRunner

    assert runner_for("catalog.ImportRun") is ProductImportRunner
    assert runner_for(ImportRun) is ProductImportRunner
    assert celery_task(ProductImportRunner.task_name).name == "catalog.tasks.import_products_task"


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [(1, 1.0, 3.0), (2, 2.0, 6.0), (3, 4.0, 12.0), (10, 5.0, 15.0)],
)
def test_backoff_grows_exponentially_with_jitter_and_a_cap(attempt, low, high):
    delays = [backoff_delay(attempt, base=2.0, cap=10.0) for _ in range(200)]
    assert all(low <= delay <= high for delay in delays)
    assert len(set(delays)) > 1
