"""Tasks that only the test worker loads (``celery worker --include``): faults on demand."""

import os
import signal

import redis
from celery import shared_task
from django.conf import settings

from catalog.models import ImportRun
from config.celery import HubTask
from config.jobs import JobTask, run_job


def _count_run(key: str) -> int:
    return redis.Redis.from_url(settings.REDIS_URL).incr(key)


class CountsItsDrop(HubTask):
    """Counts under ``<counter key>:dropped`` the moment the redelivery cap drops its message."""

    def on_redelivery_limit(self, args, kwargs) -> None:
        _count_run(f"{args[0]}:dropped")


@shared_task(bind=True, base=CountsItsDrop)
def kill_own_worker(self, counter_key: str) -> None:
    """Counts its run, then dies the way an out-of-memory kill would."""
    _count_run(counter_key)
    os.kill(os.getpid(), signal.SIGKILL)


@shared_task(base=JobTask, job_model="catalog.ImportRun")
def job_that_kills_its_worker(job_id: str, counter_key: str) -> None:
    def work(job):
        _count_run(counter_key)
        os.kill(os.getpid(), signal.SIGKILL)

    run_job(ImportRun, job_id, work)
