"""The sync event stream end to end: a real uvicorn serving the ASGI app, real WebSocket
clients (websockets), channels-redis, and a real Celery worker running the jobs."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings as django_settings
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from catalog.models import Product, StoreMembership
from catalog.roles import Role
from catalog.tokens import StampedRefreshToken
from config.jobs import JobStatus, record_progress
from nasync.services import nas_sync_now
from operations import events
from photosync.imagesync.runner import start_image_sync
from storesync import services
from storesync.models import StoreSyncJob
from tests.plugins.services import require_postgres, require_redis
from tests.plugins.simulator import sim_post
from tests.plugins.worker import ARTIFACTS, worker_env
from tests.storesync.conftest import configure

pytestmark = pytest.mark.worker


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


RECHECK_SECONDS = 0.5  # the served streams re-check their user's access this often


def start_uvicorn(log_name: str) -> tuple[subprocess.Popen, int]:
    """uvicorn serving config.asgi as ``make run`` does, against the test database and Redis."""
    port = free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = open(ARTIFACTS / log_name, "ab")
    env = worker_env("unused", ALLOWED_HOSTS="127.0.0.1,localhost", EVENT_STREAM_RECHECK_SECONDS=str(RECHECK_SECONDS))
    process = subprocess.Popen(
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
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).resolve().parents[2],
        start_new_session=True,
    )
    log.close()
    deadline = time.monotonic() + 30
    while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start; see var/test-artifacts/{log_name}")
        time.sleep(0.1)
    return process, port


def stop(process: subprocess.Popen, timeout: float) -> float | None:
    """SIGTERM, then the seconds the server took to exit (None: killed after ``timeout``)."""
    started = time.monotonic()
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
        return time.monotonic() - started
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        return None


@pytest.fixture(scope="module")
def live_server_url(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        require_postgres()
        require_redis()
    process, port = start_uvicorn("uvicorn-events.log")
    yield f"ws://127.0.0.1:{port}"
    stop(process, timeout=20)


def token_for(user, lifetime: timedelta | None = None) -> str:
    token = StampedRefreshToken.for_user(user).access_token
    if lifetime is not None:
        token.set_exp(lifetime=lifetime)
    return str(token)


def stream(base: str, store, user=None, token: str | None = None):
    token = token if token is not None else token_for(user)
    query = f"?token={token}" if token else ""
    return connect(f"{base}/api/v1/stores/{store.pk}/sync/events/stream{query}", open_timeout=10)


def stream_scope(store_ref, user) -> dict:
    """The ASGI scope of a stream's handshake, for the application run in this process."""
    return {
        "type": "websocket",
        "path": f"/api/v1/stores/{store_ref}/sync/events/stream",
        "query_string": f"token={token_for(user)}".encode(),
        "headers": [],
        "subprotocols": [],
    }


def read_until(ws, event: str, sync_id: str | None = None, timeout: float = 60) -> list[dict]:
    """Messages up to and including the first ``event`` (of ``sync_id`` when given)."""
    messages = []
    deadline = time.monotonic() + timeout
    while True:
        message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        messages.append(message)
        if message["event"] == event and (sync_id is None or message["data"].get("sync_id") == sync_id):
            return messages


def nothing_for(ws, seconds: float) -> bool:
    try:
        ws.recv(timeout=seconds)
    except TimeoutError:
        return True
    return False


@pytest.fixture
def two_stores(hub_worker, make_store, make_shop_simulator, make_user):
    sim_a = make_shop_simulator(products=40, customers=0, orders=0)
    sim_b = make_shop_simulator(products=5, customers=0, orders=0)
    store_a = make_store("a", platform="prestashop", platform_url=sim_a.url, platform_api_key=sim_a.api_key)
    store_b = make_store("b", platform="prestashop", platform_url=sim_b.url, platform_api_key=sim_b.api_key)
    configure(store_a, products={})
    configure(store_b, products={})
    viewer_a = make_user("viewer-a", role=Role.VIEWER, stores=[store_a])
    viewer_b = make_user("viewer-b", role=Role.VIEWER, stores=[store_b])
    return store_a, store_b, viewer_a, viewer_b, sim_a


