"""The logs of the production mode: uvicorn's lines are JSON (access and error logs, in the
supervisor and its workers), and no secret reaches any log line of the web server or of a
real worker during syncs that use every kind of secret the hub holds."""

from __future__ import annotations

import base64
import json
import logging
import secrets
import uuid

import pytest
from django.conf import settings

from catalog.models import Store
from catalog.roles import Role
from config.jobs import JobStatus, wait_for_job
from nasync import services as nas_services
from storesync.models import StoreSyncJob
from tests.nasync.conftest import pdf_bytes, uploaded
from tests.plugins.faults import WebServer, production_env
from tests.plugins.services import require_postgres, require_redis
from tests.plugins.simulator import sim_post

pytestmark = pytest.mark.worker


def json_lines(path) -> list[dict]:
    """Every line of a log file, parsed (fails on any line that is not a JSON object)."""
    records = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                pytest.fail(f"{path.name}:{number} is not JSON: {line[:200]}")
    return records


def test_uvicorn_writes_json_lines_in_production_mode(transactional_db):
    require_postgres()
    require_redis()
    web = WebServer(production_env(settings.REDIS_URL, f"logs-{uuid.uuid4().hex[:8]}"), name="web-json")
    web.start("--workers", "2")  # as the Dockerfile runs it: a supervisor and two worker processes
    try:
        assert web.client.get("/healthz", headers={"X-Request-ID": "trace-json-1"}).status_code == 200
        assert web.get("/api/v1/stores/").status_code == 401
        assert web.get("/no-such-page").status_code == 404
    finally:
        web.stop()

    records = json_lines(web.log_path)
    assert {"time", "level", "logger", "message"} <= set(records[0])
    messages = [(record["logger"], record["message"]) for record in records]
    assert any(logger == "uvicorn.error" and "Uvicorn running on" in message for logger, message in messages)
    assert sum(logger == "uvicorn.error" and "Started server process" in message for logger, message in messages) >= 2
    access = [record for record in records if record["logger"] == "uvicorn.access"]
    assert {(r["method"], r["path"], r["status"]) for r in access} >= {
        ("GET", "/healthz", 200),
        ("GET", "/api/v1/stores/", 401),
        ("GET", "/no-such-page", 404),
    }
    not_found = [r for r in records if r["logger"] == "django.request" and "/no-such-page" in r["message"]]
    assert not_found and "request_id" in not_found[0]  # Django's own lines, in the same format


def test_no_secret_reaches_a_log_of_the_web_server_or_the_worker(
    fault_stack, nas, make_shop_simulator, make_user, caplog
):
    caplog.set_level(logging.DEBUG)
    shop_key = secrets.token_hex(16).upper()
    new_shop_key = secrets.token_hex(16).upper()
    webhook_secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    password, wrong_password = f"Pw-{secrets.token_hex(8)}", f"Wrong-{secrets.token_hex(8)}"
    ssh_key_body = nas.server.client_key.read_text().splitlines()[2]  # a line of the private key itself
    sim = make_shop_simulator(products=6, customers=0, orders=0, api_key=shop_key)
    user = make_user("ops", role=Role.ADMIN)
    user.set_password(password)
    user.save()
    fault_stack.worker(**nas.env)
    web = fault_stack.restart_web(**nas.env).client

    assert web.post("/api/v1/auth/token/", json={"username": "ops", "password": wrong_password}).status_code == 401
    tokens = web.post("/api/v1/auth/token/", json={"username": "ops", "password": password}).json()
    refreshed = web.post("/api/v1/auth/token/refresh/", json={"refresh": tokens["refresh"]}).json()
    auth = {"Authorization": f"Bearer {refreshed['access']}"}

    created = web.post(
        "/api/v1/stores/",
        headers=auth,
        json={
            "name": "Secret",
            "code": "secret",
            "platform": "prestashop",
            "platform_url": sim.url,
            "platform_api_key": shop_key,
        },
    )
    assert created.status_code == 201, created.text
    store = Store.objects.get(code="secret")
    configured = web.post(
        f"/api/v1/stores/{store.pk}/sync/configure",
        headers=auth,
        json={
            "sync_frequency": "manual",
            "entities": [{"type": "products"}],
            "webhook_config": {"endpoint": f"{sim.url}/webhooks/sync", "secret": webhook_secret},
        },
    )
    assert configured.status_code == 200, configured.text
    # An inbound webhook with a forged signature is refused (and logged without the secret).
    forged = web.post(
        f"/api/v1/webhooks/{store.uuid}/products",
        content=b'{"id": 1}',
        headers={
            "webhook-id": "msg_1",
            "webhook-timestamp": "1",
            "webhook-signature": "v1,Zm9yZ2Vk",
            "content-type": "application/json",
        },
    )
    assert forged.status_code in (400, 401, 403), forged.text

    synced = web.post(f"/api/v1/stores/{store.pk}/sync/trigger", headers=auth, json={"sync_type": "full"})
    assert synced.status_code == 202, synced.text
    job = wait_for_job(StoreSyncJob.objects.get(pk=synced.json()["data"]["sync_job_id"]), timeout=90)
    assert job.status == JobStatus.SUCCEEDED, job.message

    nas_services.document_create(uploaded=uploaded("secret-doc.pdf", pdf_bytes(5000, "secret")))
    nas_run = web.post("/api/v1/sync/run", headers=auth)
    assert nas_run.status_code == 200 and nas_run.json()["synced"] == 1, nas_run.text

    # The shop changes its key: the hub's requests now fail, and their errors are logged.
    sim_post(sim, "config", {"api_key": new_shop_key})
    failing = web.post(f"/api/v1/stores/{store.pk}/sync/trigger", headers=auth, json={"sync_type": "full"})
    failed = wait_for_job(StoreSyncJob.objects.get(pk=failing.json()["data"]["sync_job_id"]), timeout=90)
    assert failed.status != JobStatus.SUCCEEDED

    fault_stack.close()  # every process flushed and stopped before its log is read
    worker_log = fault_stack.workers[0].log_path.read_text()
    web_log = fault_stack.web.log_path.read_text()
    assert str(job.pk) in worker_log and "/api/v1/stores/" in web_log  # the logs searched are the real ones
    captured = "\n".join(record.getMessage() + str(record.__dict__) for record in caplog.records)
    for name, value in {
        "shop key": shop_key,
        "new shop key": new_shop_key,
        "webhook secret": webhook_secret,
        "password": password,
        "wrong password": wrong_password,
        "access token": tokens["access"],
        "refresh token": tokens["refresh"],
        "refreshed access token": refreshed["access"],
        "SSH private key": ssh_key_body,
        "SECRET_KEY": settings.SECRET_KEY,
    }.items():
        for log_name, text in (("web", web_log), ("worker", worker_log), ("test process", captured)):
            assert value not in text, f"the {name} appears in the {log_name} log"
