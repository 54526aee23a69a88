"""The beat scheduler: django-celery-beat's schedule (the periodic tasks in the database) with a
heartbeat, and in the embedded mode a scheduler inside the web server itself.

- ``HubScheduler`` (``CELERY_BEAT_SCHEDULER``, the ``celery beat`` process of the production
  mode): the database scheduler, recording a heartbeat as it ticks.
- ``EmbeddedScheduler``: the same, run by the embedded server (``make run``, ``make demo``) in a
  daemon thread (:func:`start_embedded_scheduler`, called by ``config/asgi.py`` when
  ``EMBEDDED_SCHEDULER`` is on). Due tasks run in-process, in a small thread pool, as the
  embedded mode runs every task; last-run times are written after each task, so the admin's
  periodic tasks show them.

One scheduler per var dir: the thread runs beat only while it holds an exclusive ``flock`` on
``VAR_DIR/scheduler.lock``; the other servers (or uvicorn workers) retry every
``SCHEDULER_LOCK_RETRY`` seconds and take over once its holder is gone (the kernel frees the
lock of a dead process). A file lock rather than a database row lock: SQLite has no row locks
and holding a write transaction open would block every other writer.

The heartbeat (the mode and the time of the last tick) is kept where every process of the
deployment can read it: a file in ``VAR_DIR`` in the embedded mode, whose processes share no
cache, and the cache (Redis) in the production mode, whose beat runs apart from the web.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from celery.beat import Service
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.utils import timezone
from django_celery_beat.schedulers import DatabaseScheduler

logger = logging.getLogger(__name__)

HEARTBEAT_CACHE_KEY = "scheduler:heartbeat"
# A tick writes the heartbeat at most this often (seconds): ticks come every second in the
# embedded mode, and a write per tick would be noise.
HEARTBEAT_EVERY = 5


def heartbeat_path() -> Path:
    return Path(settings.VAR_DIR) / "scheduler.json"


def record_heartbeat(now: datetime | None = None) -> None:
    beat = {"mode": settings.RUNTIME_MODE, "pid": os.getpid(), "last_tick": (now or timezone.now()).isoformat()}
    if settings.EMBEDDED:
        path = heartbeat_path()
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(beat))
        os.replace(partial, path)  # readers never see half a file
    else:
        cache.set(HEARTBEAT_CACHE_KEY, beat, timeout=None)


def read_heartbeat() -> dict | None:
    """The last heartbeat, ``{"mode", "pid", "last_tick": datetime}``, or None if none was recorded."""
    if settings.EMBEDDED:
        try:
            beat = json.loads(heartbeat_path().read_text())
        except (FileNotFoundError, ValueError):
            return None
    else:
        try:
            beat = cache.get(HEARTBEAT_CACHE_KEY)
        except Exception:  # the cache (Redis) down: no heartbeat to show, never an error page
            logger.warning("could not read the scheduler heartbeat from the cache", exc_info=True)
            return None
    if not beat:
        return None
    return dict(beat, last_tick=datetime.fromisoformat(beat["last_tick"]))


class HubScheduler(DatabaseScheduler):
    """django-celery-beat's database scheduler, recording a heartbeat as it ticks."""

    _last_heartbeat = 0.0

    def tick(self, *args, **kwargs):
        interval = super().tick(*args, **kwargs)
        if time.monotonic() - self._last_heartbeat >= HEARTBEAT_EVERY:
            try:
                record_heartbeat()
            except Exception:  # a heartbeat lost is no reason to stop scheduling
                logger.warning("could not record the scheduler heartbeat", exc_info=True)
            else:
                self._last_heartbeat = time.monotonic()
        return interval


class EmbeddedScheduler(HubScheduler):
    """Runs due tasks in this process, in a thread pool: never waits on a broker or a worker,
    and a long task (a store sync) never holds up the ticks of the others."""

    executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="scheduled-task")

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("sync_every_tasks", 1)  # last-run times saved as soon as a task is sent
        super().__init__(*args, **kwargs)

    def apply_async(self, entry, producer=None, advance=True, **kwargs):
        entry = self.reserve(entry) if advance else entry
        self.executor.submit(run_in_process, entry.task, entry.args, entry.kwargs)
        self._tasks_since_sync += 1
        if self.should_sync():
            self._do_sync()
        return None


def run_in_process(name: str, args, kwargs) -> None:
    from config.celery import app

    try:
        app.tasks[name].apply(args=args, kwargs=kwargs, throw=True)
    except Exception:
        logger.exception("scheduled task %s failed", name)
    finally:
        connections.close_all()  # this pool thread's connections


def hold_lock(path: Path):
    """An open file holding an exclusive lock on ``path``, or None if another process holds it."""
    handle = open(path, "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def run_embedded_scheduler(stop: threading.Event) -> None:
    """Waits for the var dir's scheduler lock, then runs beat until the process ends."""
    from config.celery import app

    path = Path(settings.VAR_DIR) / "scheduler.lock"
    while not stop.is_set():
        lock = hold_lock(path)
        if lock is None:
            stop.wait(settings.SCHEDULER_LOCK_RETRY)
            continue
        logger.info("embedded scheduler: running the beat schedule in this process (pid %s)", os.getpid())
        try:
            app.set_current()
            app.loader.import_default_modules()  # the apps' tasks.py, as a worker registers them
            Service(app, max_interval=1, scheduler_cls=EmbeddedScheduler, remote_control=False).start()
        except Exception:
            logger.exception("embedded scheduler stopped")
            stop.wait(settings.SCHEDULER_LOCK_RETRY)
        finally:
            lock.close()


_started = threading.Event()


def start_embedded_scheduler() -> None:
    """Starts the scheduler thread once per process."""
    if _started.is_set():
        return
    _started.set()
    threading.Thread(
        target=run_embedded_scheduler, args=(threading.Event(),), name="embedded-scheduler", daemon=True
    ).start()
