import json
import logging

import pytest

from catalog.models import Store
from catalog.services import import_products_now, start_product_import
from config.jobs import JobStatus, wait_for_job
from config.observability import clean_request_id, request_id_var


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [("abc-123", True), ("a" * 64, True), ("a" * 65, False), ("x\ny", False), ("<script>", False), ("", False)],
)
def test_only_short_safe_request_ids_are_kept(incoming, kept):
    assert (clean_request_id(incoming) == incoming) is kept


@pytest.mark.django_db
def test_every_response_carries_a_request_id(client):
    made = client.get("/healthz")
    assert len(made["X-Request-ID"]) == 32
    assert client.get("/healthz", HTTP_X_REQUEST_ID="trace-42")["X-Request-ID"] == "trace-42"
    assert client.get("/api/v1/stores/", HTTP_X_REQUEST_ID="bad id\r\n")["X-Request-ID"] != "bad id\r\n"


@pytest.fixture
def secret_store(db, shop_simulator):
    return Store.objects.create(
        code="secret",
        name="Secret",
        platform="prestashop",
        platform_url=shop_simulator.url,
        platform_api_key=shop_simulator.api_key,
    )


def test_no_secret_reaches_the_logs_of_an_import(secret_store, shop_simulator, caplog, make_user, client):
    caplog.set_level(logging.DEBUG)
    make_user("loggy")
    client.post("/api/v1/auth/token/", {"username": "loggy", "password": "pass-Word-123"})
    client.post("/api/v1/auth/token/", {"username": "loggy", "password": "wrong-Pass-999"})
    import_products_now(secret_store)
    Store.objects.filter(pk=secret_store.pk).update(platform_api_key="Z" * 32)
    secret_store.refresh_from_db()
    failed = import_products_now(secret_store)
    assert failed.status == JobStatus.FAILED
    text = "\n".join(record.getMessage() + str(record.__dict__) for record in caplog.records)
    for secret in (shop_simulator.api_key, "Z" * 32, "pass-Word-123", "wrong-Pass-999"):
        assert secret not in text


@pytest.mark.worker
def test_the_request_id_and_job_follow_the_task_into_the_worker(hub_worker, secret_store):
    token = request_id_var.set("req-follow-me")
    try:
        job = start_product_import(secret_store)
    finally:
        request_id_var.reset(token)
    job = wait_for_job(job, timeout=60)
    assert job.status == JobStatus.SUCCEEDED
    lines = [json.loads(line) for line in hub_worker.log_path.read_text().splitlines() if line.startswith("{")]
    ours = [line for line in lines if line.get("request_id") == "req-follow-me"]
    assert any(line.get("job_id") == str(job.pk) and line.get("store_id") == str(secret_store.pk) for line in ours)
    assert secret_store.platform_api_key not in hub_worker.log_path.read_text()