def test_a_worker_job_streams_started_progress_conflicts_and_completed_to_its_store_only(two_stores, live_server_url):
    store_a, store_b, viewer_a, viewer_b, sim_a = two_stores
    # A platform record that differs from the shop without a base: a conflict on the first sync.
    Product.objects.create(store=store_a, id_origin=3, name="Platform title", price="1.00")
    sim_post(sim_a, "config", {"latency_ms": 20})
    with stream(live_server_url, store_a, viewer_a) as ws_a, stream(live_server_url, store_b, viewer_b) as ws_b:
        job = services.trigger_sync(store_a, sync_type="full")  # autocommit: sent to the worker at once
        messages = read_until(ws_a, "sync_completed", str(job.pk))
        assert nothing_for(ws_b, 1.0)  # the other store's client got nothing of it
    mine = [m for m in messages if m["data"].get("sync_id") == str(job.pk)]
    names = [m["event"] for m in mine]
    assert names[0] == "sync_started" and names[-1] == "sync_completed"
    assert "sync_progress" in names and "conflict_detected" in names
    started = mine[0]["data"]
    assert started["entity_type"] == "products" and started["trigger"] == "manual" and started["kind"] == "store_sync"
    progress = [m["data"] for m in mine if m["event"] == "sync_progress"]
    assert {"progress", "records_processed", "records_total"} <= set(progress[0])
    values = [p["progress"] for p in progress]
    assert values == sorted(values)
    completed = mine[-1]["data"]
    job.refresh_from_db()
    assert completed["status"] == "success" and completed["records_synced"] == job.items_processed == 40
    assert completed["duration"].endswith("s")
    conflict = next(m["data"] for m in mine if m["event"] == "conflict_detected")
    assert conflict["entity_type"] == "products" and conflict["entity_id"] and conflict["field"]


def test_a_client_connecting_mid_job_gets_the_current_state_first(two_stores, live_server_url):
    store_a, _, viewer_a, _, sim_a = two_stores
    sim_post(sim_a, "config", {"latency_ms": 150})
    job = services.trigger_sync(store_a, sync_type="full")
    deadline = time.monotonic() + 30
    while StoreSyncJob.objects.get(pk=job.pk).status != JobStatus.RUNNING and time.monotonic() < deadline:
        time.sleep(0.05)
    with stream(live_server_url, store_a, viewer_a) as ws:
        first, second = json.loads(ws.recv(timeout=10)), json.loads(ws.recv(timeout=10))
        assert first["event"] == "sync_started" and first["snapshot"] is True
        assert first["data"]["sync_id"] == str(job.pk)
        assert second["event"] == "sync_progress" and second["snapshot"] is True
        sim_post(sim_a, "config", {"latency_ms": 0})
        read_until(ws, "sync_completed", str(job.pk))


def test_refused_handshakes(two_stores, live_server_url, make_user):
    store_a, store_b, viewer_a, _, _ = two_stores
    nobody = make_user("no-role", stores=[store_a])  # a member without the R permission
    cases = [
        dict(token=""),  # no token
        dict(token="not-a-jwt"),
        dict(user=viewer_a, store=store_b),  # a store the user is not a member of
        dict(user=nobody),
    ]
    for case in cases:
        with pytest.raises(InvalidStatus) as refused:
            with stream(live_server_url, case.get("store", store_a), case.get("user"), token=case.get("token")):
                pass
        assert refused.value.response.status_code == 403, case
    missing = StoreSyncJob  # an unknown store is refused the same way
    with pytest.raises(InvalidStatus):
        ws_url = f"{live_server_url}/api/v1/stores/{uuid.uuid4()}/sync/events/stream?token={token_for(viewer_a)}"
        with connect(ws_url, open_timeout=10):
            pass
    assert missing


def test_image_syncs_and_nas_runs_publish_on_the_same_stream(two_stores, live_server_url):
    store_a, _, viewer_a, _, _ = two_stores
    with stream(live_server_url, store_a, viewer_a) as ws:
        run = start_image_sync(store_a)
        images = read_until(ws, "sync_completed", str(run.pk))
        kinds = {(m["event"], m["data"]["kind"]) for m in images if m["data"].get("sync_id") == str(run.pk)}
        assert ("sync_started", "image_sync") in kinds and ("sync_progress", "image_sync") in kinds
        nas = nas_sync_now()  # no NAS configured here: the run fails, and says so on the stream
        messages = read_until(ws, "sync_failed", str(nas.pk), timeout=20)
        failed = messages[-1]["data"]
        assert failed["kind"] == "nas_sync" and failed["status"] == "failed" and failed["store_id"] is None


