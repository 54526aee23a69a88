"""The the store sync API endpoints: shapes, the spec's own examples, validation errors, permissions."""

from __future__ import annotations

import socket
import uuid
from decimal import Decimal

import pytest
from django.conf import settings

from catalog.models import Product
from catalog.roles import Role
from config.jobs import start_job
from storesync import services
from storesync.models import StoreSyncJob, SyncConflict
from tests.plugins.simulator import sim_get, sim_post
from tests.storesync.conftest import configure, platform_product

pytestmark = pytest.mark.django_db

SPEC_CONFIGURE = {
    "sync_frequency": "real_time",
    "entities": [
        {
            "type": "products",
            "direction": "bidirectional",
            "conflict_resolution": "last_write_wins",
            "fields": ["title", "price", "inventory", "description"],
        },
        {"type": "orders", "direction": "to_platform", "fields": ["status", "total", "customer_info"]},
    ],
    "webhook_config": {"endpoint": "https://store.example.com/webhooks/sync", "secret": "webhook_secret_123"},
}
SPEC_RULES = {
    "rules": [
        {
            "name": "price_conflict_resolution",
            "entity_type": "products",
            "field": "price",
            "condition": "conflict_detected",
            "action": "use_highest_value",
        },
        {
            "name": "inventory_sync_frequency",
            "entity_type": "products",
            "field": "inventory",
            "condition": "always",
            "action": "sync_immediately",
        },
    ]
}
SPEC_FILTERS = {
    "entity_type": "products",
    "filters": [
        {"field": "status", "operator": "equals", "value": "active"},
        {"field": "price", "operator": "greater_than", "value": 0},
    ],
    "exclude_fields": ["internal_notes", "vendor_code"],
}
SPEC_TRIGGER = {
    "entities": ["products", "orders"],
    "sync_type": "incremental",
    "priority": "high",
    "options": {"force_full_sync": False, "validate_data": True, "resolve_conflicts": True},
}


@pytest.fixture
def public_dns(monkeypatch):
    """store.example.com resolves to a public address (the sandbox has no DNS)."""
    real = socket.getaddrinfo

    def fake(host, *args, **kwargs):
        if host == "store.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 443))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


@pytest.fixture
def operator(make_user, shop_store):
    return make_user("operator", role=Role.OPERATOR, stores=[shop_store])


@pytest.fixture
def client(api, operator):
    return api(operator)


def url(store, action: str, slash: str = "") -> str:
    return f"/api/v1/stores/{store.pk}/sync/{action}{slash}"


def error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == "error" and body["code"] == code, body
    return body


def test_configure_accepts_the_specs_example(client, shop_store, public_dns):
    response = client.post(url(shop_store, "configure"), SPEC_CONFIGURE, format="json")
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["status"] == "configured" and data["entities_configured"] == 2
    assert data["next_sync"] == "real_time" and isinstance(data["sync_config_id"], int)
    base = f"{settings.PUBLIC_BASE_URL}/api/v1/webhooks/{shop_store.uuid}"
    assert data["webhook_urls"] == [f"{base}/products", f"{base}/orders"]

    shown = client.get(url(shop_store, "configure", "/"))
    assert shown.status_code == 200
    config = shown.json()["data"]
    assert "webhook_secret_123" not in shown.content.decode()
    assert config["webhook_config"] == {"endpoint": "https://store.example.com/webhooks/sync", "has_secret": True}
    assert [e["type"] for e in config["entities"]] == ["products", "orders"]
    assert config["entities"][1]["conflict_resolution"] == "last_write_wins"

    again = {
        **SPEC_CONFIGURE,
        "entities": SPEC_CONFIGURE["entities"][:1],
        "webhook_config": {"endpoint": "https://store.example.com/webhooks/v2"},
    }
    assert client.post(url(shop_store, "configure"), again, format="json").status_code == 200
    config = client.get(url(shop_store, "configure")).json()["data"]
    assert config["webhook_config"]["has_secret"] is True  # left out: kept
    assert [e["type"] for e in config["entities"]] == ["products"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"sync_frequency": "hourly"}, "sync_frequency"),
        ({"entities": []}, "entities"),
        ({"entities": "products"}, "entities"),
        ({"entities": [{"type": "products", "fields": ["title", "internal_notes"]}]}, "entities"),
        ({"entities": [{"type": "products", "fields": "title"}]}, "entities"),
        ({"entities": [{"type": "invoices"}]}, "entities"),
        ({"entities": [{"type": "orders", "direction": "bidirectional"}]}, "entities"),
        ({"entities": [{"type": "products", "conflict_resolution": "coin_toss"}]}, "entities"),
        ({"entities": [{"type": "products"}, {"type": "products"}]}, "entities"),
        ({"webhook_config": {"endpoint": "ftp://example.com/x"}}, "webhook_config"),
        ({"webhook_config": {"endpoint": "http://10.0.0.8/hook", "secret": "s"}}, "webhook_config"),
        ({"webhook_config": "https://store.example.com"}, "webhook_config"),
    ],
)
def test_configure_refuses_bad_input_clearly(client, shop_store, change, field):
    body = {"sync_frequency": "high", "entities": [{"type": "products"}], **change}
    payload = error(client.post(url(shop_store, "configure"), body, format="json"), 400, "VALIDATION_ERROR")
    assert field in payload["detail"]


