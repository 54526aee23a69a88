"""The embedded server as operators start it: `make run`, in a temporary VAR_DIR (its own SQLite)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
# Variables a developer's shell or the test run may set that would change what `make run` serves.
NOT_INHERITED = ("REDIS_URL", "DATABASE_URL", "PUBLIC_BASE_URL", "LISTEN_URL", "CACHE_KEY_PREFIX", "MAKEFLAGS")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def embedded_env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in NOT_INHERITED}
    env["VAR_DIR"] = str(var_dir)
    env["EMBEDDED_SCHEDULER"] = "false"  # the tests of the scheduler turn it on
    env.update(extra)
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def wait_until_serving(base_url: str, process: subprocess.Popen, failure, *, timeout: float = 60) -> None:
    """Until ``/healthz`` answers; fails with ``failure()`` if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(f"{base_url}/healthz", timeout=2)
            return
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(failure())
            time.sleep(0.3)


@dataclass
class MadeServer:
    base_url: str
    port: int
    log_path: Path
    process: subprocess.Popen

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def make_run(env: dict[str, str], log_path: Path, *make_args: str):
    """`make run PORT=<free port>` with ``env`` (migrated beforehand); yields a :class:`MadeServer`.
    ``-o .venv/.installed``: the virtualenv is taken as installed, the test never reinstalls it."""
    port = free_port()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                "make",
                "--no-print-directory",
                "-o",
                ".venv/.installed",
                "run",
                f"PORT={port}",
                "HOST=127.0.0.1",
                *make_args,
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # make, its shell and uvicorn: stopped together
        )
    server = MadeServer(f"http://127.0.0.1:{port}", port, log_path, process)
    try:
        wait_until_serving(server.base_url, process, lambda: f"`make run` did not serve: {server.log()[-3000:]}")
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