def running_store_sync(make_store, make_user, code: str):
    """A store, a viewer of it and a running store sync job of it."""
    store = make_store(code)
    viewer = make_user(f"viewer-{code}", role=Role.VIEWER, stores=[store])
    job = StoreSyncJob.objects.create(
        kind="store_sync",
        store=store,
        lock_key=f"{code}:{uuid.uuid4()}",
        status=JobStatus.RUNNING,
        entities=["products"],
    )
    return store, viewer, job


def drain(ws) -> list[dict]:
    """Every message the stream sends until it is quiet for a second."""
    received = []
    try:
        while True:
            received.append(json.loads(ws.recv(timeout=1.0)))
    except TimeoutError:
        return received


def test_progress_events_are_throttled_per_job(hub_worker, live_server_url, make_store, make_user, settings):
    settings.STORESYNC_EVENT_PROGRESS_INTERVAL = 0.25
    store, viewer, job = running_store_sync(make_store, make_user, "t")
    with stream(live_server_url, store, viewer) as ws:
        started = time.monotonic()
        for _ in range(100):  # 100 progress reports in about a second
            record_progress(job, total=100, processed=1)
            time.sleep(0.01)
        elapsed = time.monotonic() - started
        received = drain(ws)
    assert [m["event"] for m in received[:2]] == ["sync_started", "sync_progress"]  # the state at connection
    assert received[0]["snapshot"] and received[1]["snapshot"]
    names = [m["event"] for m in received[2:]]
    assert names[0] == "sync_started" and names.count("sync_started") == 1
    assert 2 <= names.count("sync_progress") <= elapsed / 0.25 + 2
    assert received[-1]["data"]["records_processed"] <= 100


def test_a_process_asks_redis_for_a_jobs_start_once_and_its_ticks_still_stream(
    hub_worker, live_server_url, make_store, make_user, settings
):
    """After announcing a job's start, this process' progress ticks skip the start mark's Redis
    call: with the mark gone from Redis, no second ``sync_started``, and every tick arrives."""
    settings.STORESYNC_EVENT_PROGRESS_INTERVAL = 0.01
    store, viewer, job = running_store_sync(make_store, make_user, "s1")
    with stream(live_server_url, store, viewer) as ws:
        record_progress(job, total=4, processed=1)  # announces the start
        redis.Redis.from_url(django_settings.REDIS_URL).delete(f"storesync:events:started:{job.pk}:{job.attempts}")
        for _ in range(3):
            time.sleep(0.05)
            record_progress(job, processed=1)
        received = drain(ws)
    live = [m for m in received if not m.get("snapshot")]
    assert [m["event"] for m in live] == ["sync_started"] + ["sync_progress"] * 3
    assert [m["data"]["records_processed"] for m in live[1:]] == [2, 3, 4]


def test_the_embedded_mode_streams_through_the_in_memory_layer(
    transactional_db, settings, make_store, make_shop_simulator, make_user
):
    """No Redis: the in-memory channel layer, the job run in the web process (eager)."""
    from asgiref.sync import async_to_sync, sync_to_async
    from asgiref.testing import ApplicationCommunicator  # channels.testing needs daphne

    from config.asgi import application

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    sim = make_shop_simulator(products=6, customers=0, orders=0)
    store = make_store("mem", platform="prestashop", platform_url=sim.url, platform_api_key=sim.api_key)
    configure(store, products={})
    viewer = make_user("viewer-mem", role=Role.VIEWER, stores=[store])
    scope = stream_scope(store.uuid, viewer)

    async def scenario():
        communicator = ApplicationCommunicator(application, scope)
        await communicator.send_input({"type": "websocket.connect"})
        assert (await communicator.receive_output(timeout=10))["type"] == "websocket.accept"
        job = await sync_to_async(services.run_sync_now)(store, sync_type="full")
        names = []
        while not names or names[-1] != "sync_completed":
            names.append(json.loads((await communicator.receive_output(timeout=10))["text"])["event"])
        await communicator.send_input({"type": "websocket.disconnect", "code": 1000})
        await communicator.wait(timeout=5)
        return job, names

    job, names = async_to_sync(scenario)()
    assert job.status == "succeeded"
    assert names[0] == "sync_started" and "sync_progress" in names and names[-1] == "sync_completed"