def test_malformed_json_is_invalid_data_format(client, shop_store):
    response = client.post(url(shop_store, "configure"), "{not json", content_type="application/json")
    error(response, 400, "INVALID_DATA_FORMAT")


def test_other_stores_are_not_found_and_reads_need_a_configuration(client, shop_store, other_store):
    for action in ("configure", "status", "conflicts", "history", "rules", "filters"):
        error(client.get(url(other_store, action)), 404, "STORE_NOT_FOUND")
    error(client.post(url(other_store, "trigger"), {}, format="json"), 404, "STORE_NOT_FOUND")
    error(client.get("/api/v1/stores/not-a-store/sync/status"), 400, "VALIDATION_ERROR")
    for action in ("configure", "status", "rules", "filters"):
        error(client.get(url(shop_store, action)), 404, "SYNC_NOT_CONFIGURED")
    for action in ("trigger", "pause", "resume"):
        error(client.post(url(shop_store, action), {}, format="json"), 409, "SYNC_NOT_CONFIGURED")
    error(client.post(url(shop_store, "rules"), SPEC_RULES, format="json"), 409, "SYNC_NOT_CONFIGURED")


def test_roles(api, make_user, shop_store):
    configure(shop_store, products={})
    viewer = api(make_user("viewer", role=Role.VIEWER, stores=[shop_store]))
    assert viewer.get(url(shop_store, "status")).status_code == 200
    error(viewer.post(url(shop_store, "trigger"), {}, format="json"), 403, "PERMISSION_DENIED")
    error(viewer.post(url(shop_store, "pause"), {}, format="json"), 403, "PERMISSION_DENIED")
    edge = api(make_user("edge", role=Role.EDGE, stores=[shop_store]))
    error(edge.get(url(shop_store, "status")), 403, "PERMISSION_DENIED")
    error(api(None).get(url(shop_store, "status")), 401, "NOT_AUTHENTICATED")
    admin = api(make_user("boss", role=Role.ADMIN))
    assert admin.get(f"/api/v1/stores/{shop_store.uuid}/sync/status/").status_code == 200


def test_trigger_queues_a_job_and_reports_its_place(client, shop_store, sim):
    configure(shop_store, products={}, orders={})
    first = client.post(url(shop_store, "trigger"), SPEC_TRIGGER, format="json")
    assert first.status_code == 202, first.content
    data = first.json()["data"]
    assert data["status"] == "queued" and data["entities_to_sync"] == ["products", "orders"]
    assert data["queue_position"] == 1 and data["estimated_duration"] == "unknown"
    uuid.UUID(data["sync_job_id"])
    second = client.post(url(shop_store, "trigger/"), {"priority": "low"}, format="json").json()["data"]
    assert second["queue_position"] == 2
    third = client.post(url(shop_store, "trigger"), {"priority": "high"}, format="json").json()["data"]
    assert third["queue_position"] == 2  # high before low, after the earlier high
    job = StoreSyncJob.objects.get(pk=data["sync_job_id"])
    assert job.priority == "high" and job.sync_type == "incremental" and job.trigger == "api"
    shown = client.get(f"/api/v1/sync/jobs/{job.pk}").json()["data"]
    assert shown["status"] == "queued" and shown["queue_position"] == 1
    assert shown["progress"] == {
        "total_entities": 2,
        "completed_entities": 0,
        "percentage": 0.0,
        "current_entity": None,
        "records_processed": 0,
        "records_total": 0,
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sync_type": "partial"}, "sync_type"),
        ({"priority": "urgent"}, "priority"),
        ({"entities": ["products", "invoices"]}, "entities"),
        ({"entities": []}, "entities"),
        ({"entities": ["products", "products"]}, "entities"),
        ({"options": {"force_full_sync": "maybe"}}, "options"),
        ({"options": []}, "options"),
        ({"entities": ["customers"]}, "entities"),  # valid name, not configured
    ],
)
def test_trigger_refuses_bad_input(client, shop_store, body, field):
    configure(shop_store, products={})
    payload = error(client.post(url(shop_store, "trigger"), body, format="json"), 400, "VALIDATION_ERROR")
    assert field in payload["detail"]


