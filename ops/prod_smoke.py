"""Production mode on this machine, without Docker: `make prod-smoke`.

Starts the hub as production runs it — uvicorn (ASGI, two workers), a Celery worker, a
webhook worker (their own queue) and Celery beat as separate processes — against the machine's PostgreSQL and Redis and
moto's S3 server, with the shop simulator as the store's shop. Then drives a sync end to
end through the API, checks readiness, and stops everything cleanly.
Exit status 0 when every step passed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PYTHON = sys.executable
# One database per run: two smoke runs on one machine never share it.
DATABASE = f"hub_prod_smoke_{uuid.uuid4().hex[:8]}"
ADMIN_PASSWORD = "Smoke-test-" + uuid.uuid4().hex[:12]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, *, timeout: float = 60, ok=(200,)) -> httpx.Response:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = httpx.get(url, timeout=5)
            if last.status_code in ok:
                return last
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"FAIL: {url} did not answer {ok} in {timeout}s (last: {last and last.status_code})")


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


class Stack:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.processes: dict[str, subprocess.Popen] = {}
        self.s3_port, self.web_port, self.shop_port = free_port(), free_port(), free_port()
        self.env = {
            **os.environ,
            "DEBUG": "false",
            "SECRET_KEY": uuid.uuid4().hex * 2,
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
            "REDIS_URL": "redis://127.0.0.1:6379/13",
            "CELERY_TASK_DEFAULT_QUEUE": f"smoke-{uuid.uuid4().hex[:8]}",
            "AWS_STORAGE_BUCKET_NAME": "smoke-images",
            "AWS_S3_ENDPOINT_URL": f"http://127.0.0.1:{self.s3_port}",
            "AWS_ACCESS_KEY_ID": "smoke",
            "AWS_SECRET_ACCESS_KEY": "smoke-secret",
            "AWS_S3_REGION_NAME": "us-east-1",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            # No TLS proxy in front of it here: plain-HTTP cookies and no redirect.
            "SECURE_SSL_REDIRECT": "false",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "PLATFORM_URL_ALLOWLIST": "127.0.0.1,localhost",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.web_port}",
            "VAR_DIR": str(workdir / "var"),
            "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD,
        }

    def start(self, name: str, *args: str) -> None:
        log = open(self.workdir / f"{name}.log", "wb")
        self.processes[name] = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)

    def manage(self, *args: str) -> None:
        subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, check=True)

    def stop(self) -> list[str]:
        """SIGTERM everything; returns the names of processes that did not stop cleanly."""
        unclean = []
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in self.processes.items():
            try:
                code = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                code = "killed"
            if code not in (0, -signal.SIGTERM):
                unclean.append(f"{name} ({code})")
        return unclean


def _admin_sql(*statements: str) -> None:
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", port=5432, user="postgres", dbname="postgres", autocommit=True
    ) as connection:
        for statement in statements:
            connection.execute(statement)


def reset_database() -> None:
    _admin_sql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)", f"CREATE DATABASE {DATABASE}")


def drop_database() -> None:
    _admin_sql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def run(stack: Stack) -> None:
    import boto3

    step("moto S3 server, PostgreSQL database, migrations")
    stack.start("s3", PYTHON, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(stack.s3_port))
    wait_http(f"http://127.0.0.1:{stack.s3_port}/moto-api/", timeout=30)
    boto3.client(
        "s3",
        endpoint_url=stack.env["AWS_S3_ENDPOINT_URL"],
        aws_access_key_id="smoke",
        aws_secret_access_key="smoke-secret",
        region_name="us-east-1",
    ).create_bucket(Bucket="smoke-images")
    reset_database()
    stack.manage("migrate", "--noinput", "--verbosity", "0")
    stack.manage("collectstatic", "--noinput", "--verbosity", "0")
    stack.manage("createsuperuser", "--noinput", "--username", "smoke", "--email", "smoke@example.com")

    step("shop simulator, web (uvicorn x2), worker, webhook worker, beat")
    stack.start("shop", PYTHON, "-m", "shopsim", "--port", str(stack.shop_port), "--products", "40")
    stack.start(
        "web",
        PYTHON,
        "-m",
        "uvicorn",
        "config.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(stack.web_port),
        "--workers",
        "2",
        "--lifespan",
        "off",
        "--ws-per-message-deflate",
        "false",
        "--log-config",
        "config/uvicorn_log.json",
    )
    queue = stack.env["CELERY_TASK_DEFAULT_QUEUE"]
    for name, queues, concurrency in (("worker", queue, 2), ("webhooks", f"{queue}.webhooks", 1)):
        stack.start(
            name,
            PYTHON,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            str(concurrency),
            "--queues",
            queues,
            "--hostname",
            f"smoke-{name}-{uuid.uuid4().hex[:6]}@%h",
        )
    stack.start(
        "beat",
        PYTHON,
        "-m",
        "celery",
        "-A",
        "config",
        "beat",
        "--loglevel",
        "INFO",
        "--schedule",
        str(stack.workdir / "beat-schedule"),
    )
    base = f"http://127.0.0.1:{stack.web_port}"
    ready = wait_http(f"{base}/readyz", timeout=90).json()
    print(f"    readyz: {ready['status']} ({', '.join(ready['components'])})")

    step("a store on the shop, through the API")
    token = httpx.post(f"{base}/api/v1/auth/token/", json={"username": "smoke", "password": ADMIN_PASSWORD}).json()
    headers = {"Authorization": f"Bearer {token['access']}"}
    from shopsim import DEMO_API_KEY

    store = httpx.post(
        f"{base}/api/v1/stores/",
        headers=headers,
        json={
            "name": "Smoke",
            "code": "smoke",
            "platform": "prestashop",
            "platform_url": f"http://127.0.0.1:{stack.shop_port}",
            "platform_api_key": DEMO_API_KEY,
        },
    )
    if store.status_code != 201:
        raise SystemExit(f"FAIL: creating the store answered {store.status_code}: {store.text}")
    for sync in SYNCS:
        sync(stack, base, headers, store.json())
    step("readiness after the syncs")
    ready = wait_http(f"{base}/readyz", timeout=10).json()
    # beat (config.scheduler.HubScheduler) writes its heartbeat to Redis; the web reads it.
    if not (ready["mode"] == "production" and ready["scheduler"]["alive"]):
        raise SystemExit(f"FAIL: /readyz does not see beat alive: {ready['mode']}, {ready['scheduler']}")
    print(f"    beat alive, last tick {ready['scheduler']['last_tick']}")


def sync_product_import(stack: Stack, base: str, headers: dict, store: dict) -> None:
    """The catalogue import, queued through the admin's action and run by the worker."""
    client = httpx.Client(base_url=base)
    login = client.get("/admin/login/")
    client.post(
        "/admin/login/",
        data={
            "username": "smoke",
            "password": ADMIN_PASSWORD,
            "csrfmiddlewaretoken": login.cookies["csrftoken"],
            "next": "/admin/",
        },
    )
    changelist = client.get("/admin/catalog/store/")
    client.post(
        "/admin/catalog/store/",
        data={
            "action": "import_products",
            "_selected_action": [store["id"]],
            "csrfmiddlewaretoken": changelist.cookies.get("csrftoken") or client.cookies["csrftoken"],
        },
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        products = httpx.get(f"{base}/api/v1/stores/{store['id']}/products/", headers=headers).json()
        if products["count"] == 40:
            print(f"    catalogue import through the worker: {products['count']} products")
            return
        time.sleep(0.5)
    raise SystemExit("FAIL: the worker did not import the products")


def sync_images(stack: Stack, base: str, headers: dict, store: dict) -> None:
    """The image sync through the API: the worker pulls every product's image into S3 (moto)."""
    import boto3

    answer = httpx.post(
        f"{base}/api/v1/sync/sync-images", params={"id_store": store["id"]}, headers=headers, timeout=120
    )
    if answer.status_code != 200 or not answer.json().get("success"):
        raise SystemExit(f"FAIL: sync-images answered {answer.status_code}: {answer.text}")
    summary = answer.json()
    s3 = boto3.client(
        "s3",
        endpoint_url=stack.env["AWS_S3_ENDPOINT_URL"],
        aws_access_key_id="smoke",
        aws_secret_access_key="smoke-secret",
        region_name="us-east-1",
    )
    stored = s3.list_objects_v2(Bucket="smoke-images", Prefix="products/").get("KeyCount", 0)
    if summary["products_processed"] != 40 or stored < summary["downloaded"] + summary["fallback"]:
        raise SystemExit(f"FAIL: image sync processed {summary['products_processed']}, S3 holds {stored} objects")
    print(
        f"    image sync through the worker: {summary['downloaded']} downloaded, "
        f"{summary['fallback']} fallbacks, {stored} objects in S3"
    )


# Each capability adds its end-to-end step here.
SYNCS = [sync_product_import, sync_images]


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="hub-prod-smoke-"))
    stack = Stack(workdir)
    try:
        run(stack)
    finally:
        step("clean stop")
        unclean = stack.stop()
        drop_database()
    if unclean:
        print(f"FAIL: not stopped cleanly: {', '.join(unclean)} (logs in {workdir})")
        return 1
    print(f"prod-smoke passed (logs in {workdir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
