"""The console's job actions when the broker is down: an error message on the page and a
failed job (``BROKER_UNAVAILABLE``), never a 500 page, and the store free for the next try."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from catalog.models import ImportRun
from config.jobs import JobStatus
from photosync.models import ImageSyncRun
from storesync.models import StoreSyncJob
from tests.plugins.faults import publishing_to
from tests.plugins.sshd import free_port
from tests.storesync.conftest import configure

pytestmark = pytest.mark.django_db(transaction=True)  # the message is sent when the job row commits


@pytest.fixture
def broker_down():
    """This process publishes to a loopback port nothing listens on."""
    with publishing_to(f"redis://127.0.0.1:{free_port()}/0", "nowhere"):
        yield


@pytest.fixture
def console(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def shop_store(make_store, make_shop_simulator):
    sim = make_shop_simulator(products=2, customers=0, orders=0)
    store = make_store("down", platform="prestashop", platform_url=sim.url, platform_api_key=sim.api_key)
    configure(store, products={})
    return store


@pytest.mark.parametrize(
    ("changelist", "action", "model"),
    [
        ("/admin/catalog/store/", "import_products", ImportRun),
        ("/admin/catalog/store/", "sync_images", ImageSyncRun),
        ("/admin/storesync/syncconfig/", "sync_now", StoreSyncJob),
    ],
)
def test_a_job_action_with_the_broker_down_says_so_and_fails_its_job(
    console, shop_store, broker_down, changelist, action, model
):
    selected = shop_store.pk if "catalog" in changelist else shop_store.sync_config.pk
    response = console.post(changelist, {"action": action, "_selected_action": [selected]}, follow=True)

    assert response.status_code == 200
    texts = [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]
    assert any(level in ("error", "warning") and "job queue is unavailable" in text for level, text in texts), texts
    job = model.objects.get(store=shop_store)
    assert (job.status, job.error_code) == (JobStatus.FAILED, "BROKER_UNAVAILABLE")
