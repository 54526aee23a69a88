import os
import uuid

import pytest
from django.core.files.storage import default_storage
from django.db import connection

from config.celery import app as celery_app
from config.health import check_workers
from tests.plugins.faults import REDIS_SERVER, RedisServer, publishing_to
from tests.plugins.services import require


def test_healthz_answers_without_auth_or_database(client):
    # No db fixture: any database access would raise here.
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_reports_each_component(client, settings):
    settings.EMBEDDED = True  # no broker or worker checks: database and storage only
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["components"]) == {"database", "storage"}
    assert not default_storage.exists("healthcheck") or not default_storage.listdir("healthcheck")[1]


@pytest.mark.django_db
def test_readyz_is_503_when_the_broker_is_down_and_leaks_no_url(client, settings, monkeypatch):
    settings.EMBEDDED = False
    monkeypatch.setattr(celery_app.conf, "broker_url", "redis://:s3cret-pass@127.0.0.1:1/0")
    monkeypatch.setattr("config.health.check_workers", lambda: None)  # its own test below
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["components"]["broker"]["status"] == "error"
    assert body["components"]["database"]["status"] == "ok"
    assert "s3cret-pass" not in response.content.decode()
    assert "127.0.0.1:1" not in response.content.decode()


@pytest.mark.worker
def test_readyz_sees_a_live_worker(client, hub_worker, settings):
    settings.EMBEDDED = False
    response = client.get("/readyz")
    assert response.json()["components"]["workers"]["status"] == "ok", response.json()
    assert response.status_code == 200
    assert connection.vendor == "postgresql"


@pytest.fixture
def broker_without_workers():
    """A private redis-server that no Celery worker listens to; this process's app points at it."""
    require(os.access(REDIS_SERVER, os.X_OK), "redis-server (apt-get install redis-server)")
    server = RedisServer()
    server.start()
    try:
        with publishing_to(server.url, f"idle-{uuid.uuid4().hex[:8]}"):
            yield server
    finally:
        server.remove()


@pytest.mark.django_db
def test_readyz_is_503_when_no_worker_answers(client, settings, broker_without_workers):
    settings.EMBEDDED = False
    with pytest.raises(RuntimeError, match="no Celery worker answered"):
        check_workers()
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503, body
    assert body["components"]["workers"]["status"] == "error", body
    assert body["components"]["broker"]["status"] == "ok", body  # the broker itself answers


@pytest.fixture
def webhook_queue(settings):
    """A webhooks queue of this test's own in the real Redis broker."""
    import redis

    previous = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = f"test-{uuid.uuid4().hex[:10]}"
    client = redis.Redis.from_url(settings.REDIS_URL)
    name = f"{celery_app.conf.task_default_queue}.webhooks"
    yield client, name
    client.delete(name)
    celery_app.conf.task_default_queue = previous


@pytest.mark.django_db
def test_readyz_fails_when_webhook_attempts_pile_up(client, settings, monkeypatch, webhook_queue):
    settings.EMBEDDED = False
    settings.WEBHOOK_QUEUE_MAX_LENGTH = 3
    monkeypatch.setattr("config.health.check_workers", lambda: None)  # sync workers answer pings
    redis_client, name = webhook_queue
    redis_client.lpush(name, *[b"{}"] * 3)
    assert client.get("/readyz").json()["components"]["webhook_queue"]["status"] == "ok"

    redis_client.lpush(name, b"{}")
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["components"]["webhook_queue"] == {
        "status": "error",
        "error": "QueueSaturated",
        "latency_ms": response.json()["components"]["webhook_queue"]["latency_ms"],
    }
