"""Fault injection for the integration suites: a private Redis, a live web server, a
crashable worker, and the database connections of a worker to cut.

Everything runs against real parts. The ``fault_stack`` of a test is:

* a ``redis-server`` of its own on a free loopback port (never the machine's shared one),
  append-only so that a stop and start keeps the queued and unacknowledged messages, as a
  production Redis with persistence does;
* a uvicorn process in the production mode (JSON logs, Redis cache and broker, the test
  database), the web side operators probe with ``/readyz``;
* Celery workers made with ``stack.worker(**env)``, pointed at that Redis and at the test
  database under an ``application_name`` of their own (so that ``pg_terminate_backend``
  can find their connections);
* this test process publishing its tasks to the private Redis too.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import redis
from django.conf import settings
from django.db import connection
from kombu import pools as kombu_pools

from catalog.tokens import StampedRefreshToken
from config.celery import app as celery_app
from tests.plugins.services import require, require_postgres
from tests.plugins.sshd import free_port
from tests.plugins.worker import ARTIFACTS, WorkerProcess, worker_env

ROOT = Path(__file__).resolve().parents[2]
VISIBILITY_TIMEOUT = 2
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def wait_until(condition: Callable[[], object], timeout: float = 60, poll: float = 0.05, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(poll)


class RedisServer:
    """A ``redis-server`` on 127.0.0.1:<free port>, with its data in a folder of its own."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="hub-redis-"))
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log_path = ARTIFACTS / f"redis-{self.port}.log"

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.root),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--daemonize",
                "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_until(self.answers, timeout=20, what=f"redis-server on {self.port}")

    def answers(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"redis-server is not running; see {self.log_path}")
        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        """A clean shutdown (SIGTERM: Redis writes its append-only file and exits)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def _reset_celery_pools() -> None:
    """Drop the connections the Celery app keeps, so the next publish uses the new broker."""
    # kombu keeps its pools in global registries keyed by connection: closing one without
    # dropping it from the registry leaves a closed pool for the next publish to find.
    kombu_pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@contextmanager
def publishing_to(broker_url: str, queue: str) -> Iterator[None]:
    """This process sends its tasks (and pings) to ``broker_url`` on ``queue``, not in-process."""
    saved = (celery_app.conf.broker_url, celery_app.conf.task_default_queue, celery_app.conf.task_always_eager)
    _reset_celery_pools()
    celery_app.conf.broker_url, celery_app.conf.task_default_queue = broker_url, queue
    celery_app.conf.task_always_eager = False
    try:
        yield
    finally:
        _reset_celery_pools()
        celery_app.conf.broker_url, celery_app.conf.task_default_queue, celery_app.conf.task_always_eager = saved


@contextmanager
def in_process() -> Iterator[None]:
    """Run tasks eagerly for a while (preparing data: product imports, first syncs)."""
    saved = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = saved


class WebServer:
    """uvicorn serving the hub in the production mode, on a free loopback port."""

    def __init__(self, env: dict[str, str], name: str = "web") -> None:
        self.env = env
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = ARTIFACTS / f"{name}-{self.port}.log"
        self.process: subprocess.Popen | None = None
        self.client = httpx.Client(base_url=self.base, timeout=15)

    def start(self, *extra: str) -> None:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--lifespan",
                "off",
                "--log-config",
                "config/uvicorn_log.json",
                *extra,
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

        def up() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited; see {self.log_path}")
            try:
                return self.client.get("/healthz").status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up, timeout=60, poll=0.2, what="uvicorn")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        self.client.close()

    def get(self, path: str, user=None, **kwargs) -> httpx.Response:
        return self.request("GET", path, user, **kwargs)

    def post(self, path: str, user=None, **kwargs) -> httpx.Response:
        return self.request("POST", path, user, **kwargs)

    def request(self, method: str, path: str, user=None, **kwargs) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if user is not None:
            headers["Authorization"] = f"Bearer {StampedRefreshToken.for_user(user).access_token}"
        return self.client.request(method, path, headers=headers, **kwargs)

    def readyz(self) -> httpx.Response:
        return self.client.get("/readyz", timeout=20)


def production_env(redis_url: str, queue: str, **overrides: str) -> dict[str, str]:
    """The environment of the production mode against the test database and ``redis_url``."""
    env = worker_env(
        queue,
        REDIS_URL=redis_url,
        CELERY_BROKER_URL=redis_url,
        DEBUG="false",
        SECRET_KEY=settings.SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        LOG_FORMAT="json",
        THROTTLE_USER="100000/min",
        THROTTLE_ANON="100000/min",
    )
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(overrides)
    return env


class FaultStack:
    """One test's private Redis, web server and workers (see the module docstring)."""

    def __init__(self) -> None:
        self.redis = RedisServer()
        self.queue = f"fault-{uuid.uuid4().hex[:8]}"
        self.app_name = f"hub-fault-{uuid.uuid4().hex[:8]}"
        self.web = WebServer(production_env(self.redis.url, self.queue), name=f"web-{self.queue}")
        self.workers: list[WorkerProcess] = []
        self.seed = int(os.environ.get("FAULT_SEED") or random.SystemRandom().randrange(10**9))
        self.random = random.Random(self.seed)
        print(f"fault stack: FAULT_SEED={self.seed}")  # shown with a failure, to replay its kill points

    def worker(self, concurrency: int = 2, **overrides: str) -> WorkerProcess:
        """A worker on the private Redis whose lost messages come back after 2 s (unless overridden)."""
        overrides = {"CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT), **overrides}
        env = production_env(self.redis.url, self.queue, DATABASE_URL=_database_url_for(self.app_name), **overrides)
        worker = WorkerProcess(self.queue, env, concurrency=concurrency)
        worker.name = f"{self.queue}-{len(self.workers)}@localhost"
        self.workers.append(worker)
        worker.start()
        return worker

    def restart_web(self, **env: str) -> WebServer:
        """A new web server with more settings (the same Redis, queue and database)."""
        self.web.stop()
        self.web = WebServer({**self.web.env, **env}, name=f"web-{self.queue}")
        self.web.start()
        return self.web

    def restart_after_visibility(self, worker: WorkerProcess, killed_at: float) -> None:
        """Start a killed worker once Redis will hand its unacknowledged messages out again."""
        # The new worker restores, when it starts, the messages delivered over the timeout ago.
        time.sleep(max(0.0, killed_at + VISIBILITY_TIMEOUT + 0.3 - time.monotonic()))
        worker.start()

    def terminate_worker_connections(self) -> int:
        """``pg_terminate_backend`` on every database connection of this stack's workers."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = %s",
                [self.app_name],
            )
            return cursor.fetchone()[0]

    def assert_degraded(self, user, component: str) -> dict:
        """During an outage: /readyz is 503 naming the component, and the API still answers."""
        ready = self.web.readyz()
        body = ready.json()
        assert ready.status_code == 503, body
        assert body["components"][component]["status"] == "error", body
        assert self.web.get("/healthz").status_code == 200
        api = self.web.get("/api/v1/stores/", user)
        assert api.status_code == 200, api.text
        return body

    def assert_ready(self) -> None:
        wait_until(lambda: self.web.readyz().status_code == 200, timeout=30, poll=0.5, what="/readyz 200")

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.web.stop()
        self.redis.remove()


def _database_url_for(application_name: str) -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
    return f"postgres://{auth}@{host}:{port}/{db['NAME']}?application_name={application_name}"


@pytest.fixture
def fault_stack(transactional_db) -> Iterator[FaultStack]:
    """A private Redis, a live production-mode web server, and workers made on demand."""
    require_postgres()
    require(os.access(REDIS_SERVER, os.X_OK), "redis-server (apt-get install redis-server)")
    stack = FaultStack()
    try:
        stack.redis.start()
        stack.web.start()
        with publishing_to(stack.redis.url, stack.queue):
            yield stack
    finally:
        stack.close()
