"""Event stream and inbound webhook benchmark.

Prints, in one run:
- **stream latency** at 1, 100 and 500 clients (``BENCH_CLIENTS``): a "worker" process
  (``--publish``, its own Django process, as a Celery worker is) reports a running job's
  progress with ``config.jobs.record_progress`` ``BENCH_UPDATES`` times (40), 0.3 s apart;
  the clients, WebSocket connections to uvicorn serving ``config.asgi`` (the Redis pub/sub
  channel layer), receive each ``sync_progress``. Latency: from just before
  ``record_progress`` (the row's update, its commit and the publish included) to each
  client's receipt, over every client and update: p50, p99, max. **Floor**, in the same
  run, alternated with the project over ``BENCH_STREAM_ROUNDS`` rounds (2): the barest
  means of the same fan-out, a bare ``websockets`` server subscribed to a Redis pub/sub
  channel that broadcasts each message to its clients, fed by a process that only
  ``PUBLISH``es a message of the same size (``--floor-server``, ``--floor-publish``).
  Neither server compresses messages (uvicorn's ``--ws-per-message-deflate false``, as the
  hub is served).
  The load average is printed with every figure;
- **inbound webhook throughput**: 1,000 signed change notifications posted to
  ``/api/v1/webhooks/{store}/products`` through Django's full stack (in process, test client),
  each verified (Standard Webhooks HMAC), recorded (its id, for replays) and merged into the
  store's waiting webhook job; against the same endpoint with the signature check replaced
  by a header read (the baseline), as a ratio. Best of ``BENCH_ROUNDS`` alternated rounds.

PostgreSQL (``hub_bench_events``, recreated; ``BENCH_DATABASE_URL``) and Redis
(``BENCH_REDIS_URL``, default db 12, a channel prefix of its own) are required.
``BENCH_ONLY_STREAM=1`` stops after the stream's figures.
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
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import free_port, recreate_postgres_database

PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hub_bench_events")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
CLIENT_COUNTS = [int(n) for n in os.environ.get("BENCH_CLIENTS", "1,100,500").split(",")]
UPDATES = int(os.environ.get("BENCH_UPDATES", "40"))
INTERVAL = 0.3
STREAM_ROUNDS = int(os.environ.get("BENCH_STREAM_ROUNDS", "2"))
NOTIFICATIONS = int(os.environ.get("BENCH_NOTIFICATIONS", "1000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
SECRET = "webhook_secret_123"


def load() -> str:
    return "load average " + " ".join(f"{value:.1f}" for value in os.getloadavg())


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


# The publishing processes: each prints, per update, its number, when it was started and
# what the publishing call cost.


def _report(number: int, started: float, ended: float, published: float) -> None:
    line = {"records_processed": number, "at": started, "cost": ended - started, "published": published}
    print(json.dumps(line), flush=True)


def publish(job_id: str, updates: int, interval: float) -> None:
    """The worker side: progress reports of one job. Also notes when the progress message
    left for Redis (after the row's commit), to tell the fan-out from the database's share."""
    _setup(create=False)
    from config.jobs import record_progress
    from operations import events
    from storesync.models import StoreSyncJob

    published = []
    send = events.send

    def noting_send(group, message):
        send(group, message)
        if message["event"] == "sync_progress":
            published.append(time.time())

    events.send = noting_send
    job = StoreSyncJob.objects.get(pk=job_id)
    record_progress(job, total=updates + 1, processed=1)  # the first report announces the start
    time.sleep(interval)
    for _ in range(updates):
        started = time.time()
        record_progress(job, processed=1)
        _report(job.items_processed, started, time.time(), published[-1])
        time.sleep(interval)


def floor_publish(channel: str, updates: int, interval: float) -> None:
    """The floor's worker: a bare PUBLISH of a message shaped like a progress event."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.ping()
    for number in range(2, updates + 2):
        data = {"sync_id": str(uuid.uuid4()), "store_id": 1, "kind": "store_sync", "progress": 0.0}
        message = {"event": "sync_progress", "data": {**data, "records_processed": number, "records_total": 41}}
        started = time.time()
        client.publish(channel, json.dumps(message))
        ended = time.time()
        _report(number, started, ended, ended)
        time.sleep(interval)


async def floor_server(port: int, channel: str) -> None:
    """The floor's server: every message of a Redis channel broadcast to every client."""
    import redis.asyncio as aioredis
    from websockets.asyncio.server import broadcast, serve

    clients = set()

    async def handler(ws):
        clients.add(ws)
        try:
            await ws.wait_closed()
        finally:
            clients.discard(ws)

    pubsub = aioredis.from_url(REDIS_URL).pubsub()
    await pubsub.subscribe(channel)
    async with serve(handler, "127.0.0.1", port, compression=None):
        async for message in pubsub.listen():
            if message["type"] == "message":
                broadcast(clients, message["data"].decode())


# The clients


async def _receive(url: str, count: int, publisher: list[str], env: dict[str, str]) -> dict[str, float]:
    """Connects ``count`` clients, runs the publishing process, and returns the latencies."""
    from websockets.asyncio.client import connect

    sockets = [await connect(url, open_timeout=60, max_queue=None) for _ in range(count)]
    received: list[tuple[int, float]] = []

    async def read(ws):
        seen = 0
        while seen < UPDATES:
            message = json.loads(await ws.recv())
            if message["event"] == "sync_progress" and not message.get("snapshot"):
                received.append((message["data"]["records_processed"], time.time()))
                seen += 1

    readers = asyncio.gather(*(read(ws) for ws in sockets))
    worker = await asyncio.create_subprocess_exec(
        sys.executable, __file__, *publisher, env={**os.environ, **env}, stdout=asyncio.subprocess.PIPE
    )
    lines = [json.loads(line) for line in (await worker.communicate())[0].decode().splitlines()]
    await asyncio.wait_for(readers, timeout=120)
    for ws in sockets:
        await ws.close()
    sent = {line["records_processed"]: line for line in lines}
    return {
        "latencies": [(at - sent[n]["at"]) * 1000 for n, at in received if n in sent],
        "fan_out": [(at - sent[n]["published"]) * 1000 for n, at in received if n in sent],
        "costs": [line["cost"] * 1000 for line in lines],
    }


def _p99(values: list[float]) -> float:
    return sorted(values)[max(0, int(len(values) * 0.99) - 1)]


def _summary(run: dict[str, list[float]]) -> dict[str, float]:
    latencies = run["latencies"]
    return {
        "deliveries": len(latencies),
        "p50": statistics.median(latencies),
        "p99": _p99(latencies),
        "max": max(latencies),
        "fan_out_p99": _p99(run["fan_out"]),
        "publish": statistics.median(run["costs"]),
    }


@contextmanager
def _server(command: list[str], env: dict[str, str]):
    """A server subprocess on a free loopback port, until the block ends."""
    port = free_port()
    with open(Path(env["VAR_DIR"]) / "servers.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, *[str(port) if part == "{port}" else part for part in command]],
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError(f"{command} did not start; see {env['VAR_DIR']}/servers.log")
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def stream_latency(env: dict[str, str], store, user) -> None:
    """Project and floor, alternated, at each client count; prints the figures and the load."""
    from catalog.tokens import StampedRefreshToken
    from config.jobs import JobStatus
    from storesync.models import StoreSyncJob

    def access_token(user) -> str:
        return str(StampedRefreshToken.for_user(user).access_token)

    uvicorn = ["-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", "{port}"]
    uvicorn += ["--lifespan", "off", "--log-level", "warning", "--ws-per-message-deflate", "false"]
    channel = f"bench-floor-{uuid.uuid4().hex[:8]}"
    updates = [str(UPDATES), str(INTERVAL)]
    with _server(uvicorn, env) as hub_port, _server([__file__, "--floor-server", "{port}", channel], env) as bare:
        hub_url = f"ws://127.0.0.1:{hub_port}/api/v1/stores/{store.pk}/sync/events/stream?token="
        for count in CLIENT_COUNTS:
            results = {name: {"latencies": [], "fan_out": [], "costs": []} for name in ("project", "floor")}
            loads = [load()]
            for _ in range(STREAM_ROUNDS):
                job = StoreSyncJob.objects.create(
                    kind="store_sync",
                    store=store,
                    lock_key=f"bench:{uuid.uuid4()}",
                    status=JobStatus.RUNNING,
                    entities=["products"],
                )
                for name, url, publisher in (
                    # A token of its own each round: the run outlasts an access token's lifetime.
                    ("project", hub_url + access_token(user), ["--publish", str(job.pk), *updates]),
                    ("floor", f"ws://127.0.0.1:{bare}", ["--floor-publish", channel, *updates]),
                ):
                    for figure, values in asyncio.run(_receive(url, count, publisher, env)).items():
                        results[name][figure] += values
                StoreSyncJob.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED)
            loads.append(load())
            project, floor = (_summary(results[name]) for name in ("project", "floor"))
            print(
                f"{count} client(s), {UPDATES} updates x {STREAM_ROUNDS} rounds ({loads[0]} at the start, {loads[1]} at the end)"
            )
            for name, figures in (("project", project), ("floor", floor)):
                print(
                    f"  {name:8}  deliveries {figures['deliveries']}  p50 {figures['p50']:.1f} ms  "
                    f"p99 {figures['p99']:.1f} ms  max {figures['max']:.1f} ms  publish call {figures['publish']:.2f} ms  "
                    f"p99 from the PUBLISH {figures['fan_out_p99']:.1f} ms"
                )
            print(f"  ratio     p50 {project['p50'] / floor['p50']:.2f}x  p99 {project['p99'] / floor['p99']:.2f}x")


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
    from storesync import services

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
    print(f"stream: WebSocket clients, {UPDATES} progress updates from a worker process, against the floor")
    stream_latency(env, store, user)
    if os.environ.get("BENCH_ONLY_STREAM"):
        return
    print(f"inbound webhooks: {NOTIFICATIONS} notifications per round, best of {ROUNDS}")
    hooks = webhook_throughput(store)
    print(
        f"  with signature checks {hooks['signed_per_s']:.0f}/s, without {hooks['bare_per_s']:.0f}/s, "
        f"ratio {hooks['ratio']:.2f}x the time"
    )


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "--publish":
        publish(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    elif mode == "--floor-publish":
        floor_publish(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    elif mode == "--floor-server":
        asyncio.run(floor_server(int(sys.argv[2]), sys.argv[3]))
    else:
        main()
