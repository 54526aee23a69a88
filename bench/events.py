"""Event stream and inbound webhook benchmark.

Prints, in one run:
- **stream latency**: a "worker" process (``--publish``, its own Django process, as a Celery
  worker is) reports a job's progress with ``config.jobs.record_progress`` 40 times, 0.3 s
  apart; 100 WebSocket clients connected to uvicorn (``config.asgi``) through channels-redis
  receive each ``sync_progress``. Latency: from just before ``record_progress`` (the row's
  update, its commit and the publish included) to the client's receipt, over every client
  and update: p50, p99, max;
- **inbound webhook throughput**: 1,000 signed change notifications posted to
  ``/api/v1/webhooks/{store}/products`` through Django's full stack (in process, test client),
  each verified (Standard Webhooks HMAC), recorded (its id, for replays) and merged into the
  store's waiting webhook job; against the same endpoint with the signature check replaced
  by a header read (the baseline), as a ratio. Best of ``BENCH_ROUNDS`` alternated rounds.

PostgreSQL (``hub_bench_events``, recreated; ``BENCH_DATABASE_URL``) and Redis
(``BENCH_REDIS_URL``, default db 12, a channel prefix of its own) are required.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import free_port, recreate_postgres_database

PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hub_bench_events")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "100"))
UPDATES = int(os.environ.get("BENCH_UPDATES", "40"))
NOTIFICATIONS = int(os.environ.get("BENCH_NOTIFICATIONS", "1000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
SECRET = "webhook_secret_123"


def _env(workdir: str) -> dict[str, str]:
    return {
        "DATABASE_URL": PG_URL,
        "REDIS_URL": REDIS_URL,
        "CELERY_BROKER_URL": "memory://",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "VAR_DIR": workdir,
        "LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECURE_SSL_REDIRECT": "false",
        "CHANNEL_LAYER_PREFIX": f"bench-{uuid.uuid4().hex[:8]}",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "THROTTLE_WEBHOOK": "1000000/min",
        "STORESYNC_EVENT_PROGRESS_INTERVAL": "0.2",
        "PLATFORM_URL_ALLOWLIST": "127.0.0.1",
    }


def _setup(create: bool) -> None:
    if create:
        recreate_postgres_database(PG_URL)
    import django

    django.setup()
    if create:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def publish(job_id: str, updates: int, interval: float) -> None:
    """The worker side: progress reports of one job; prints when each was started."""
    _setup(create=False)
    from config.jobs import record_progress
    from storesync.models import StoreSyncJob

    job = StoreSyncJob.objects.get(pk=job_id)
    record_progress(job, total=updates + 1, processed=1)  # the first report announces the start
    time.sleep(interval)
    for _ in range(updates):
        started = time.time()
        record_progress(job, processed=1)
        print(json.dumps({"records_processed": job.items_processed, "at": started}), flush=True)
        time.sleep(interval)


async def _clients(url: str, count: int, expected: int, received: list[tuple[int, float]]) -> None:
    from websockets.asyncio.client import connect

    sockets = [await connect(url, open_timeout=30, max_queue=None) for _ in range(count)]

    async def read(ws):
        seen = 0
        while seen < expected:
            message = json.loads(await ws.recv())
            if message["event"] == "sync_progress" and not message.get("snapshot"):
                received.append((message["data"]["records_processed"], time.time()))
                seen += 1

    ready.set()
    await asyncio.wait_for(asyncio.gather(*(read(ws) for ws in sockets)), timeout=120)
    for ws in sockets:
        await ws.close()


ready = asyncio.Event()


def stream_latency(env: dict[str, str], store, token: str, job) -> dict[str, float]:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--lifespan",
            "off",
            "--log-level",
            "warning",
        ],
        env={**os.environ, **env},
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 30
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.1)
        url = f"ws://127.0.0.1:{port}/api/v1/stores/{store.pk}/sync/events/stream?token={token}"
        received: list[tuple[int, float]] = []

        async def main():
            clients = asyncio.create_task(_clients(url, CLIENTS, UPDATES, received))
            await ready.wait()
            worker = await asyncio.create_subprocess_exec(
                sys.executable,
                __file__,
                "--publish",
                str(job.pk),
                str(UPDATES),
                "0.3",
                env={**os.environ, **env},
                stdout=asyncio.subprocess.PIPE,
            )
            lines = (await worker.communicate())[0].decode().splitlines()
            await clients
            return {json.loads(line)["records_processed"]: json.loads(line)["at"] for line in lines}

        sent = asyncio.run(main())
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    latencies = sorted((at - sent[n]) * 1000 for n, at in received if n in sent)
    return {
        "deliveries": len(latencies),
        "p50": statistics.median(latencies),
        "p99": latencies[int(len(latencies) * 0.99) - 1],
        "max": latencies[-1],
    }


def webhook_throughput(store) -> dict[str, float]:
    from django.test import Client

    from storesync.webhooks import inbound as webhooks_in
    from storesync.webhooks.models import InboundWebhook
    from storesync.webhooks.signatures import read_headers, sign_headers

    client = Client()
    url = f"/api/v1/webhooks/{store.uuid}/products"
    real_verify = webhooks_in.verify

    def header_read_only(secret, headers, body, *, tolerance, now=None):
        return read_headers(headers)

    def run(signed: bool) -> float:
        webhooks_in.verify = real_verify if signed else header_read_only
        bodies = []
        for n in range(NOTIFICATIONS):
            body = json.dumps(
                {"type": "products.updated", "timestamp": "2026-11-23T10:00:00Z", "data": {"ids": [n % 500 + 1]}}
            ).encode()
            headers = sign_headers(SECRET, f"msg_{uuid.uuid4().hex}", body)
            bodies.append((body, {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}))
        started = time.perf_counter()
        for body, headers in bodies:
            response = client.post(url, data=body, content_type="application/json", **headers)
            assert response.status_code == 202, response.content
        elapsed = time.perf_counter() - started
        webhooks_in.verify = real_verify
        return elapsed

    run(True)  # warm-up
    signed, bare = [], []
    for _ in range(ROUNDS):
        signed.append(run(True))
        bare.append(run(False))
    assert InboundWebhook.objects.count() == NOTIFICATIONS * (2 * ROUNDS + 1)
    best_signed, best_bare = min(signed), min(bare)
    return {
        "signed_per_s": NOTIFICATIONS / best_signed,
        "bare_per_s": NOTIFICATIONS / best_bare,
        "ratio": best_signed / best_bare,
    }


def main() -> None:
    workdir = tempfile.mkdtemp(prefix="bench-events-")
    env = _env(workdir)
    env["SECRET_KEY"] = uuid.uuid4().hex * 2
    os.environ.update(env)
    _setup(create=True)
    from django.contrib.auth.models import Group, User

    from catalog.models import Store, StoreMembership
    from catalog.tokens import StampedRefreshToken
    from config.jobs import JobStatus
    from storesync import services
    from storesync.models import StoreSyncJob

    store = Store.objects.create(
        code="bench", name="Bench", platform="prestashop", platform_url="http://127.0.0.1:9/api", platform_api_key="k"
    )
    services.configure_sync(
        store,
        sync_frequency="real_time",
        entities=[{"type": "products"}],
        webhook_config={"endpoint": "http://127.0.0.1:9/hook", "secret": SECRET},
    )
    user = User.objects.create_user("viewer", password="x-Bench-123")
    user.groups.add(Group.objects.get(name="VIEWER"))
    StoreMembership.objects.create(store=store, user=user)
    token = str(StampedRefreshToken.for_user(user).access_token)
    job = StoreSyncJob.objects.create(
        kind="store_sync",
        store=store,
        lock_key=f"store_sync:{store.pk}",
        status=JobStatus.RUNNING,
        entities=["products"],
    )

    print(f"stream: {CLIENTS} WebSocket clients, {UPDATES} progress updates from a worker process")
    stream = stream_latency(env, store, token, job)
    print(
        f"  deliveries {stream['deliveries']}  p50 {stream['p50']:.1f} ms  p99 {stream['p99']:.1f} ms  "
        f"max {stream['max']:.1f} ms"
    )
    StoreSyncJob.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED)
    print(f"inbound webhooks: {NOTIFICATIONS} notifications per round, best of {ROUNDS}")
    hooks = webhook_throughput(store)
    print(
        f"  with signature checks {hooks['signed_per_s']:.0f}/s, without {hooks['bare_per_s']:.0f}/s, "
        f"ratio {hooks['ratio']:.2f}x the time"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--publish":
        publish(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    else:
        main()
