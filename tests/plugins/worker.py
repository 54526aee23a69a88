"""A real Celery worker process for cross-process tests.

The worker runs ``celery -A config worker`` against the test database (PostgreSQL) and
Redis, on a queue of its own so that parallel runs on one machine never share tasks.
Tests using it see committed data only: ``hub_worker`` brings ``transactional_db``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from config.celery import app as celery_app
from tests.plugins.services import require_postgres, require_redis

ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class WorkerProcess:
    """A Celery worker subprocess that tests can kill and restart."""

    def __init__(self, queue: str, env: dict[str, str], concurrency: int = 2, also: tuple[str, ...] = ()):
        self.queue = queue
        self.queues = ",".join((queue, *also))
        self.env = env
        self.concurrency = concurrency
        self.name = f"{queue}@localhost"
        self.process: subprocess.Popen | None = None
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log_path = ARTIFACTS / f"worker-{queue}.log"

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--queues",
                self.queues,
                "--hostname",
                self.name,
                "--concurrency",
                str(self.concurrency),
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--include",
                "tests.plugins.worker_tasks",
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.wait_ready()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Celery worker exited; see {self.log_path}")
            if celery_app.control.ping(destination=[self.name], timeout=0.5):
                return
        raise RuntimeError(f"the Celery worker did not answer within {timeout}s; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL the whole worker (main process and pool), as a crash would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> None:
        self.stop()
        self.start()


def worker_env(queue: str, **overrides: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "PLATFORM_URL_ALLOWLIST": ",".join(settings.PLATFORM_URL_ALLOWLIST),
        "PLATFORM_RETRY_BACKOFF": str(settings.PLATFORM_RETRY_BACKOFF),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "CONN_MAX_AGE": "0",
        "CELERY_MAX_REDELIVERIES": "2",
    }
    env.update(overrides)
    return env


@pytest.fixture(scope="session")
def hub_worker_process(django_db_setup, django_db_blocker):
    """One worker for the session, started on first use."""
    with django_db_blocker.unblock():
        require_postgres()
        require_redis()
        queue = f"test-{uuid.uuid4().hex[:10]}"
        celery_app.conf.task_default_queue = queue
        # One worker for the session serves the webhooks queue too (production runs one of each).
        worker = WorkerProcess(queue, worker_env(queue), also=(f"{queue}.webhooks",))
        worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def hub_worker(hub_worker_process, transactional_db):
    """Tasks go to the real worker for this test (not run in-process)."""
    celery_app.conf.task_always_eager = False
    if hub_worker_process.process.poll() is not None:
        hub_worker_process.start()
    yield hub_worker_process
    celery_app.conf.task_always_eager = True
