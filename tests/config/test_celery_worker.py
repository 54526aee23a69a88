"""The Celery configuration against a real worker: redelivery after a lost worker, and its cap."""

import time
import uuid

import pytest
import redis
from django.conf import settings

from catalog.models import ImportRun
from config.jobs import JobStatus, enqueue_job, start_job, wait_for_job
from tests.plugins import worker_tasks

pytestmark = pytest.mark.worker


def runs(key: str) -> int:
    return int(redis.Redis.from_url(settings.REDIS_URL).get(key) or 0)


def wait_for_runs(key: str, expected: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while runs(key) < expected and time.monotonic() < deadline:
        time.sleep(0.2)


def test_a_task_that_keeps_killing_its_worker_is_dropped_after_the_cap(hub_worker):
    key = f"test:runs:{uuid.uuid4().hex}"
    worker_tasks.kill_own_worker.delay(key)
    # acks_late + reject_on_worker_lost: redelivered at once after each death, until the cap (2).
    wait_for_runs(key, 3)
    time.sleep(3)
    assert runs(key) == 3
    assert hub_worker.process.poll() is None  # the worker's main process survives its children


def test_a_job_whose_task_keeps_killing_its_worker_ends_failed(hub_worker, store):
    key = f"test:runs:{uuid.uuid4().hex}"
    job = start_job(ImportRun, kind="fault", store=store)
    enqueue_job(job, worker_tasks.job_that_kills_its_worker.s(counter_key=key))
    job = wait_for_job(job, timeout=150)
    assert job.status == JobStatus.FAILED
    assert "killing its worker" in job.message
    assert job.attempts == 3 and runs(key) == 3