def test_trigger_on_a_store_without_a_shop(client, make_store, make_user, api):
    store = make_store("bare")
    configure(store, products={})
    boss = api(make_user("boss", role=Role.ADMIN))
    error(boss.post(url(store, "trigger"), {}, format="json"), 400, "PLATFORM_NOT_CONFIGURED")


def test_the_queue_has_a_limit(client, shop_store, settings):
    settings.STORESYNC_MAX_QUEUED_JOBS = 2
    configure(shop_store, products={})
    for _ in range(2):
        assert client.post(url(shop_store, "trigger"), {}, format="json").status_code == 202
    error(client.post(url(shop_store, "trigger"), {}, format="json"), 409, "SYNC_IN_PROGRESS")


def test_a_finished_job_shows_its_results(client, shop_store, sim, django_capture_on_commit_callbacks):
    configure(shop_store, products={}, customers={})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(shop_store, "trigger"), {"options": {"force_full_sync": True}}, format="json")
    job_id = response.json()["data"]["sync_job_id"]
    data = client.get(f"/api/v1/sync/jobs/{job_id}/").json()["data"]
    assert data["status"] == "completed" and data["sync_type"] == "full"
    assert data["progress"]["percentage"] == 100.0 and data["progress"]["completed_entities"] == 2
    assert data["results"]["products"] == {
        "status": "completed",
        "records_synced": 8,
        "records_updated": 0,
        "records_created": 8,
        "conflicts_resolved": 0,
        "conflicts_pending": 0,
        "errors": 0,
        "duration": data["results"]["products"]["duration"],
    }
    assert data["results"]["products"]["duration"].endswith("s")
    assert data["store_id"] == shop_store.pk and data["started_at"] and data["finished_at"]
    estimate = client.post(url(shop_store, "trigger"), {"sync_type": "full"}, format="json").json()["data"]
    assert estimate["estimated_duration"].startswith("about")


def test_unknown_jobs_and_other_stores_jobs_are_not_found(client, make_store, shop_store):
    other = make_store("elsewhere")
    configure(other, products={})
    foreign = start_job(StoreSyncJob, kind="store_sync", store=other)
    for ref in (foreign.pk, uuid.uuid4(), "not-a-uuid", "1"):
        error(client.get(f"/api/v1/sync/jobs/{ref}"), 404, "NOT_FOUND")


def manual_conflicts(store, sim, shop_ids=(2, 3, 4)):
    """Price conflicts pending on a few products."""
    configure(store, products={"conflict_resolution": "manual_resolution"})
    assert services.run_sync_now(store, sync_type="full").status == "succeeded"
    for shop_id in shop_ids:
        sim_post(sim, "mutate", {"products": [shop_id], "fields": {"price": f"{shop_id}0.500000"}})
        product = platform_product(store, shop_id)
        product.price = f"{shop_id}9.000000"
        product.save()
    assert services.run_sync_now(store).status == "succeeded"
    return list(SyncConflict.objects.filter(store=store, status="pending").order_by("record_pk"))


