"""Inbound webhooks: Standard Webhooks signatures (good, bad, expired, replayed, rotated),
the notification applied as a record-level sync on the simulator, paused stores."""

from __future__ import annotations

import base64
import json
import time

import pytest

from catalog.models import Product
from config.jobs import JobTrigger
from storesync import services
from storesync.models import StoreSyncJob
from storesync.webhooks.models import InboundWebhook
from storesync.webhooks.signatures import sign_headers, signature
from tests.plugins.simulator import sim_get, sim_post
from tests.storesync.conftest import configure

pytestmark = pytest.mark.django_db

SECRET = "webhook_secret_123"


def hook_url(store, entity="products"):
    return f"/api/v1/webhooks/{store.uuid}/{entity}"


def post(
    client, store, body: dict | bytes, *, secret=SECRET, msg_id="msg_1", timestamp=None, entity="products", headers=None
):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    signed = sign_headers(secret, msg_id, raw, timestamp=timestamp) if headers is None else headers
    extra = {f"HTTP_{key.upper().replace('-', '_')}": value for key, value in signed.items()}
    return client.post(hook_url(store, entity), data=raw, content_type="application/json", **extra)


def note(ids, action="updated", entity="products"):
    return {"type": f"{entity}.{action}", "timestamp": "2026-11-23T10:00:00Z", "data": {"ids": ids}}


@pytest.fixture
def synced_store(shop_store, sim):
    configure(
        shop_store, products={}, customers={}, webhook_config={"endpoint": "http://127.0.0.1:9/hook", "secret": SECRET}
    )
    assert services.run_sync_now(shop_store, sync_type="full").status == "succeeded"
    return shop_store


def test_the_signature_follows_the_standard_webhooks_test_vector():
    # The specification's own example (standard-webhooks, "Signature scheme").
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )
    assert base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")  # the whsec_ part is base64


def test_a_valid_notification_answers_202_and_syncs_only_the_named_records(
    synced_store, sim, api, django_capture_on_commit_callbacks
):
    sim_post(sim, "mutate", {"products": [3, 5], "fields": {"price": "77.000000"}})
    before = Product.objects.get(store=synced_store, id_origin=4).price
    sim_post(sim, "mutate", {"products": [4], "fields": {"price": "66.000000"}})
    with django_capture_on_commit_callbacks(execute=True):
        response = post(api(None), synced_store, note([3, 5]))
    assert response.status_code == 202, response.json()
    data = response.json()["data"]
    assert data["status"] == "queued" and data["records"] == 2 and data["webhook_id"] == "msg_1"
    job = StoreSyncJob.objects.get(pk=data["sync_job_id"])
    assert (job.trigger, job.sync_type, job.priority) == (JobTrigger.WEBHOOK, "records", "high")
    assert job.status == "succeeded", job.message  # eager Celery ran it on commit
    assert job.params["records"]["products"]["shop_ids"] == [3, 5]
    prices = dict(Product.objects.filter(store=synced_store, id_origin__in=[3, 4, 5]).values_list("id_origin", "price"))
    assert float(prices[3]) == float(prices[5]) == 77.0
    assert prices[4] == before  # not named: not synced
    assert job.items_processed == 2


def test_bad_signatures_answer_401(synced_store, api):
    client = api(None)
    body = json.dumps(note([1])).encode()
    wrong = post(client, synced_store, body, secret="another-secret")
    assert wrong.status_code == 401 and wrong.json()["code"] == "WEBHOOK_SIGNATURE_INVALID"
    headers = sign_headers(SECRET, "msg_2", body)
    tampered = post(client, synced_store, body.replace(b"1", b"2"), headers=headers)
    assert tampered.status_code == 401
    missing = client.post(hook_url(synced_store), data=body, content_type="application/json")
    assert missing.status_code == 401 and "required" in missing.json()["message"]
    expired = post(client, synced_store, body, msg_id="msg_3", timestamp=int(time.time()) - 301)
    assert expired.status_code == 401 and "tolerance" in expired.json()["message"]
    future = post(client, synced_store, body, msg_id="msg_4", timestamp=int(time.time()) + 301)
    assert future.status_code == 401
    assert not InboundWebhook.objects.exists() and not StoreSyncJob.objects.filter(trigger="webhook").exists()
    assert SECRET not in wrong.content.decode()


def test_a_replayed_notification_is_refused(synced_store, api, django_capture_on_commit_callbacks):
    client = api(None)
    body = json.dumps(note([2])).encode()
    headers = sign_headers(SECRET, "msg_replay", body)
    with django_capture_on_commit_callbacks(execute=True):
        assert post(client, synced_store, body, headers=headers).status_code == 202
    again = post(client, synced_store, body, headers=headers)
    assert again.status_code == 409 and again.json()["code"] == "WEBHOOK_REPLAYED"
    assert InboundWebhook.objects.count() == 1
    assert StoreSyncJob.objects.filter(trigger="webhook").count() == 1


