"""Outbound webhooks to a real local receiver: signed, one delivery id across attempts,
retries scheduled from the database (driven here with a controlled clock), dead letters,
final 4xx answers, Retry-After, redelivery from the admin, and the URL guard."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.models import Product
from storesync import services
from storesync.webhooks import outbound as webhooks_out
from storesync.webhooks.models import WebhookAttempt, WebhookDelivery
from storesync.webhooks.signatures import verify
from tests.storesync.conftest import configure

pytestmark = pytest.mark.django_db

SECRET = "webhook_secret_123"


@pytest.fixture
def hooked(shop_store, receiver):
    configure(shop_store, products={}, webhook_config={"endpoint": receiver.url, "secret": SECRET})
    return shop_store


def product_event(store, capture):
    """Change a platform product the way the catalogue API does; returns its delivery."""
    product = Product.objects.create(store=store, name="Lamp", price="12.50", inventory=3, sku="L-1")
    with capture(execute=True):
        product.price = "13.75"
        product.save()
    return WebhookDelivery.objects.filter(store=store, event_type="products.updated").latest("created_at")


def run_due(at):
    """The beat task at a chosen time (tasks run eagerly in the test process)."""
    return webhooks_out.dispatch_due(now=at)


def test_a_job_end_is_posted_signed_in_the_envelope(hooked, receiver, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = services.run_sync_now(hooked, sync_type="full")
    assert job.status == "succeeded"
    delivery = WebhookDelivery.objects.get(event_type="sync.completed")
    assert delivery.status == "succeeded" and delivery.attempts == 1
    request = receiver.requests[-1]
    signed = verify(SECRET, request.headers, request.body, tolerance=300)
    assert signed.msg_id == delivery.msg_id == request.headers["webhook-id"]
    payload = json.loads(request.body)
    assert payload["type"] == "sync.completed" and payload["timestamp"]
    assert payload["data"]["sync_id"] == str(job.pk) and payload["data"]["status"] == "success"
    assert payload["data"]["records_synced"] == job.items_processed
    # A second finish signal for the same job does not post twice.
    assert webhooks_out.job_finished(job) is None


def test_failures_retry_with_backoff_under_one_delivery_id_then_succeed(
    hooked,
    receiver,
    django_capture_on_commit_callbacks,
):
    receiver.fail(2, status=503)
    delivery = product_event(hooked, django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 1 and delivery.last_status_code == 503
    first_retry = delivery.next_attempt_at
    wait = (first_retry - WebhookAttempt.objects.get(delivery=delivery).attempted_at).total_seconds()
    assert 0.8 * 300 <= wait <= 1.2 * 300  # minutes, not seconds

    assert run_due(first_retry - timedelta(seconds=5)) == 0  # not due yet
    with django_capture_on_commit_callbacks(execute=True):
        assert run_due(first_retry + timedelta(seconds=1)) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and delivery.status == "pending"
    second_wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 0.8 * 1200 - 5 <= second_wait <= 1.2 * 1200 + 5

    with django_capture_on_commit_callbacks(execute=True):
        assert run_due(delivery.next_attempt_at + timedelta(seconds=1)) == 1
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempts == 3 and delivery.delivered_at
    attempts = list(delivery.attempt_rows.order_by("number"))
    assert [a.status_code for a in attempts] == [503, 503, 200]
    assert [a.success for a in attempts] == [False, False, True]
    assert all(a.latency_ms >= 0 and a.url == receiver.url for a in attempts)
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert ids == {delivery.msg_id}  # the same id in every attempt
    body = json.loads(receiver.requests[-1].body)
    assert body["type"] == "products.updated" and body["data"]["price"] == 13.75 and body["data"]["title"] == "Lamp"


def test_five_failures_make_a_dead_letter_that_an_operator_redelivers(
    hooked,
    receiver,
    client,
    superuser,
    django_capture_on_commit_callbacks,
):
    receiver.default = (500, {})
    delivery = product_event(hooked, django_capture_on_commit_callbacks)
    total_wait = timedelta(0)
    for _ in range(4):
        delivery.refresh_from_db()
        total_wait += delivery.next_attempt_at - timezone.now()
        with django_capture_on_commit_callbacks(execute=True):
            run_due(delivery.next_attempt_at + timedelta(seconds=1))
    delivery.refresh_from_db()
    assert delivery.status == "dead" and delivery.attempts == 5 and delivery.next_attempt_at is None
    assert delivery.attempt_rows.count() == 5
    assert total_wait > timedelta(hours=4)  # spread over hours
    assert run_due(timezone.now() + timedelta(days=2)) == 0  # a dead letter is not retried

    receiver.default = (200, {})
    client.force_login(superuser)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/storesync/webhookdelivery/",
            {
                "action": "redeliver",
                "_selected_action": [str(delivery.pk)],
            },
        )
    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempt_rows.count() == 6
    assert receiver.requests[-1].headers["webhook-id"] == delivery.msg_id
    page = client.get(f"/admin/storesync/webhookdelivery/{delivery.pk}/change/")
    assert page.status_code == 200 and SECRET not in page.content.decode()


@pytest.mark.parametrize("status, retried", [(410, False), (301, False), (400, False), (408, True), (429, True)])
def test_final_answers_are_not_retried(
    hooked,
    receiver,
    status,
    retried,
    django_capture_on_commit_callbacks,
):
    receiver.fail(1, status=status)
    delivery = product_event(hooked, django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert (delivery.status == "pending") is retried
    assert delivery.last_status_code == status


def test_retry_after_is_honoured(hooked, receiver, django_capture_on_commit_callbacks):
    receiver.fail(1, status=429, headers={"Retry-After": "7200"})
    delivery = product_event(hooked, django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 7200 - 10 <= wait <= 7200 + 5


def test_the_endpoint_goes_through_the_url_guard(
    hooked,
    receiver,
    settings,
    django_capture_on_commit_callbacks,
):
    settings.PLATFORM_URL_ALLOWLIST = []  # loopback is private: refused at connection time
    delivery = product_event(hooked, django_capture_on_commit_callbacks)
    delivery.refresh_from_db()
    assert not receiver.requests
    attempt = delivery.attempt_rows.get()
    assert attempt.status_code is None and "UnsafeURLError" in attempt.error


def test_records_only_synced_to_the_platform_are_not_posted(
    shop_store,
    receiver,
    django_capture_on_commit_callbacks,
):
    configure(
        shop_store, products={"direction": "to_platform"}, webhook_config={"endpoint": receiver.url, "secret": SECRET}
    )
    product = Product.objects.create(store=shop_store, name="Desk", price="99")
    with django_capture_on_commit_callbacks(execute=True):
        product.save()
    assert not WebhookDelivery.objects.exists() and not receiver.requests


@pytest.fixture
def trickler():
    """A raw-socket receiver that reads the request, then sends its status line one byte every
    half second (each read succeeds well within a per-read timeout) and gives up after 8 s."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        connection, _ = server.accept()
        with connection:
            connection.settimeout(1)
            received = b""
            while b"\r\n\r\n" not in received:
                received += connection.recv(65536)
            deadline = time.monotonic() + 8
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok":
                if stop.is_set() or time.monotonic() > deadline:
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return  # the hub hung up: what we want
                stop.wait(0.5)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/hook"
    stop.set()
    server.close()
    thread.join(timeout=10)