def closed_with(ws, timeout: float = 10) -> int | None:
    """The close code the server ends the stream with (None: still open after ``timeout``)."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ws.recv(timeout=max(0.1, deadline - time.monotonic()))
    except TimeoutError:
        return None
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    return None


@pytest.mark.parametrize(
    ("change", "code"),
    [("membership", 4403), ("role", 4403), ("deactivation", 4401), ("password", 4401), ("expiry", 4401)],
)
def test_an_open_stream_ends_when_its_access_does(
    transactional_db, live_server_url, make_store, make_user, change, code
):
    store = make_store("w")
    viewer = make_user("viewer-w", role=Role.VIEWER, stores=[store])
    lifetime = timedelta(seconds=5) if change == "expiry" else None
    with stream(live_server_url, store, token=token_for(viewer, lifetime)) as ws:
        assert closed_with(ws, timeout=3 * RECHECK_SECONDS) is None  # open while nothing changes
        if change == "membership":
            StoreMembership.objects.filter(user=viewer).delete()
        elif change == "role":
            viewer.groups.clear()
        elif change == "deactivation":
            viewer.is_active = False
            viewer.save()
        elif change == "password":
            viewer.set_password("Another-pass-456")
            viewer.save()
        assert closed_with(ws) == code


def test_an_open_streams_access_check_is_three_queries(transactional_db, make_store, make_user):
    """What each open stream's periodic check costs (hundreds of streams per web process):
    the user's row, the account stamp and the store, the permissions from the access cache."""
    from asgiref.sync import async_to_sync
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework_simplejwt.tokens import AccessToken

    from operations.consumers import stream_access

    store = make_store("q")
    viewer = make_user("viewer-q", role=Role.VIEWER, stores=[store])
    token = AccessToken(token_for(viewer))
    check = stream_access.func  # the check itself, on this thread's connection
    assert check(token, str(store.pk)) == (None, store.pk)  # the first one fills the access cache
    with CaptureQueriesContext(connection) as queries:
        assert check(token, str(store.uuid)) == (None, store.pk)
    assert len(queries) == 3
    assert async_to_sync(stream_access)(token, str(store.pk)) == (None, store.pk)


def test_malformed_and_deeply_nested_messages_are_ignored_and_the_stream_stays_open(
    transactional_db, live_server_url, make_store, make_user
):
    store = make_store("n")
    viewer = make_user("viewer-n", role=Role.VIEWER, stores=[store])
    with stream(live_server_url, store, viewer) as ws:
        for message in ("[" * 100_000 + "]" * 100_000, "not json", '{"event": NaN}', b"\x00\xff"):
            ws.send(message)  # the deep one was a RecursionError that closed the stream (1011)
        ws.send(json.dumps({"event": "ping"}))
        assert json.loads(ws.recv(timeout=10)) == {"event": "pong", "data": {}}


def test_the_server_shuts_down_promptly_with_open_and_refused_streams(transactional_db, make_store, make_user):
    """SIGTERM ends uvicorn within 10 s after an open stream and a refused handshake."""
    require_postgres()
    require_redis()
    store = make_store("sd")
    viewer = make_user("viewer-sd", role=Role.VIEWER, stores=[store])
    process, port = start_uvicorn("uvicorn-shutdown.log")
    base = f"ws://127.0.0.1:{port}"
    try:
        # Refused first, one after the other: with no other stream holding the channel layer's
        # read, each refused one's read would start at once, and may then never end.
        for token in ["", "not-a-jwt"] * 10:
            with pytest.raises(InvalidStatus):
                with stream(base, store, token=token):
                    pass
        with stream(base, store, viewer):
            time.sleep(0.5)
            assert stop(process, timeout=10) is not None, "uvicorn was still running 10 s after SIGTERM"
    finally:
        if process.poll() is None:
            stop(process, timeout=1)


# The publisher (config.channel_groups) and the consumer's deliveries


def publisher_connection_ids(pid: int) -> list[int]:
    """The Redis connections that process ``pid`` publishes events on (named by the publisher)."""
    clients = redis.Redis.from_url(django_settings.REDIS_URL).client_list()
    return sorted(int(client["id"]) for client in clients if client["name"] == f"channels-publisher-{pid}")


def notes(ws, count: int) -> list:
    """The ``data`` of the next ``count`` test messages (``note``) the stream receives."""
    received = []
    while len(received) < count:
        message = json.loads(ws.recv(timeout=10))
        if message["event"] == "note":
            received.append(message["data"])
    return received


