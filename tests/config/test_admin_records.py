"""Audit records are read-only in the console (no add, save or delete: deletion is the
retention's), and every job table's pages read as a report: status in colour with its label,
the failure reason in the list, errors and counters as tables, the internals folded away."""

from __future__ import annotations

import pytest
from django.utils import timezone

from catalog.models import ImportRun, Product
from nasync.models import NasSyncRun
from photosync.models import EdgeStatusReport, EdgeSyncRun, ImageSyncRun, ProductPhoto
from storesync.models import DeadLetter, StoreSyncJob, SyncConflict
from storesync.webhooks.models import InboundWebhook, WebhookDelivery

pytestmark = pytest.mark.django_db

JOB_MODELS = [ImportRun, ImageSyncRun, EdgeSyncRun, NasSyncRun, StoreSyncJob]
AUDIT_MODELS = [*JOB_MODELS, SyncConflict, DeadLetter, WebhookDelivery, InboundWebhook, EdgeStatusReport]


def url(model, view: str, *args) -> str:
    from django.urls import reverse

    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def failed_job(model, store, lock_key: str = "", **extra):
    return model.objects.create(
        kind=getattr(model, "KIND", model._meta.model_name),
        store=store if model is not NasSyncRun else None,
        lock_key=lock_key or f"{model._meta.model_name}-lock-secretish",
        status="failed",
        error_code="SYNC_TIMEOUT",
        message="The shop did not answer within 30 seconds.",
        counters={"created": 3, "updated": 4},
        errors=[
            {"entity": "products", "record_pk": 41, "operation": "update_store", "code": "X", "message": "<b>no</b>"}
        ],
        error_count=1,
        celery_task_id="celery-task-id-1234",
        finished_at=timezone.now(),
        **extra,
    )


def audit_rows(store):
    product = Product.objects.create(store=store, id_origin=1, name="Mug", sku="MUG")
    conflict = SyncConflict.objects.create(
        store=store, entity_type="products", record_pk=product.pk, field="price", store_value="1", platform_value="2"
    )
    letter = DeadLetter.objects.create(
        store=store, entity_type="products", operation="update_store", record_pk=product.pk, error="e", code="X"
    )
    delivery = WebhookDelivery.objects.create(store=store, msg_id="msg_1", event_type="sync.completed", payload={})
    inbound = InboundWebhook.objects.create(
        store=store, webhook_id="wh_1", entity_type="products", event_type="product.updated", sent_at=timezone.now()
    )
    photo = ProductPhoto.objects.create(
        store=store, product=product, object_key="k", filename="a.jpg", size=1, content_type="image/jpeg", checksum="0"
    )
    report = EdgeStatusReport.objects.create(store=store, photo=photo, status="synced", version=1)
    jobs = [failed_job(model, store) for model in JOB_MODELS]
    return [*jobs, conflict, letter, delivery, inbound, report]


def test_audit_records_cannot_be_added_saved_or_deleted_from_the_console(console, store):
    for row in audit_rows(store):
        model = type(row)
        changelist = console.get(url(model, "changelist"))
        assert changelist.status_code == 200, model
        assert "delete_selected" not in changelist.content.decode(), model
        page = console.get(url(model, "change", row.pk))
        assert page.status_code == 200, model
        html = page.content.decode()
        assert 'name="_save"' not in html and 'name="_continue"' not in html, model
        assert url(model, "delete", row.pk) not in html, model
        assert console.post(url(model, "delete", row.pk), {"post": "yes"}).status_code == 403, model
        assert console.post(url(model, "change", row.pk), {}).status_code == 403, model
        assert console.get(url(model, "add")).status_code == 403, model
        assert console.post(
            url(model, "changelist"), {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"}
        ).status_code in (200, 302)
        assert model.objects.filter(pk=row.pk).exists(), model


def test_conflicts_and_dead_letters_keep_their_actions(console, store):
    audit_rows(store)
    conflicts = console.get(url(SyncConflict, "changelist")).content.decode()
    for action in ("use_store_value", "use_platform_value", "keep_newest", "use_custom_value", "ignore"):
        assert f'value="{action}"' in conflicts
    letters = console.get(url(DeadLetter, "changelist")).content.decode()
    assert 'value="requeue"' in letters and 'value="drop"' in letters


@pytest.mark.parametrize("model", JOB_MODELS, ids=lambda m: m.__name__)
def test_a_failed_job_reads_as_a_report(console, store, model):
    job = failed_job(model, store)
    listing = console.get(url(model, "changelist")).content.decode()
    assert 'data-state="failed"' in listing and "bg-red-100 text-red-700" in listing and "Failed" in listing
    assert "SYNC_TIMEOUT: The shop did not answer within 30 seconds." in listing

    page = console.get(url(model, "change", job.pk)).content.decode()
    assert "&lt;b&gt;no&lt;/b&gt;" in page and "<b>no</b>" not in page  # the errors table, as text
    assert "update_store" in page and "created" in page  # errors and counters as tables
    assert '"created": 3' not in page  # not raw JSON
    internals = page[page.index("<details") :]
    assert "celery-task-id-1234" in internals and "lock-secretish" in internals


def test_a_store_sync_job_links_to_what_it_left(console, store):
    job = failed_job(StoreSyncJob, store)
    page = console.get(url(StoreSyncJob, "change", job.pk)).content.decode()
    assert f"/admin/storesync/syncconflict/?job__exact={job.pk}&amp;status__exact=all" in page
    assert f"/admin/storesync/deadletter/?job__exact={job.pk}&amp;status__exact=all" in page
    assert "/admin/catalog/product/41/change/" in page  # the error's record
    conflicts = console.get(url(SyncConflict, "changelist"), {"job__exact": job.pk, "status__exact": "all"})
    assert conflicts.status_code == 200 and conflicts.context["cl"].result_count == 0


@pytest.mark.parametrize("model", JOB_MODELS, ids=lambda m: m.__name__)
def test_a_job_list_reads_in_a_fixed_number_of_queries(console, store, model):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def jobs(n: int):
        for i in range(n):
            failed_job(model, store, lock_key=f"lock-{model.__name__}-{i}-{n}")

    jobs(2)
    with CaptureQueriesContext(connection) as few:
        assert console.get(url(model, "changelist")).status_code == 200
    jobs(20)
    with CaptureQueriesContext(connection) as many:
        assert console.get(url(model, "changelist")).context["cl"].result_count == 22
    assert len(many) == len(few), [q["sql"][:100] for q in many.captured_queries]
