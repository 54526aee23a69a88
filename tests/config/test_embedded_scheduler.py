"""The embedded server (`make run`) runs the beat schedule itself: a periodic task runs with no
other process, its last run shows in the periodic tasks, the heartbeat says the scheduler is
alive, and two servers on one var dir run a single scheduler (the second takes over when the
first is gone)."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from contextlib import ExitStack

import httpx

from tests.plugins.embedded import embedded_env, make_run, manage

ALERTS = "Store sync: evaluate the alert rules"
RUNNING = "embedded scheduler: running the beat schedule in this process"


def every_two_seconds(env) -> None:
    """The alert evaluation (every minute by default) made due every 2 s."""
    manage(
        "shell",
        "-c",
        "from django_celery_beat.models import IntervalSchedule, PeriodicTask; "
        "every, _ = IntervalSchedule.objects.get_or_create(every=2, period='seconds'); "
        f"PeriodicTask.objects.filter(name={ALERTS!r}).update(interval=every)",
        env=env,
    )


def alert_task_runs(var_dir) -> tuple[int, str | None]:
    with sqlite3.connect(var_dir / "db.sqlite3") as db:
        return db.execute(
            "SELECT total_run_count, last_run_at FROM django_celery_beat_periodictask WHERE name = ?", (ALERTS,)
        ).fetchone()


def wait_until(condition, *, timeout: float = 60, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def scheduler_env(tmp_path):
    var_dir = tmp_path / "var"
    env = embedded_env(var_dir, EMBEDDED_SCHEDULER="true", SCHEDULER_LOCK_RETRY="1")
    manage("migrate", "--noinput", env=env)
    every_two_seconds(env)
    return var_dir, env


def test_make_run_runs_the_beat_schedule_in_process(tmp_path):
    var_dir, env = scheduler_env(tmp_path)
    assert alert_task_runs(var_dir) == (0, None)
    with make_run(env, tmp_path / "make-run.log") as server:
        wait_until(lambda: alert_task_runs(var_dir)[0] >= 2, what="the alert evaluation to run twice")
        count, last_run_at = alert_task_runs(var_dir)
        assert last_run_at is not None  # the admin's "Last run"
        ready = httpx.get(f"{server.base_url}/readyz").json()
        assert ready["mode"] == "embedded"
        assert ready["scheduler"]["alive"] is True and ready["scheduler"]["last_tick"], ready
        assert RUNNING in server.log()
        assert "scheduled task" not in server.log()  # no task failed


def test_two_servers_on_one_var_dir_run_one_scheduler(tmp_path):
    var_dir, env = scheduler_env(tmp_path)
    with ExitStack() as stack:
        first = stack.enter_context(make_run(env, tmp_path / "first.log"))
        wait_until(lambda: RUNNING in first.log(), what="the first server's scheduler")
        second = stack.enter_context(make_run(env, tmp_path / "second.log"))
        wait_until(lambda: alert_task_runs(var_dir)[0] >= 1, what="a scheduled run")
        time.sleep(3)  # three lock retries of the second server
        assert RUNNING not in second.log()
        # The second server's console reads the heartbeat the first one writes.
        assert httpx.get(f"{second.base_url}/readyz").json()["scheduler"]["alive"] is True

        os.killpg(first.process.pid, signal.SIGKILL)  # the lock dies with its holder
        first.process.wait(timeout=10)
        wait_until(lambda: RUNNING in second.log(), timeout=30, what="the second server to take over")
        runs = alert_task_runs(var_dir)[0]
        wait_until(lambda: alert_task_runs(var_dir)[0] > runs, what="a run by the second server")
