"""/api/v1/documents/: multipart upload, type and size checks, filters, replace, delete."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone

from nasync.models import Document

from .conftest import JPEG, PNG, TIFF, pdf_bytes, stored_path, uploaded


def upload(client, name: str, content: bytes, path: str = "/api/v1/documents/", method: str = "post", **extra):
    return getattr(client, method)(path, {"file": uploaded(name, content)}, format="multipart", **extra)


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("invoice.pdf", pdf_bytes(3000), "application/pdf"),
        ("scan.jpg", JPEG, "image/jpeg"),
        ("scan.png", PNG, "image/png"),
        ("scan.tiff", TIFF, "image/tiff"),
    ],
)
def test_upload_accepts_the_four_types_by_their_bytes(db, api, operator, name, content, content_type):
    response = upload(api(operator), name, content)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["content_type"] == content_type and body["size"] == len(content)
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["name"] == name and body["original_name"] == name and body["uploaded_by"] == "operator"
    assert body["state"] == "pending" and body["synced_to_nas"] is False and body["nas_path"] == ""
    document = Document.objects.get(pk=body["id"])
    today = timezone.localdate().strftime("%Y/%m/%d")
    assert document.file.name == f"documents/{today}/{name}"
    assert Path(stored_path(document)).read_bytes() == content


def test_the_clients_content_type_is_ignored(db, api, operator):
    response = api(operator).post(
        "/api/v1/documents", {"file": uploaded("x.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")}, format="multipart"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "VALIDATION_ERROR"
    assert body["message"] == "Unsupported file type: only PDF, JPEG, PNG and TIFF documents are accepted."
    assert "file" in body["detail"]
    assert not Document.objects.exists()


def test_empty_missing_and_non_multipart_uploads_are_refused(db, api, operator):
    client = api(operator)
    assert upload(client, "empty.pdf", b"").status_code == 400
    response = client.post("/api/v1/documents/", {}, format="multipart")
    assert response.status_code == 400 and response.json()["detail"] == {
        "file": ['No file was sent (multipart field "file").']
    }
    response = client.post("/api/v1/documents/", {"file": "x"}, format="json")
    assert response.status_code == 415 and response.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"
    french = upload(client, "x.gif", b"GIF89a....", HTTP_ACCEPT_LANGUAGE="fr").json()
    assert french["message"].startswith("Type de fichier non pris en charge")


def test_the_size_limit_answers_413_in_the_envelope(db, api, operator, settings):
    settings.NAS_MAX_UPLOAD_BYTES = 100_000
    client = api(operator)
    assert upload(client, "ok.pdf", pdf_bytes(100_000)).status_code == 201
    # Over the limit by a little: the streamed bytes are counted.
    response = upload(client, "big.pdf", pdf_bytes(100_001))
    assert response.status_code == 413
    assert response.json() == {
        "status": "error",
        "code": "PAYLOAD_TOO_LARGE",
        "message": "The file is larger than the limit of 100000 bytes.",
    }
    # Far over: refused from the declared length, before the body is read.
    response = upload(client, "huge.pdf", pdf_bytes(400_000), HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 413
    assert response.json()["message"] == "Le fichier dépasse la limite de 100000 octets."
    assert Document.objects.count() == 1


def test_the_default_limit_is_25_mb(settings):
    assert settings.NAS_MAX_UPLOAD_BYTES == 25 * 1024 * 1024


def test_hostile_names_are_stored_safe(db, api, operator):
    for sent, safe in [
        ("-rf.pdf", "rf.pdf"),
        ("a 'b' \"c\".pdf", "a 'b' _c_.pdf"),
        ("facture été.pdf", "facture été.pdf"),
        ("evil.exe", "evil.exe.pdf"),
    ]:
        body = upload(api(operator), sent, pdf_bytes(500, sent)).json()
        assert body["name"] == safe
        assert Document.objects.get(pk=body["id"]).file.name.endswith("/" + safe)


def test_the_same_name_twice_gets_two_files(db, api, operator):
    first = upload(api(operator), "same.pdf", pdf_bytes(500, "a")).json()
    second = upload(api(operator), "same.pdf", pdf_bytes(500, "b")).json()
    a, b = Document.objects.get(pk=first["id"]), Document.objects.get(pk=second["id"])
    assert a.file.name != b.file.name and Path(stored_path(a)).read_bytes() != Path(stored_path(b)).read_bytes()


def test_list_filters_and_pagination(db, api, viewer, make_document):
    now = timezone.now()
    synced = make_document(synced_to_nas=True, synced_at=now)
    pending = make_document()
    failed = make_document(sync_error="boom", sync_attempts=1)
    held = make_document(sync_error="boom", sync_attempts=5, held_for_operator=True)
    old = make_document()
    Document.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=40))
    client = api(viewer)

    def ids(query: str) -> set[int]:
        response = client.get(f"/api/v1/documents/?{query}")
        assert response.status_code == 200, response.json()
        return {row["id"] for row in response.json()["results"]}

    assert ids("synced=true") == {synced.pk}
    assert ids("synced=false") == {pending.pk, failed.pk, held.pk, old.pk}
    assert ids("state=pending") == {pending.pk, old.pk}
    assert ids("state=failed") == {failed.pk, held.pk}
    assert ids("state=held") == {held.pk}
    since = (now - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert ids(f"created_after={since}") == {synced.pk, pending.pk, failed.pk, held.pk}
    assert ids(f"created_before={since}") == {old.pk}
    page = client.get("/api/v1/documents?limit=2").json()
    assert page["count"] == 5 and len(page["results"]) == 2 and page["next"]
    assert [row["id"] for row in page["results"]] == [held.pk, failed.pk]  # newest first
    assert client.get("/api/v1/documents/?state=nope").status_code == 400
    assert client.get("/api/v1/documents/?created_after=yesterday").status_code == 400
    # Offsets PostgreSQL refuses, and dates that overflow once in UTC: 400 or a plain answer, never a 500.
    assert ids("created_after=1769-11-28T00:57:09%2B19:17") == {synced.pk, pending.pk, failed.pk, held.pk, old.pk}
    assert client.get("/api/v1/documents/?created_before=0001-01-01T00:00:00%2B05:00").status_code == 400
    assert client.get("/api/v1/documents/?created_after=9999-12-31T23:59:59-05:00").status_code == 400


def test_detail_replace_and_delete(db, api, make_user, make_document):
    from catalog.roles import Role

    admin = make_user("boss", role=Role.ADMIN)
    document = make_document(synced_to_nas=True, synced_at=timezone.now(), nas_path="/nas/x.pdf", sync_attempts=2)
    old_name = document.file.name
    client = api(admin)
    assert client.get(f"/api/v1/documents/{document.pk}").json()["state"] == "synced"

    new_content = pdf_bytes(4000, "new")
    for method in ("put", "patch"):
        response = upload(client, "v2.pdf", new_content, path=f"/api/v1/documents/{document.pk}/", method=method)
        assert response.status_code == 200, response.json()
        body = response.json()
        assert body["synced_to_nas"] is False and body["synced_at"] is None and body["nas_path"] == ""
        assert body["sha256"] == hashlib.sha256(new_content).hexdigest() and body["original_name"] == "v2.pdf"
    document.refresh_from_db()
    assert document.file.name != old_name

    response = client.delete(f"/api/v1/documents/{document.pk}/")
    assert response.status_code == 204
    assert not Document.objects.filter(pk=document.pk).exists()
    assert client.get(f"/api/v1/documents/{document.pk}").status_code == 404
    assert client.get("/api/v1/documents/99999999999999999999999").status_code == 404


def test_replaced_and_deleted_files_leave_the_storage(transactional_db, api, make_user, make_document):
    from catalog.roles import Role

    client = api(make_user("boss", role=Role.ADMIN))
    document = make_document()
    first = document.file.name
    upload(client, "v2.pdf", pdf_bytes(800, "v2"), path=f"/api/v1/documents/{document.pk}", method="put")
    document.refresh_from_db()
    assert not default_storage.exists(first) and default_storage.exists(document.file.name)
    client.delete(f"/api/v1/documents/{document.pk}")
    assert not default_storage.exists(document.file.name)


def test_model_permissions(db, api, viewer, operator, make_document):
    document = make_document()
    assert upload(api(viewer), "x.pdf", pdf_bytes(100)).status_code == 403
    assert api(viewer).get("/api/v1/documents/").status_code == 200
    assert upload(api(operator), "x.pdf", pdf_bytes(100)).status_code == 201
    assert api(operator).delete(f"/api/v1/documents/{document.pk}").status_code == 403  # OPERATOR: C/R/U
    assert api(None).get("/api/v1/documents/").status_code == 401