def test_a_trickling_receiver_is_cut_off_at_the_attempt_deadline(
    shop_store, trickler, settings, django_capture_on_commit_callbacks
):
    settings.STORESYNC_WEBHOOK_TIMEOUT = 2.0
    configure(shop_store, products={}, webhook_config={"endpoint": trickler, "secret": SECRET})
    started = time.monotonic()
    delivery = product_event(shop_store, django_capture_on_commit_callbacks)
    elapsed = time.monotonic() - started

    assert elapsed < 2.0 + 1.5, f"the attempt took {elapsed:.1f} s"
    delivery.refresh_from_db()
    attempt = delivery.attempt_rows.get()
    assert attempt.success is False and attempt.status_code is None
    assert "Timeout" in attempt.error
    assert delivery.status == "pending" and delivery.next_attempt_at > timezone.now()  # retried later


def test_attempts_are_sent_to_the_webhooks_queue_not_the_sync_workers(settings):
    import redis

    from config.celery import app as celery_app
    from config.jobs import celery_task
    from storesync.task_names import DELIVER_WEBHOOK, RUN_STORE_SYNC

    queue, previous = f"test-{uuid.uuid4().hex[:10]}", celery_app.conf.task_default_queue
    broker = redis.Redis.from_url(settings.REDIS_URL)
    celery_app.conf.task_default_queue, celery_app.conf.task_always_eager = queue, False
    try:
        celery_task(DELIVER_WEBHOOK).delay(str(uuid.uuid4()), "token")
        celery_task(RUN_STORE_SYNC).delay(str(uuid.uuid4()), "token")
        assert broker.llen(f"{queue}.webhooks") == 1
        assert broker.llen(queue) == 1  # the sync job stays on the default queue
    finally:
        celery_app.conf.task_default_queue, celery_app.conf.task_always_eager = previous, True
        broker.delete(queue, f"{queue}.webhooks")


@pytest.mark.worker
def test_a_worker_on_the_webhooks_queue_delivers(hooked, receiver, hub_worker):
    product = Product.objects.create(store=hooked, name="Lamp", price="12.50", inventory=3, sku="L-9")
    product.price = "14.00"
    product.save()  # committed at once (a transactional test): the attempt goes to <queue>.webhooks
    delivery = WebhookDelivery.objects.get(store=hooked, event_type="products.updated")
    deadline = time.monotonic() + 30
    while delivery.status == "pending" and time.monotonic() < deadline:
        time.sleep(0.2)
        delivery.refresh_from_db()
    assert delivery.status == "succeeded", delivery.last_error
    assert delivery.msg_id in {request.headers["webhook-id"] for request in receiver.requests}