def test_conflicts_list_with_filters_and_pagination(client, shop_store, sim):
    conflicts = manual_conflicts(shop_store, sim)
    assert len(conflicts) == 3
    response = client.get(url(shop_store, "conflicts"), {"status": "pending", "entity_type": "products", "limit": 2})
    body = response.json()
    assert body["pagination"] == {"page": 1, "limit": 2, "total": 3}
    item = body["data"][0]
    assert set(item) >= {
        "conflict_id",
        "entity_type",
        "entity_id",
        "field",
        "store_value",
        "platform_value",
        "last_modified_store",
        "last_modified_platform",
        "status",
        "created_at",
    }
    assert item["field"] == "price" and isinstance(item["store_value"], float)
    page2 = client.get(url(shop_store, "conflicts/"), {"page": 2, "limit": 2}).json()
    assert len(page2["data"]) == 1
    assert client.get(url(shop_store, "conflicts"), {"page": 9}).json()["data"] == []
    assert client.get(url(shop_store, "conflicts"), {"status": "resolved"}).json()["pagination"]["total"] == 0
    for bad in ({"status": "open"}, {"entity_type": "invoices"}, {"page": 0}, {"page": "x"}, {"limit": 5000}):
        error(client.get(url(shop_store, "conflicts"), bad), 400, "VALIDATION_ERROR")


def test_resolving_with_apply_to_similar_and_create_rule(client, shop_store, sim):
    first, *others = manual_conflicts(shop_store, sim)
    body = {
        "resolution": "use_store_value",
        "apply_to_similar": True,
        "create_rule": {"field": "price", "strategy": "newest_wins"},
    }
    response = client.post(f"/api/v1/sync/conflicts/{first.pk}/resolve", body, format="json")
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["status"] == "resolved" and sorted(data["resolved_conflicts"]) == sorted(c.pk for c in [first, *others])
    assert data["rule_created"]["action"] == "newest_wins" and data["rule_created"]["created_from_conflict"] == first.pk
    for conflict in [first, *others]:
        product = Product.objects.get(pk=conflict.record_pk)
        assert product.price == Decimal(conflict.store_value)
        assert sim_get(sim, f"products/{product.id_origin}")["price"] == conflict.store_value
    assert not SyncConflict.objects.filter(store=shop_store, status="pending").exists()
    rules = client.get(url(shop_store, "rules")).json()["data"]
    assert rules[-1]["name"] == "products_price_newest_wins"
    again = client.post(f"/api/v1/sync/conflicts/{first.pk}/resolve/", body, format="json")
    error(again, 409, "DATA_CONFLICT")
    job = services.run_sync_now(shop_store)
    assert job.counters["records_updated"] == 0  # both sides already hold the chosen values

    # The rule created from the conflict now settles the next price conflict: the newer side wins.
    product = Product.objects.get(pk=first.record_pk)
    sim_post(sim, "mutate", {"products": [product.id_origin], "fields": {"price": "41.000000"}})
    product.price = "42.000000"
    product.save()  # after the shop's edit: the platform's value is the newest
    assert services.run_sync_now(shop_store).status == "succeeded"
    assert sim_get(sim, f"products/{product.id_origin}")["price"] == "42.000000"
    settled = SyncConflict.objects.filter(store=shop_store, record_pk=product.pk).latest("id")
    assert (settled.status, settled.resolution) == ("resolved", "rule:products_price_newest_wins")
    assert not SyncConflict.objects.filter(store=shop_store, status="pending").exists()


def test_resolving_with_the_platform_value_or_a_custom_value_writes_the_shop(client, shop_store, sim):
    first, second, _ = manual_conflicts(shop_store, sim)
    response = client.post(
        f"/api/v1/sync/conflicts/{first.pk}/resolve", {"resolution": "use_platform_value"}, format="json"
    )
    assert response.status_code == 200
    assert sim_get(sim, f"products/{first.shop_id}")["price"] == first.platform_value
    custom = client.post(
        f"/api/v1/sync/conflicts/{second.pk}/resolve",
        {"resolution": "use_custom_value", "custom_value": 12.5},
        format="json",
    )
    assert custom.json()["data"]["resolved_value"] == 12.5
    assert sim_get(sim, f"products/{second.shop_id}")["price"] == "12.500000"
    assert Product.objects.get(pk=second.record_pk).price == 12.5


@pytest.mark.parametrize(
    "body",
    [
        {"resolution": "use_both"},
        {},
        {"resolution": "use_custom_value"},
        {"resolution": "use_custom_value", "custom_value": "cheap"},
        {"resolution": "use_custom_value", "custom_value": -3},
        {"resolution": "use_store_value", "create_rule": {"strategy": "coin_toss"}},
        {"resolution": "use_store_value", "create_rule": {"field": "internal_notes", "strategy": "newest_wins"}},
        {"resolution": "use_store_value", "apply_to_similar": "perhaps"},
    ],
)
def test_resolve_refuses_bad_input(client, shop_store, sim, body):
    conflict = manual_conflicts(shop_store, sim, shop_ids=(2,))[0]
    error(client.post(f"/api/v1/sync/conflicts/{conflict.pk}/resolve", body, format="json"), 400, "VALIDATION_ERROR")
    conflict.refresh_from_db()
    assert conflict.status == "pending"