def test_publishes_from_sync_code_reach_a_served_stream_through_one_redis_connection(
    transactional_db, live_server_url, make_store, make_user
):
    """A Celery task's publish: no event loop and no Redis connection per message, the
    channel layer's pub/sub wire format, fanned out by the web process."""
    assert isinstance(get_channel_layer(), RedisPubSubChannelLayer)
    store = make_store("pub")
    viewer = make_user("viewer-pub", role=Role.VIEWER, stores=[store])
    with stream(live_server_url, store, viewer) as ws:
        events.send(events.store_group(store.pk), {"event": "note", "data": 0})
        connections = publisher_connection_ids(os.getpid())
        for n in range(1, 20):
            events.send(events.store_group(store.pk), {"event": "note", "data": n})
        assert notes(ws, 20) == list(range(20))
    assert len(connections) == 1
    assert publisher_connection_ids(os.getpid()) == connections  # the same one, still open


def test_a_stream_idle_for_longer_than_the_redis_socket_timeout_still_receives(
    transactional_db, live_server_url, make_store, make_user
):
    """redis-py reads with a 5 s socket timeout; the layer's subscriber must outlive it."""
    store = make_store("idle")
    viewer = make_user("viewer-idle", role=Role.VIEWER, stores=[store])
    with stream(live_server_url, store, viewer) as ws:
        time.sleep(6)
        events.send(events.store_group(store.pk), {"event": "note", "data": "after the silence"})
        assert notes(ws, 1) == ["after the silence"]


def test_a_forked_worker_publishes_on_a_redis_connection_of_its_own(
    transactional_db, live_server_url, make_store, make_user
):
    """Celery's prefork children inherit the parent's publisher: each must open its own socket."""
    store = make_store("fork")
    viewer = make_user("viewer-fork", role=Role.VIEWER, stores=[store])
    group = events.store_group(store.pk)
    with stream(live_server_url, store, viewer) as ws:
        events.send(group, {"event": "note", "data": "parent"})
        parent = publisher_connection_ids(os.getpid())
        read_end, write_end = os.pipe()
        child = os.fork()
        if child == 0:  # the child: publish, report its connections, leave without any clean-up
            status = 1
            try:
                events.send(group, {"event": "note", "data": "child"})
                os.write(write_end, json.dumps(publisher_connection_ids(os.getpid())).encode())
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        with os.fdopen(read_end) as pipe:
            child_connections = json.loads(pipe.read() or "null")
        _, status = os.waitpid(child, 0)
        events.send(group, {"event": "note", "data": "parent again"})
        assert notes(ws, 3) == ["parent", "child", "parent again"]
    assert os.waitstatus_to_exitcode(status) == 0
    assert len(parent) == 1 and len(child_connections) == 1 and child_connections != parent
    assert publisher_connection_ids(os.getpid()) == parent


def test_deliveries_do_not_wait_for_the_database_thread(transactional_db, make_store, make_user):
    """All of a server's database work shares one thread (asgiref's thread-sensitive mode);
    channels' consumers hop onto it before every message (``close_old_connections``), which
    queued each delivery behind other streams' queries. With that thread kept busy, messages
    must still reach the client: a delivery does no database work at all."""
    from asgiref.sync import async_to_sync, sync_to_async
    from asgiref.testing import ApplicationCommunicator

    from config.asgi import application

    store = make_store("busy")
    viewer = make_user("viewer-busy", role=Role.VIEWER, stores=[store])
    scope = stream_scope(store.pk, viewer)
    busy, release = threading.Event(), threading.Event()

    def slow_query():
        busy.set()
        release.wait(timeout=60)

    async def scenario():
        communicator = ApplicationCommunicator(application, scope)
        await communicator.send_input({"type": "websocket.connect"})
        assert (await communicator.receive_output(timeout=10))["type"] == "websocket.accept"
        blocker = asyncio.ensure_future(sync_to_async(slow_query)())
        await asyncio.to_thread(busy.wait, 10)
        received = []
        try:
            for n in range(5):  # from another thread, as a worker's task would
                await asyncio.to_thread(events.send, events.store_group(store.pk), {"event": "note", "data": n})
            while len(received) < 5:
                message = json.loads((await communicator.receive_output(timeout=10))["text"])
                if message["event"] == "note":
                    received.append(message["data"])
        finally:
            release.set()
            await blocker
        await communicator.send_input({"type": "websocket.disconnect", "code": 1000})
        await communicator.wait(timeout=5)
        return received

    assert async_to_sync(scenario)() == list(range(5))
