"""NAS runs on a real Celery worker process, through the API."""

from __future__ import annotations

import uuid

import pytest

from config.celery import app as celery_app
from config.jobs import JobStatus
from nasync.models import Document, NasSyncRun
from tests.plugins.services import require_postgres, require_redis
from tests.plugins.worker import WorkerProcess, worker_env

from .conftest import pdf_bytes


@pytest.fixture
def nas_worker(nas, transactional_db):
    """A worker of its own whose environment points at this test's NAS."""
    require_postgres()
    require_redis()
    queue = f"test-nas-{uuid.uuid4().hex[:8]}"
    previous = celery_app.conf.task_default_queue, celery_app.conf.task_always_eager
    worker = WorkerProcess(queue, worker_env(queue, **nas.env), concurrency=1)
    worker.start()
    celery_app.conf.task_default_queue, celery_app.conf.task_always_eager = queue, False
    yield worker
    celery_app.conf.task_default_queue, celery_app.conf.task_always_eager = previous
    worker.stop()


@pytest.mark.worker
def test_a_run_on_a_real_worker_one_at_a_time(nas_worker, nas, api, operator, make_document):
    documents = [make_document(content=pdf_bytes(60_000, f"w{i}")) for i in range(30)]
    client = api(operator)
    queued = client.post("/api/v1/sync/run?async=true")
    assert queued.status_code == 202
    second = client.post("/api/v1/sync/run")
    assert second.status_code == 409 and second.json()["detail"]["job_id"] == queued.json()["run_id"]

    run = NasSyncRun.objects.get(pk=queued.json()["run_id"])
    from config.jobs import wait_for_job

    run = wait_for_job(run, timeout=60)
    assert run.status == JobStatus.SUCCEEDED, (run.message, run.errors)
    assert run.attempts == 1 and run.items_succeeded == 30
    assert Document.objects.filter(synced_to_nas=True).count() == 30
    assert set(nas.files()) == {d.relative_path for d in documents}

    again = client.post("/api/v1/sync/run")
    assert again.status_code == 200
    assert {k: again.json()[k] for k in ("total", "synced", "failed", "errors")} == {
        "total": 0,
        "synced": 0,
        "failed": 0,
        "errors": [],
    }
