"""Undo: ``POST /api/v1/sync/jobs/{job_id}/undo`` queues a job that writes back each old value a
job wrote where the record still holds the job's value, and reports the ones edited since."""

from __future__ import annotations

from decimal import Decimal

import pytest

from catalog.models import Product
from catalog.roles import Role
from config.jobs import JobStatus, start_job
from storesync import services
from storesync.models import StoreSyncJob, SyncChange, SyncRecordState
from tests.plugins.simulator import sim_get, sim_post
from tests.storesync.conftest import configure, edit_platform, platform_product
from tests.storesync.test_api import error

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_clock_skew(settings):
    settings.STORESYNC_CLOCK_SKEW = 0


def shop_price(sim, shop_id: int) -> Decimal:
    return Decimal(sim_get(sim, f"products/{shop_id}")["price"])


def mutate(sim, shop_id: int, **fields) -> None:
    sim_post(sim, "mutate", {"products": [shop_id], "fields": fields})


def a_job_writing_both_sides(store, sim):
    """After a first sync: products 2 and 3 edited on the platform (the job writes the shop),
    4 and 5 in the shop (the job writes the platform)."""
    configure(store, products={}, customers=None)
    assert services.run_sync_now(store, sync_type="full").status == "succeeded"
    before = {
        "shop": {i: shop_price(sim, i) for i in (2, 3)},
        "platform": {i: platform_product(store, i).price for i in (4, 5)},
    }
    edit_platform(platform_product(store, 2), price="72.000000")
    edit_platform(platform_product(store, 3), price="73.000000")
    mutate(sim, 4, price="44.000000")
    mutate(sim, 5, price="45.000000")
    job = services.run_sync_now(store)
    assert job.status == "succeeded", job.errors
    assert SyncChange.objects.filter(job=job).count() == 4
    return job, before


def test_an_undo_restores_every_value_a_job_wrote_on_both_sides(shop_store, sim):
    job, before = a_job_writing_both_sides(shop_store, sim)

    undo = services.run_undo_now(job)

    assert (undo.status, undo.mode, undo.source_job_id) == ("succeeded", "undo", job.pk)
    assert shop_price(sim, 2) == before["shop"][2] and shop_price(sim, 3) == before["shop"][3]
    assert platform_product(shop_store, 4).price == before["platform"][4]
    assert platform_product(shop_store, 5).price == before["platform"][5]
    assert undo.counters["restored"] == 4 and undo.counters.get("moved_since", 0) == 0
    assert "4 restored" in undo.message
    # The bases are the ones before the job: the record's state is the pre-job one.
    state = SyncRecordState.objects.get(store=shop_store, entity_type="products", shop_id=4)
    assert Decimal(state.base["price"]) == before["platform"][4]
    # The undo's own history: the job's values replaced by the old ones.
    rows = {(r.shop_id, r.side): r for r in SyncChange.objects.filter(job=undo)}
    assert set(rows) == {(2, "store"), (3, "store"), (4, "platform"), (5, "platform")}
    assert rows[(2, "store")].old_value == "72.000000"
    assert Decimal(rows[(2, "store")].new_value) == before["shop"][2]


def test_an_undo_skips_and_reports_values_edited_since(shop_store, sim):
    job, before = a_job_writing_both_sides(shop_store, sim)
    mutate(sim, 3, price="99.000000")  # the shop moved after the job wrote it
    edit_platform(platform_product(shop_store, 5), price="55.000000")  # and the platform

    undo = services.run_undo_now(job)

    assert undo.status == "partial"
    assert undo.counters["restored"] == 2 and undo.counters["moved_since"] == 2
    assert shop_price(sim, 2) == before["shop"][2] and shop_price(sim, 3) == Decimal("99")
    assert platform_product(shop_store, 4).price == before["platform"][4]
    assert platform_product(shop_store, 5).price == Decimal("55")
    moved = sorted(undo.errors, key=lambda e: e["shop_id"])
    assert [(e["shop_id"], e["field"], e["code"]) for e in moved] == [
        (3, "price", "MOVED_SINCE"),
        (5, "price", "MOVED_SINCE"),
    ]
    assert (moved[0]["expected"], Decimal(moved[0]["found"])) == ("73.000000", Decimal("99"))
    assert (moved[1]["expected"], moved[1]["found"]) == ("45.000000", "55.000000")
    assert SyncChange.objects.filter(job=undo).count() == 2


