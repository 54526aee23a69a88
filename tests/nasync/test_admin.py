"""The admin console: documents with their sync state, actions, NAS runs, configuration page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from nasync.models import Document, NasSyncRun

from .conftest import pdf_bytes, uploaded


@pytest.fixture
def admin_client_(client, superuser):
    client.force_login(superuser)
    return client


def test_the_changelist_shows_states_filters_and_the_nas_page_link(admin_client_, make_document):
    make_document(sync_error="boom", sync_attempts=5, held_for_operator=True)
    make_document()
    page = admin_client_.get("/admin/nasync/document/").content.decode()
    assert "Held for an operator" in page and "Pending" in page
    assert reverse("admin:nasync_nas_config") in page
    filtered = admin_client_.get("/admin/nasync/document/?state=held").content.decode()
    assert "1 document" in filtered or "1 result" in filtered


def test_the_nas_page_shows_the_configuration_but_never_the_key(admin_client_, nas):
    page = admin_client_.get(reverse("admin:nasync_nas_config")).content.decode()
    assert "127.0.0.1" in page and str(nas.dest) in page and "set (file readable)" in page
    assert str(nas.server.client_key) not in page and "PRIVATE KEY" not in page
    checked = admin_client_.post(reverse("admin:nasync_nas_config")).content.decode()
    assert 'class="success" id="nas-check-result">Connection successful' in checked


def test_the_nas_page_says_what_is_missing(admin_client_):
    page = admin_client_.get(reverse("admin:nasync_nas_config")).content.decode()
    assert "NAS sync is not configured" in page
    checked = admin_client_.post(reverse("admin:nasync_nas_config")).content.decode()
    assert 'class="error" id="nas-check-result">NAS sync is not configured' in checked


def test_a_viewer_sees_the_page_without_the_check(client, make_user):
    from catalog.roles import Role

    viewer = make_user("staff-viewer", role=Role.VIEWER)
    viewer.is_staff = True
    viewer.save(update_fields=["is_staff"])
    client.force_login(viewer)
    page = client.get(reverse("admin:nasync_nas_config"))
    assert page.status_code == 200 and "Check the connection" not in page.content.decode()
    assert client.post(reverse("admin:nasync_nas_config")).status_code == 403


def test_sync_selected_to_nas(admin_client_, nas, make_document, django_capture_on_commit_callbacks):
    chosen, other = make_document(held_for_operator=True, sync_attempts=5), make_document()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            "/admin/nasync/document/", {"action": "sync_to_nas", "_selected_action": [chosen.pk]}, follow=True
        )
    assert "NAS run queued for 1 document" in response.content.decode()
    run = NasSyncRun.objects.get()
    assert run.trigger == "admin" and run.items_succeeded == 1
    chosen.refresh_from_db()
    other.refresh_from_db()
    assert chosen.synced_to_nas and not chosen.held_for_operator and not other.synced_to_nas
    assert admin_client_.get("/admin/nasync/nassyncrun/").status_code == 200
    assert admin_client_.get(f"/admin/nasync/nassyncrun/{run.pk}/change/").status_code == 200


def test_sync_selected_without_configuration_says_so(admin_client_, make_document):
    document = make_document()
    response = admin_client_.post(
        "/admin/nasync/document/", {"action": "sync_to_nas", "_selected_action": [document.pk]}, follow=True
    )
    assert "NAS sync is not configured" in response.content.decode()
    assert not NasSyncRun.objects.exists()


def test_requeue(admin_client_, make_document):
    held = make_document(held_for_operator=True, sync_attempts=5, sync_error="boom")
    response = admin_client_.post(
        "/admin/nasync/document/", {"action": "requeue", "_selected_action": [held.pk]}, follow=True
    )
    assert "1 document(s) requeued" in response.content.decode()
    held.refresh_from_db()
    assert (held.held_for_operator, held.sync_attempts, held.sync_error, held.state) == (False, 0, "", "pending")


def test_add_and_replace_a_document_in_the_admin(admin_client_):
    response = admin_client_.post("/admin/nasync/document/add/", {"upload": uploaded("admin.pdf", pdf_bytes(700))})
    assert response.status_code == 302
    document = Document.objects.get()
    assert document.name == "admin.pdf" and document.content_type == "application/pdf"
    refused = admin_client_.post("/admin/nasync/document/add/", {"upload": uploaded("x.pdf", b"not a pdf")})
    assert refused.status_code == 200 and "Only PDF, JPEG, PNG and TIFF" in refused.content.decode()
    Document.objects.filter(pk=document.pk).update(synced_to_nas=True)
    admin_client_.post(
        f"/admin/nasync/document/{document.pk}/change/", {"upload": uploaded("v2.pdf", pdf_bytes(900, "v2"))}
    )
    document.refresh_from_db()
    assert document.original_name == "v2.pdf" and not document.synced_to_nas


def test_the_beat_schedule_runs_every_15_minutes_and_is_editable(db):
    from django_celery_beat.models import PeriodicTask

    from config.celery import app

    task = PeriodicTask.objects.get(name="NAS sync of pending documents")
    assert task.task == "nasync.tasks.scheduled_nas_sync" and task.enabled
    assert (task.interval.every, task.interval.period) == (15, "minutes")
    assert task.task in app.tasks