def test_resolve_unknown_conflicts(client):
    for ref in ("999999", "abc", "99999999999999999999999"):
        error(
            client.post(f"/api/v1/sync/conflicts/{ref}/resolve", {"resolution": "use_store_value"}, format="json"),
            404,
            "NOT_FOUND",
        )


def test_rules_accept_the_specs_example(client, shop_store, api, admin_user):
    configure(shop_store, products={})
    response = client.post(url(shop_store, "rules"), SPEC_RULES, format="json")
    assert response.status_code == 200, response.content
    assert [rule["name"] for rule in response.json()["data"]] == [
        "price_conflict_resolution",
        "inventory_sync_frequency",
    ]
    update = {
        "rules": [
            {
                "name": "price_conflict_resolution",
                "entity_type": "products",
                "field": "price",
                "action": "store_priority",
            }
        ]
    }
    rules = client.post(url(shop_store, "rules/"), update, format="json").json()["data"]
    assert rules[0]["action"] == "use_store_value" and rules[0]["condition"] == "conflict_detected" and len(rules) == 2
    # replace deletes the rules it does not name: the D letter (tests/storesync/test_replace_letters.py)
    replaced = api(admin_user).post(url(shop_store, "rules"), {**update, "replace": True}, format="json").json()["data"]
    assert len(replaced) == 1
    assert client.get(url(shop_store, "rules")).json()["data"] == replaced


@pytest.mark.parametrize(
    "rule",
    [
        {"name": "x", "entity_type": "products", "field": "vendor_code", "action": "use_store_value"},
        {"name": "x", "entity_type": "products", "field": "price", "action": "flip_a_coin"},
        {"name": "x", "entity_type": "products", "field": "price", "condition": "sometimes", "action": "newest_wins"},
        {"name": "x", "entity_type": "shipments", "field": "price", "action": "newest_wins"},
        {"name": "bad name!", "entity_type": "products", "field": "price", "action": "newest_wins"},
        {"entity_type": "products", "field": "price", "action": "newest_wins"},
    ],
)
def test_rules_refuse_bad_input(client, shop_store, rule):
    configure(shop_store, products={})
    error(client.post(url(shop_store, "rules"), {"rules": [rule]}, format="json"), 400, "VALIDATION_ERROR")


def test_filters_accept_the_specs_example(client, shop_store):
    configure(shop_store, products={})
    response = client.post(url(shop_store, "filters"), SPEC_FILTERS, format="json")
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["exclude_fields"] == ["internal_notes", "vendor_code"]
    assert data["filters"] == SPEC_FILTERS["filters"]
    assert data["effective_fields"] == ["title", "description", "price", "inventory", "sku", "status"]
    assert client.get(url(shop_store, "filters")).json()["data"] == [data]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({**SPEC_FILTERS, "entity_type": "customers"}, 400),  # not configured
        ({**SPEC_FILTERS, "filters": [{"field": "status", "operator": "like", "value": "a"}]}, 400),
        ({**SPEC_FILTERS, "filters": [{"field": "colour", "operator": "equals", "value": "red"}]}, 400),
        ({**SPEC_FILTERS, "filters": [{"field": "sku", "operator": "in", "value": "A1"}]}, 400),
        ({**SPEC_FILTERS, "filters": [{"field": "price", "operator": "greater_than", "value": "lots"}]}, 400),
        ({**SPEC_FILTERS, "filters": [{"field": "price", "operator": "equals", "value": {"a": 1}}]}, 400),
        ({**SPEC_FILTERS, "exclude_fields": "vendor_code"}, 400),
        ({"filters": []}, 400),
    ],
)
def test_filters_refuse_bad_input(client, shop_store, body, status):
    configure(shop_store, products={})
    error(client.post(url(shop_store, "filters"), body, format="json"), status, "VALIDATION_ERROR")


