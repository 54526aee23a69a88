"""The image sync as operators run it: the command, the admin, the nightly schedule, the demo."""

import html
import importlib
import re

import pytest
from django.apps import apps
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from catalog.models import Store
from config.jobs import JobStatus, start_job
from operations.retention import prune_preview
from photosync.models import ImageSyncRun, ProductPhoto
from photosync.tasks import nightly_image_sync
from tests.plugins.simulator import sim_post

schedule_migration = importlib.import_module("photosync.migrations.0002_nightly_image_sync")


def test_the_command_syncs_and_prints_a_one_line_summary(shop_store, capsys):
    call_command("sync_images", "--store", "shop")
    out = capsys.readouterr().out.strip()
    assert out.startswith("shop: 25 products (") and "0 failed), succeeded in " in out
    assert len(out.splitlines()) == 1 and ProductPhoto.objects.count() == 25
    assert ImageSyncRun.objects.get().trigger == "command"
    call_command("sync_images", "--store", str(shop_store.uuid))
    assert "(0 downloaded, 25 unchanged, 0 fallback, 0 failed)" in capsys.readouterr().out


def test_the_command_exits_non_zero_when_products_fail_or_the_shop_refuses(shop_store, shop_simulator):
    pid = next(pid for pid, images in sorted(shop_simulator.shop.images.items()) if images)
    sim_post(shop_simulator, f"products/{pid}/image", {"mode": "corrupt"})
    with pytest.raises(CommandError, match=rf"1 failed\), partial .*product {pid}:"):
        call_command("sync_images", "--store", "shop")
    Store.objects.filter(pk=shop_store.pk).update(platform_api_key="W" * 32)
    with pytest.raises(CommandError, match="refused the API key"):
        call_command("sync_images", "--store", "shop")
    with pytest.raises(CommandError, match="No store"):
        call_command("sync_images", "--store", "nope")
    start_job(ImageSyncRun, kind=ImageSyncRun.KIND, store=shop_store)
    with pytest.raises(CommandError, match="already running"):
        call_command("sync_images", "--store", "shop")


def test_the_admin_action_queues_a_sync(client, superuser, shop_store, django_capture_on_commit_callbacks):
    client.force_login(superuser)
    with django_capture_on_commit_callbacks(execute=True) as sent:
        response = client.post(
            "/admin/catalog/store/", {"action": "sync_images", "_selected_action": [shop_store.pk]}, follow=True
        )
    assert response.status_code == 200 and sent  # the task went out when the action committed
    assert "image sync queued" in response.content.decode()
    run = ImageSyncRun.objects.get()
    assert (run.status, run.trigger, run.requested_by) == (JobStatus.SUCCEEDED, "admin", superuser)
    assert ProductPhoto.objects.filter(store=shop_store).count() == 25

    response = client.post(
        "/admin/catalog/store/", {"action": "sync_images", "_selected_action": [shop_store.pk]}, follow=True
    )
    assert "image sync queued" in response.content.decode()  # the first one is finished: a new one starts


def test_the_admin_shows_photos_with_thumbnails_and_runs(client, superuser, shop_store):
    from photosync.imagesync.runner import sync_images_now

    run = sync_images_now(shop_store)
    photo = ProductPhoto.objects.filter(source="platform").first()
    client.force_login(superuser)

    listing = client.get("/admin/photosync/productphoto/").content.decode()
    thumb = re.search(rf'src="(/media/{photo.rendition_key("thumb")}\?[^"]+)"', listing)[1]
    assert client.get(html.unescape(thumb)).status_code == 200  # a signed link the browser can load
    page = client.get(f"/admin/photosync/productphoto/{photo.pk}/change/").content.decode()
    medium = re.search(rf'src="(/media/{photo.rendition_key("medium")}\?[^"]+)"', page)[1]
    assert client.get(html.unescape(medium)).status_code == 200 and photo.checksum in page
    assert default_storage.exists(photo.rendition_key("thumb"))
    runs = client.get("/admin/photosync/imagesyncrun/").content.decode()
    assert str(run.pk) in runs and "2/2" in runs  # the page's settled part and one chunk of downloads
    assert client.get(f"/admin/photosync/imagesyncrun/{run.pk}/change/").status_code == 200


def test_the_nightly_schedule_is_created_once_and_keeps_admin_edits(db):
    PeriodicTask.objects.filter(name=schedule_migration.TASK_NAME).delete()  # a flush by an earlier test
    schedule_migration.create_schedule(apps, None)
    task = PeriodicTask.objects.get(name=schedule_migration.TASK_NAME)
    assert task.task == "photosync.nightly_image_sync" and task.enabled
    assert (task.crontab.minute, task.crontab.hour) == ("0", "2")

    task.crontab = CrontabSchedule.objects.create(minute="30", hour="4")  # an operator moves it
    task.save()
    schedule_migration.create_schedule(apps, None)
    task = PeriodicTask.objects.get(name=schedule_migration.TASK_NAME)
    assert (task.crontab.minute, task.crontab.hour) == ("30", "4")
    assert PeriodicTask.objects.filter(task="photosync.nightly_image_sync").count() == 1


def test_the_nightly_task_syncs_every_active_store_on_a_platform(
    make_shop_store, make_shop_simulator, make_store, django_capture_on_commit_callbacks
):
    first, second = make_shop_store(make_shop_simulator(), code="a"), make_shop_store(make_shop_simulator(), code="b")
    asleep = make_shop_store(make_shop_simulator(), code="c")
    Store.objects.filter(pk=asleep.pk).update(is_active=False)
    make_store("bare")
    start_job(ImageSyncRun, kind=ImageSyncRun.KIND, store=second)  # already syncing: skipped

    with django_capture_on_commit_callbacks(execute=True):
        queued = nightly_image_sync()

    run = ImageSyncRun.objects.get(pk=queued[0])
    assert len(queued) == 1 and run.store == first and run.trigger == "schedule"
    assert run.status == JobStatus.SUCCEEDED and ProductPhoto.objects.filter(store=first).count() == 25


def test_finished_runs_are_pruned_with_the_other_jobs(db):
    assert "image sync runs" in prune_preview()


def test_the_demo_syncs_its_store_images(db, shop_simulator, capsys):
    call_command("demo_setup", "--shop-url", shop_simulator.url, "--api-key", shop_simulator.api_key)
    assert "product images: 22 downloaded, 3 fallback, 0 unchanged" in capsys.readouterr().out
    assert ProductPhoto.objects.filter(store__code="demo").count() == 25
