"""POST /api/v1/sync/sync-images and the runs API: shapes, every status, roles."""

import socket
import uuid

import pytest
from django.contrib.auth.models import Group, Permission

from catalog.models import Store
from catalog.roles import Role
from config.jobs import JobStatus, start_job
from photosync.imagesync.runner import sync_images_now
from photosync.models import ImageSyncRun, ProductPhoto
from tests.plugins.simulator import sim_post

URL = "/api/v1/sync/sync-images"
RUNS = "/api/v1/sync/sync-images/runs"


def error_of(response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


# Success (these run the sync in-process when the request commits, hence transactional_db)


@pytest.mark.parametrize("path", [URL, URL + "/"])
def test_a_sync_answers_the_specs_summary(transactional_db, api, admin_user, shop_store, path):
    response = api(admin_user).post(f"{path}?id_store={shop_store.pk}")

    assert response.status_code == 200, response.content
    body = response.json()
    run = ImageSyncRun.objects.get()
    assert body == {
        "id_store": shop_store.pk,
        "success": True,
        "products_processed": 25,
        "message": "Image sync completed for 25 products.",
        "downloaded": run.counters["downloaded"],
        "unchanged": 0,
        "fallback": run.counters["fallback"],
        "failed": 0,
        "errors": [],
        "run_id": str(run.pk),
    }
    assert body["downloaded"] + body["fallback"] == 25 and ProductPhoto.objects.count() == 25
    assert run.trigger == "api" and run.requested_by == admin_user


def test_the_store_may_be_named_by_uuid_and_a_superuser_may_sync(transactional_db, api, superuser, shop_store):
    response = api(superuser).post(f"{URL}?id_store={shop_store.uuid}")
    assert response.status_code == 200 and response.json()["id_store"] == shop_store.pk


def test_a_partial_sync_lists_its_errors_capped(
    transactional_db, api, admin_user, shop_store, shop_simulator, settings
):
    settings.IMAGE_SYNC_RESPONSE_ERRORS = 1
    with_images = [pid for pid, images in sorted(shop_simulator.shop.images.items()) if images][:2]
    for pid in with_images:
        sim_post(shop_simulator, f"products/{pid}/image", {"mode": "corrupt"})
    body = api(admin_user).post(f"{URL}?id_store={shop_store.pk}").json()
    assert body["success"] is True and body["failed"] == 2 and body["products_processed"] == 25
    assert len(body["errors"]) == 1 and body["errors"][0]["code"] == "IMAGE_INVALID"
    assert set(body["errors"][0]) == {"product_id", "id_origin", "code", "message"}


def test_async_answers_202_with_the_runs_url(transactional_db, api, admin_user, shop_store):
    response = api(admin_user).post(f"{URL}?id_store={shop_store.pk}&async=true")

    assert response.status_code == 202
    body = response.json()
    run = ImageSyncRun.objects.get()
    assert body["run_id"] == str(run.pk) and body["id_store"] == shop_store.pk and body["success"] is True
    assert body["url"] == f"http://testserver{RUNS}/{run.pk}" == response["Location"]
    detail = api(admin_user).get(body["url"]).json()
    assert detail["status"] == "succeeded" and detail["progress"] == 100.0  # tasks run in-process here
    assert detail["products_processed"] == detail["products_total"] == 25


# Waiting, conflicts and shop failures


def test_a_run_still_going_after_the_wait_answers_202(db, api, admin_user, shop_store, settings):
    settings.IMAGE_SYNC_WAIT_TIMEOUT = 0.2  # the task is only sent when the test's transaction commits: never
    response = api(admin_user).post(f"{URL}?id_store={shop_store.pk}")
    assert response.status_code == 202 and response.json()["status"] == "queued"


def test_a_second_sync_of_a_store_answers_409_with_the_running_run(db, api, admin_user, shop_store):
    running = start_job(ImageSyncRun, kind=ImageSyncRun.KIND, store=shop_store)
    response = api(admin_user).post(f"{URL}?id_store={shop_store.pk}")
    assert error_of(response) == (409, "SYNC_IN_PROGRESS")
    assert response.json()["detail"] == {"job_id": str(running.pk), "status": "queued"}


def test_a_rejected_key_answers_502_and_touches_nothing(transactional_db, api, admin_user, shop_store):
    sync_images_now(shop_store)
    before = list(ProductPhoto.objects.values_list("pk", "version", "updated_at").order_by("pk"))
    Store.objects.filter(pk=shop_store.pk).update(platform_api_key="W" * 32)

    response = api(admin_user).post(f"{URL}?id_store={shop_store.pk}&force=true")

    assert error_of(response) == (502, "PLATFORM_AUTH_FAILED")
    assert "W" * 32 not in response.content.decode()
    assert response.json()["detail"]["run_id"] == str(ImageSyncRun.objects.latest("created_at").pk)
    assert list(ProductPhoto.objects.values_list("pk", "version", "updated_at").order_by("pk")) == before


def test_an_unreachable_shop_answers_502_network_error(transactional_db, api, admin_user, shop_store):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    Store.objects.filter(pk=shop_store.pk).update(platform_url=f"http://127.0.0.1:{port}")
    response = api(admin_user).post(f"{URL}?id_store={shop_store.pk}")
    assert error_of(response) == (502, "NETWORK_ERROR")
    assert ImageSyncRun.objects.get().status == JobStatus.FAILED and not ProductPhoto.objects.exists()


# Bad requests


@pytest.mark.parametrize(
    ("query", "status", "code", "message"),
    [
        ("", 400, "VALIDATION_ERROR", "id_store is required"),
        ("?id_store=", 400, "VALIDATION_ERROR", "id_store is required"),
        ("?id_store=abc", 400, "VALIDATION_ERROR", "id_store must be a store id or UUID"),
        ("?id_store=-1", 400, "VALIDATION_ERROR", "id_store must be a store id or UUID"),
        ("?id_store=1.5", 400, "VALIDATION_ERROR", "id_store must be a store id or UUID"),
        ("?id_store=99999999999999999999999", 400, "VALIDATION_ERROR", "id_store must be a store id or UUID"),
        ("?id_store=424242", 404, "STORE_NOT_FOUND", "Store not found"),
        (f"?id_store={uuid.uuid4()}", 404, "STORE_NOT_FOUND", "Store not found"),
    ],
)
def test_a_bad_store_reference(db, api, admin_user, query, status, code, message):
    response = api(admin_user).post(URL + query)
    assert (response.status_code, response.json()["code"], response.json()["message"]) == (status, code, message)


def test_a_bad_flag_is_refused(db, api, admin_user, store):
    response = api(admin_user).post(f"{URL}?id_store={store.pk}&async=maybe")
    assert error_of(response) == (400, "VALIDATION_ERROR")


def test_a_store_without_a_platform_or_with_an_unsupported_one_answers_400(db, api, admin_user, make_store):
    bare = make_store("bare")
    assert error_of(api(admin_user).post(f"{URL}?id_store={bare.pk}")) == (400, "PLATFORM_NOT_CONFIGURED")
    odd = make_store("odd", platform_url="https://shop.example.com/")
    Store.objects.filter(pk=odd.pk).update(platform="magento")
    assert error_of(api(admin_user).post(f"{URL}?id_store={odd.pk}")) == (400, "PLATFORM_UNSUPPORTED")
    assert not ImageSyncRun.objects.exists()


# Authentication and permissions


def test_without_a_valid_token_401(db, api, store):
    response = api(None).post(f"{URL}?id_store={store.pk}")
    assert error_of(response) == (401, "NOT_AUTHENTICATED") and response["WWW-Authenticate"].startswith("Bearer")
    response = api(None).post(f"{URL}?id_store={store.pk}", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert error_of(response) == (401, "NOT_AUTHENTICATED")


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.EDGE, Role.VIEWER, None])
def test_other_roles_get_403_even_on_their_own_store(db, api, make_user, store, role):
    user = make_user("someone", role=role, stores=[store])
    assert error_of(api(user).post(f"{URL}?id_store={store.pk}")) == (403, "PERMISSION_DENIED")


