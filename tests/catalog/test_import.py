"""Importing a store's products from its shop, over HTTP against the simulator."""

import httpx
import pytest
from django.core.management import CommandError, call_command

from catalog.models import ImportRun, Product, Store
from catalog.services import import_products_now, start_product_import
from config.jobs import JobStatus, wait_for_job
from tests.plugins.simulator import sim_stats


@pytest.fixture
def shop_store(db, shop_simulator):
    return Store.objects.create(
        code="shop",
        name="Shop",
        platform="prestashop",
        platform_url=shop_simulator.url,
        platform_api_key=shop_simulator.api_key,
    )


def test_import_upserts_every_product_by_origin_id(shop_store, shop_simulator):
    job = import_products_now(shop_store)
    assert job.status == JobStatus.SUCCEEDED, job.message
    total = Product.objects.filter(store=shop_store).count()
    assert total == job.items_processed == job.counters["created"] > 0

    product = Product.objects.get(store=shop_store, id_origin=3)
    remote = httpx.get(f"{shop_simulator.url}/_sim/products/3").json()
    assert product.sku == remote["reference"]

    again = import_products_now(shop_store)
    assert again.counters == {"created": 0, "updated": total}
    assert Product.objects.filter(store=shop_store).count() == total


def test_a_wrong_key_fails_the_job_and_writes_nothing(shop_store):
    Store.objects.filter(pk=shop_store.pk).update(platform_api_key="W" * 32)
    shop_store.refresh_from_db()
    job = import_products_now(shop_store)
    assert job.status == JobStatus.FAILED
    assert "W" * 32 not in job.message
    assert not Product.objects.filter(store=shop_store).exists()


def test_a_store_without_platform_fails_clearly(make_store):
    job = import_products_now(make_store("bare"))
    assert job.status == JobStatus.FAILED and "platform" in job.message.lower()


def test_the_command_imports_and_reports(shop_store, capsys):
    call_command("import_products", "--store", "shop")
    assert "products" in capsys.readouterr().out
    assert Product.objects.filter(store=shop_store).exists()
    with pytest.raises(CommandError):
        call_command("import_products", "--store", "nope")


def test_the_admin_action_queues_an_import(client, shop_store, superuser, django_capture_on_commit_callbacks):
    client.force_login(superuser)
    with django_capture_on_commit_callbacks(execute=True) as sent:
        response = client.post(
            "/admin/catalog/store/", {"action": "import_products", "_selected_action": [shop_store.pk]}, follow=True
        )
    assert sent  # the import is queued on commit (other on-commit work, such as events, may follow)
    assert response.status_code == 200
    job = ImportRun.objects.get(store=shop_store)
    assert job.status == JobStatus.SUCCEEDED and job.trigger == "admin"
    assert Product.objects.filter(store=shop_store).count() == job.items_processed


def test_the_store_admin_never_shows_the_key(client, shop_store, superuser):
    client.force_login(superuser)
    page = client.get(f"/admin/catalog/store/{shop_store.pk}/change/").content.decode()
    assert shop_store.platform_api_key not in page


@pytest.mark.worker
def test_an_import_runs_on_a_real_worker_and_refuses_a_second_start(hub_worker, shop_store, shop_simulator):
    from config.jobs import JobAlreadyRunning

    httpx.post(f"{shop_simulator.url}/_sim/config", json={"latency_ms": 30})
    job = start_product_import(shop_store)
    with pytest.raises(JobAlreadyRunning):
        start_product_import(shop_store)
    job = wait_for_job(job, timeout=60)
    assert job.status == JobStatus.SUCCEEDED, job.message
    assert job.attempts == 1 and job.celery_task_id
    assert Product.objects.filter(store=shop_store).count() == job.items_processed > 0
    assert sim_stats(shop_simulator)["total"] > 0


def test_a_product_the_catalogue_refuses_is_reported_not_imported(shop_store, shop_simulator):
    """A negative price or stock in the shop is refused by the catalogue's field rules (the ones the
    API, the admin and the store sync apply): the import skips that product and names it."""
    from tests.plugins.simulator import sim_post

    sim_post(shop_simulator, "mutate", {"products": [3], "fields": {"price": "-4.5"}})
    sim_post(shop_simulator, "mutate", {"products": [4], "fields": {"quantity": -2}})

    job = import_products_now(shop_store)

    assert job.status == JobStatus.PARTIAL, job.message
    assert job.items_failed == 2
    refused = {(error["shop_id"], error["field"]) for error in job.errors}
    assert refused == {(3, "price"), (4, "inventory")}, job.errors
    assert not Product.objects.filter(store=shop_store, id_origin__in=[3, 4]).exists()
    assert Product.objects.filter(store=shop_store).count() == job.items_succeeded > 0
    assert Product.objects.filter(store=shop_store, price__lt=0).count() == 0