def test_a_shop_write_the_shop_refuses_is_reported_and_a_second_undo_takes_it_back(shop_store, sim):
    job, before = a_job_writing_both_sides(shop_store, sim)
    sim_post(sim, "config", {"fail_next": {"count": 1, "status": 400, "code": 85, "method": "PATCH"}})

    undo = services.run_undo_now(job)

    assert undo.status == "partial" and undo.counters["restored"] == 3
    [refused] = undo.errors
    assert (refused["operation"], refused["field"], refused["code"]) == ("undo_store", "price", "INVALID_DATA_FORMAT")
    kept = refused["shop_id"]
    assert shop_price(sim, kept) == {2: Decimal("72"), 3: Decimal("73")}[kept]
    assert not SyncChange.objects.filter(job=undo, shop_id=kept).exists()
    state = SyncRecordState.objects.get(store=shop_store, entity_type="products", shop_id=kept)
    assert Decimal(state.base["price"]) == shop_price(sim, kept)  # the base moves only with the value

    again = services.run_undo_now(job)

    assert again.status == "succeeded" and again.counters["restored"] == 4
    assert shop_price(sim, kept) == before["shop"][kept]
    assert SyncChange.objects.filter(job=again).count() == 1  # the values already back record nothing


def test_an_undo_of_an_undo_restores_the_jobs_values(shop_store, sim):
    job, _ = a_job_writing_both_sides(shop_store, sim)
    undo = services.run_undo_now(job)

    redo = services.run_undo_now(undo)

    assert redo.status == "succeeded" and redo.counters["restored"] == 4
    assert shop_price(sim, 2) == Decimal("72") and shop_price(sim, 3) == Decimal("73")
    assert platform_product(shop_store, 4).price == Decimal("44")
    assert platform_product(shop_store, 5).price == Decimal("45")


def test_created_records_are_kept(shop_store, sim):
    configure(shop_store, products={}, customers=None)
    first = services.run_sync_now(shop_store, sync_type="full")
    new = Product.objects.create(store=shop_store, name="Made on the platform", sku="HUB-1", price="9.90")
    made = services.run_sync_now(shop_store)

    for job, created in ((first, 8), (made, 1)):
        undo = services.run_undo_now(job)
        assert undo.status == "succeeded" and undo.counters["kept"] == created and undo.counters.get("restored", 0) == 0
        assert "created kept" in undo.message
    assert Product.objects.filter(store=shop_store).count() == 9
    new.refresh_from_db()
    assert sim_get(sim, f"products/{new.id_origin}")["reference"] == "HUB-1"


def test_the_next_sync_after_an_undo_merges_as_before_the_job(shop_store, sim):
    """The bases are restored: the edits the job synced are seen again (pause the store or change
    the rule first to keep the undo)."""
    job, _ = a_job_writing_both_sides(shop_store, sim)
    services.run_undo_now(job)

    again = services.run_sync_now(shop_store)

    assert again.status == "succeeded", again.errors
    assert shop_price(sim, 2) == Decimal("72") and platform_product(shop_store, 4).price == Decimal("44")


def test_undo_refuses_unfinished_jobs_previews_and_paused_stores(shop_store, sim):
    job, _ = a_job_writing_both_sides(shop_store, sim)
    queued = services.trigger_sync(shop_store, send=False)
    with pytest.raises(services.JobNotFinished):
        services.undo_job(queued)
    StoreSyncJob.objects.filter(pk=queued.pk).update(status=JobStatus.CANCELLED)
    preview = start_job(StoreSyncJob, kind="store_sync", store=shop_store)
    StoreSyncJob.objects.filter(pk=preview.pk).update(mode="preview", status=JobStatus.SUCCEEDED)
    preview.refresh_from_db()
    with pytest.raises(services.JobNotUndoable):
        services.undo_job(preview)
    services.pause_sync(shop_store)
    with pytest.raises(services.SyncPaused):
        services.undo_job(job)
    assert not StoreSyncJob.objects.filter(mode="undo").exists()


# The endpoint


def test_the_undo_endpoint_queues_an_undo_job(api, make_user, shop_store, sim):
    operator = make_user("operator", role=Role.OPERATOR, stores=[shop_store])
    job, _ = a_job_writing_both_sides(shop_store, sim)
    client = api(operator)

    response = client.post(f"/api/v1/sync/jobs/{job.pk}/undo")

    assert response.status_code == 202, response.content
    data = response.json()["data"]
    undo = StoreSyncJob.objects.get(pk=data["sync_job_id"])
    assert (undo.mode, undo.source_job_id, undo.requested_by_id, undo.entities) == (
        "undo",
        job.pk,
        operator.pk,
        ["products"],
    )
    assert data["entities_to_sync"] == ["products"] and data["status"] == "queued"
    assert (data["mode"], data["source_job_id"]) == ("undo", str(job.pk))