def test_an_admin_without_the_c_permission_gets_403(db, api, admin_user, store):
    Group.objects.get(name="ADMIN").permissions.remove(Permission.objects.get(codename="add_productphoto"))
    assert error_of(api(admin_user).post(f"{URL}?id_store={store.pk}")) == (403, "PERMISSION_DENIED")


def test_the_sync_is_a_post(db, api, admin_user, store):
    assert error_of(api(admin_user).get(f"{URL}?id_store={store.pk}")) == (405, "METHOD_NOT_ALLOWED")


# Runs


def test_runs_are_listed_newest_first_with_progress_per_visible_store(db, api, make_user, make_store):
    mine, theirs = make_store("mine"), make_store("theirs")
    old = start_job(ImageSyncRun, kind=ImageSyncRun.KIND, store=mine)
    ImageSyncRun.objects.filter(pk=old.pk).update(
        status=JobStatus.SUCCEEDED, items_total=4, items_processed=4, counters={"downloaded": 3, "fallback": 1}
    )
    new = start_job(ImageSyncRun, kind=ImageSyncRun.KIND, store=mine)
    ImageSyncRun.objects.filter(pk=new.pk).update(status=JobStatus.RUNNING, items_total=10, items_processed=4)
    hidden = start_job(ImageSyncRun, kind=ImageSyncRun.KIND, store=theirs)
    operator = make_user("op", role=Role.OPERATOR, stores=[mine])
    client = api(operator)

    for path in (RUNS, RUNS + "/"):
        body = client.get(path).json()
        assert body["count"] == 2 and [r["id"] for r in body["results"]] == [str(new.pk), str(old.pk)]
    running = body["results"][0]
    assert (running["status"], running["progress"], running["products_processed"]) == ("running", 40.0, 4)
    assert "errors" not in running and running["url"].endswith(f"{RUNS}/{new.pk}")
    done = client.get(f"{RUNS}/{old.pk}").json()
    assert (done["downloaded"], done["fallback"], done["unchanged"], done["errors"]) == (3, 1, 0, [])
    assert client.get(f"{RUNS}?status=succeeded").json()["count"] == 1
    assert client.get(f"{RUNS}?id_store={mine.uuid}").json()["count"] == 2
    assert error_of(client.get(f"{RUNS}?id_store={theirs.pk}")) == (404, "STORE_NOT_FOUND")
    assert error_of(client.get(f"{RUNS}?status=bogus")) == (400, "VALIDATION_ERROR")
    assert error_of(client.get(f"{RUNS}/{hidden.pk}")) == (404, "NOT_FOUND")
    assert error_of(client.get(f"{RUNS}/not-a-uuid/")) == (404, "NOT_FOUND")
    assert error_of(api(None).get(RUNS)) == (401, "NOT_AUTHENTICATED")


def test_the_schema_documents_every_answer(db, api, admin_user):
    schema = api(admin_user).get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/sync/sync-images/"]["post"]
    assert {"200", "202", "400", "401", "403", "404", "409", "502"} <= set(operation["responses"])
    assert {p["name"] for p in operation["parameters"]} >= {"id_store", "async", "force"}
    assert "/api/v1/sync/sync-images/runs/{run_id}/" in schema["paths"]


def test_a_run_failed_on_the_shop_keeps_the_shops_code_in_error_code(transactional_db, api, admin_user, shop_store):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    Store.objects.filter(pk=shop_store.pk).update(platform_url=f"http://127.0.0.1:{port}")
    response = api(admin_user).post(f"{URL}?id_store={shop_store.pk}")
    run = ImageSyncRun.objects.get()
    assert run.status == JobStatus.FAILED and run.error_code == "NETWORK_ERROR"
    assert run.message == response.json()["message"] and not run.message.startswith("NETWORK_ERROR")