def test_rotated_secrets_and_whsec_secrets(synced_store, api):
    whsec = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
    configure(
        synced_store, products={}, customers={}, webhook_config={"endpoint": "http://127.0.0.1:9/hook", "secret": whsec}
    )
    body = json.dumps(note([1])).encode()
    good = sign_headers(whsec, "msg_rot", body)
    old = sign_headers(SECRET, "msg_rot", body)
    both = {**good, "webhook-signature": f"{old['webhook-signature']} {good['webhook-signature']}"}
    assert post(api(None), synced_store, body, headers=both).status_code == 202
    # The whsec_ secret is its decoded bytes, not the string.
    as_text = sign_headers("not-used", "msg_rot2", body)
    import hashlib
    import hmac

    as_text["webhook-signature"] = (
        "v1,"
        + base64.b64encode(
            hmac.new(
                whsec.encode(), f"msg_rot2.{as_text['webhook-timestamp']}.".encode() + body, hashlib.sha256
            ).digest()
        ).decode()
    )
    assert post(api(None), synced_store, body, headers=as_text).status_code == 401


@pytest.mark.parametrize(
    "body, code",
    [
        (b"not json", "VALIDATION_ERROR"),
        (json.dumps({"type": "orders.updated", "data": {"ids": [1]}}).encode(), "VALIDATION_ERROR"),
        (json.dumps({"type": "products.updated", "data": {"ids": []}}).encode(), "VALIDATION_ERROR"),
        (json.dumps({"type": "products.updated", "data": {"ids": ["x", -1]}}).encode(), "VALIDATION_ERROR"),
        (json.dumps([1, 2]).encode(), "VALIDATION_ERROR"),
        (b"[" * 100_000 + b"]" * 100_000, "VALIDATION_ERROR"),  # was a RecursionError, a 500
        (b'{"type": "products.updated", "data": {"ids": [NaN]}}', "VALIDATION_ERROR"),
    ],
)
def test_bad_bodies_answer_400(synced_store, api, body, code):
    response = post(api(None), synced_store, body, msg_id=f"msg_{abs(hash(body))}")
    assert response.status_code == 400 and response.json()["code"] == code


def test_unknown_stores_entities_and_unconfigured_secrets(synced_store, make_store, api):
    body = json.dumps(note([1], entity="orders")).encode()
    assert post(api(None), synced_store, body, entity="orders").status_code == 400  # orders not configured
    assert post(api(None), synced_store, body, entity="widgets").status_code == 400
    client = api(None)
    assert (
        client.post(
            "/api/v1/webhooks/00000000-0000-0000-0000-000000000000/products", data=body, content_type="application/json"
        ).status_code
        == 404
    )
    bare = make_store("bare")
    configure(bare, products={})
    response = post(api(None), bare, json.dumps(note([1])).encode())
    assert response.status_code == 401 and "no webhook secret" in response.json()["message"]


def test_a_paused_store_keeps_notifications_and_applies_them_on_resume(
    synced_store, sim, api, django_capture_on_commit_callbacks
):
    services.pause_sync(synced_store)
    sim_post(sim, "mutate", {"products": [2], "fields": {"price": "55.000000"}})
    sim_post(sim, "mutate", {"products": [6], "fields": {"price": "56.000000"}})
    client = api(None)
    with django_capture_on_commit_callbacks(execute=True):
        first = post(client, synced_store, note([2]), msg_id="msg_p1")
        second = post(client, synced_store, note([6]), msg_id="msg_p2")
    assert first.status_code == second.status_code == 202
    assert first.json()["data"]["status"] == "held" and first.json()["data"]["sync_job_id"] is None
    assert float(Product.objects.get(store=synced_store, id_origin=2).price) != 55.0
    with django_capture_on_commit_callbacks(execute=True):
        services.resume_sync(synced_store)
    jobs = StoreSyncJob.objects.filter(trigger="webhook")
    assert jobs.count() == 1  # both notifications in one job
    job = jobs.get()
    assert job.status == "succeeded" and sorted(job.params["records"]["products"]["shop_ids"]) == [2, 6]
    assert float(Product.objects.get(store=synced_store, id_origin=2).price) == 55.0
    assert float(Product.objects.get(store=synced_store, id_origin=6).price) == 56.0
    assert set(InboundWebhook.objects.values_list("status", flat=True)) == {"applied"}
    assert sim_get(sim, "products/2")["price"] == "55.000000"


def test_a_burst_of_notifications_joins_the_waiting_webhook_job(synced_store, api):
    client = api(None)
    # Not committed (no on_commit callbacks run): the first job stays queued.
    ids = [post(client, synced_store, note([n]), msg_id=f"msg_b{n}").json()["data"]["sync_job_id"] for n in (1, 2, 3)]
    assert len(set(ids)) == 1
    job = StoreSyncJob.objects.get(pk=ids[0])
    assert job.params["records"]["products"]["shop_ids"] == [1, 2, 3]
    customers = post(client, synced_store, note([1], entity="customers"), msg_id="msg_c1", entity="customers")
    assert customers.json()["data"]["sync_job_id"] == ids[0]
    job.refresh_from_db()
    assert job.entities == ["products", "customers"] and "customers" in job.entity_results