def test_the_undo_endpoint_refuses_clearly(api, make_user, shop_store, sim):
    operator = make_user("operator", role=Role.OPERATOR, stores=[shop_store])
    job, _ = a_job_writing_both_sides(shop_store, sim)
    client = api(operator)
    running = start_job(StoreSyncJob, kind="store_sync", store=shop_store)
    error(client.post(f"/api/v1/sync/jobs/{running.pk}/undo"), 409, "JOB_NOT_FINISHED")
    StoreSyncJob.objects.filter(pk=running.pk).update(mode="preview", status=JobStatus.SUCCEEDED)
    error(client.post(f"/api/v1/sync/jobs/{running.pk}/undo"), 409, "JOB_NOT_UNDOABLE")
    viewer = make_user("viewer", role=Role.VIEWER, stores=[shop_store])
    assert api(viewer).post(f"/api/v1/sync/jobs/{job.pk}/undo").status_code == 403
    assert api(viewer).get(f"/api/v1/sync/jobs/{job.pk}/changes").status_code == 200
    services.pause_sync(shop_store)
    error(client.post(f"/api/v1/sync/jobs/{job.pk}/undo"), 409, "SYNC_PAUSED")


# The console


def test_the_console_lists_a_jobs_changes_and_a_records_history(console, shop_store, sim):
    job, _ = a_job_writing_both_sides(shop_store, sim)
    page = console.get(f"/admin/storesync/storesyncjob/{job.pk}/change/").content.decode()
    assert "Changes it wrote" in page and f"/admin/storesync/syncchange/?job__exact={job.pk}" in page
    assert "Undo this job" in page

    listed = console.get(f"/admin/storesync/syncchange/?job__exact={job.pk}")
    assert listed.status_code == 200
    html = listed.content.decode()
    assert "73.000000" in html and "History" in html
    record = platform_product(shop_store, 2).pk
    history = console.get(
        f"/admin/storesync/syncchange/?store__id__exact={shop_store.pk}&entity_type__exact=products&record_pk__exact={record}"
    )
    assert history.status_code == 200 and "72.000000" in history.content.decode()
    assert "73.000000" not in history.content.decode()
    for query in ("?job__exact=not-a-job", "?q=abc", f"?q={record}", "?side__exact=store&action__exact=update"):
        assert console.get(f"/admin/storesync/syncchange/{query}").status_code == 200, query
    row = SyncChange.objects.filter(job=job).first()
    detail = console.get(f"/admin/storesync/syncchange/{row.pk}/change/")
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    assert console.post(f"/admin/storesync/syncchange/{row.pk}/change/", {}).status_code == 403
    assert console.get("/admin/storesync/syncchange/add/").status_code == 403
    assert console.post(f"/admin/storesync/syncchange/{row.pk}/delete/", {"post": "yes"}).status_code == 403


def test_the_undo_action_runs_on_post_only(console, shop_store, sim):
    job, _ = a_job_writing_both_sides(shop_store, sim)
    url = f"/admin/storesync/storesyncjob/{job.pk}/undo_job/"
    assert console.get(url).status_code == 200  # the confirmation dialog, nothing done
    assert not StoreSyncJob.objects.filter(mode="undo").exists()

    response = console.post(url, {"_form_submitted": "True"})

    undo = StoreSyncJob.objects.get(mode="undo")
    assert undo.source_job_id == job.pk and undo.trigger == "admin"
    assert response["HX-Redirect"] == f"/admin/storesync/storesyncjob/{undo.pk}/change/"
    again = console.post(f"/admin/storesync/storesyncjob/{undo.pk}/undo_job/", {"_form_submitted": "True"})
    assert again.status_code == 403  # still queued: not offered
    assert "undo_job" not in console.get(f"/admin/storesync/storesyncjob/{undo.pk}/change/").content.decode()
    assert StoreSyncJob.objects.filter(mode="undo").count() == 1


def test_conflicts_link_to_their_records_history(console, shop_store, sim):
    configure(shop_store, products={"conflict_resolution": "manual_resolution"}, customers=None)
    services.run_sync_now(shop_store, sync_type="full")
    mutate(sim, 2, price="11.000000")
    edit_platform(platform_product(shop_store, 2), price="22.000000")
    services.run_sync_now(shop_store)
    html = console.get("/admin/storesync/syncconflict/").content.decode()
    record = platform_product(shop_store, 2).pk
    assert f"entity_type__exact=products&amp;record_pk__exact={record}" in html