def test_pause_and_resume(client, shop_store, sim, django_capture_on_commit_callbacks):
    configure(shop_store, products={}, frequency="high")
    services.run_sync_now(shop_store, sync_type="full")
    waiting = client.post(url(shop_store, "trigger"), {}, format="json").json()["data"]["sync_job_id"]
    paused = client.post(url(shop_store, "pause"))
    assert paused.status_code == 200
    data = paused.json()["data"]
    assert data["status"] == "paused" and data["cancelled_jobs"] == 1 and data["paused_at"]
    assert StoreSyncJob.objects.get(pk=waiting).status == "cancelled"
    error(client.post(url(shop_store, "trigger"), {}, format="json"), 409, "SYNC_PAUSED")
    assert client.get(url(shop_store, "status")).json()["data"]["overall_status"] == "paused"
    sim_post(sim, "mutate", {"products": [5], "fields": {"price": "55.000000"}})
    assert services.dispatch_due_syncs()["queued"] == 0
    resumed = client.post(url(shop_store, "resume/")).json()["data"]
    assert resumed["status"] == "active" and resumed["paused_at"] is None
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url(shop_store, "trigger"), {}, format="json").status_code == 202
    assert platform_product(shop_store, 5).price == 55  # the change made while paused is not lost


def test_status_and_history(client, shop_store, sim):
    configure(shop_store, products={}, customers={}, frequency="medium")
    services.run_sync_now(shop_store, sync_type="full")
    sim_post(sim, "config", {"fail_next": {"count": 1, "status": 400, "method": "PATCH"}})
    product = platform_product(shop_store, 2)
    product.price = "1.230000"
    product.save()
    services.run_sync_now(shop_store)
    status = client.get(url(shop_store, "status")).json()["data"]
    # The write the shop refused waits as a dead letter: a person must look at it.
    assert status["overall_status"] == "needs_attention" and status["store_id"] == shop_store.pk
    assert status["sync_health"]["success_rate"] == 50.0 and status["sync_health"]["error_count_24h"] == 1
    assert status["sync_health"]["avg_sync_time"].endswith("s")
    products = status["entities"][0]
    assert products["type"] == "products" and products["records_count"] == 8
    assert products["pending_changes"] == 1 and products["status"] == "error"
    assert status["next_sync"] and status["last_sync"]

    history = client.get(url(shop_store, "history")).json()
    assert history["pagination"]["total"] == 2
    latest = history["data"][0]
    assert latest["status"] == "partial" and latest["trigger"] == "command"
    assert latest["summary"]["failed"] == 1
    assert {e["type"] for e in latest["entities_synced"]} == {"products", "customers"}
    assert client.get(url(shop_store, "history"), {"status": "success"}).json()["pagination"]["total"] == 1
    assert client.get(url(shop_store, "history"), {"entity_type": "orders"}).json()["data"] == []
    assert (
        client.get(url(shop_store, "history"), {"start_date": "2000-01-01", "end_date": "2000-01-02"}).json()["data"]
        == []
    )
    assert (
        client.get(url(shop_store, "history"), {"end_date": "2999-01-01T00:00:00Z"}).json()["pagination"]["total"] == 2
    )
    for bad in (
        {"start_date": "yesterday"},
        {"status": "ok"},
        {"entity_type": "x"},
        {"start_date": "2024-02-01", "end_date": "2024-01-01"},
    ):
        error(client.get(url(shop_store, "history"), bad), 400, "VALIDATION_ERROR")


def test_routes_answer_with_and_without_a_slash_and_posts_are_not_redirected(client, shop_store):
    configure(shop_store, products={})
    for slash in ("", "/"):
        assert client.get(url(shop_store, "status", slash)).status_code == 200
        assert client.post(url(shop_store, "pause", slash)).status_code == 200


def test_pending_changes_count_the_owed_records(client, shop_store, sim):
    """A shop record the platform could not take (a negative price) is owed: the status shows it
    until it converges, although no platform record changed."""
    sim_post(sim, "mutate", {"products": [4], "fields": {"price": "-5.000000"}})
    configure(shop_store, products={})
    job = services.run_sync_now(shop_store, sync_type="full")
    assert job.status == "partial"
    products = client.get(url(shop_store, "status")).json()["data"]["entities"][0]
    assert (products["records_count"], products["pending_changes"]) == (7, 1)

    sim_post(sim, "mutate", {"products": [4], "fields": {"price": "5.000000"}})
    assert services.run_sync_now(shop_store).status == "succeeded"
    products = client.get(url(shop_store, "status")).json()["data"]["entities"][0]
    assert (products["records_count"], products["pending_changes"]) == (8, 0)
