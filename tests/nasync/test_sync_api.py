"""The five NAS endpoints under /api/v1/sync, against a real sshd."""

from __future__ import annotations

import time

import pytest

from config.jobs import JobStatus, start_job
from nasync.models import Document, NasSyncRun

from .conftest import remove_source

NOT_CONFIGURED = "NAS sync is not configured. Set NAS_HOST, NAS_USER and NAS_PATH in the .env file"
NOT_CONFIGURED_FR = "Synchronisation NAS non configurée. Définissez NAS_HOST, NAS_USER et NAS_PATH dans le fichier .env"


# --- status and config ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/sync/status", "/api/v1/sync/status/"])
def test_status_has_the_specs_fields(db, api, viewer, make_document, path):
    from django.utils import timezone

    make_document(synced_to_nas=True, synced_at=timezone.now())
    make_document(synced_to_nas=True, synced_at=timezone.now())
    make_document()
    body = api(viewer).get(path).json()
    assert set(body) == {"total_documents", "synced", "pending", "sync_percentage", "last_sync", "nas_configured"}
    assert (body["total_documents"], body["synced"], body["pending"]) == (3, 2, 1)
    assert body["sync_percentage"] == 66.7 and body["last_sync"] and body["nas_configured"] is False


def test_status_with_no_documents(db, api, viewer):
    body = api(viewer).get("/api/v1/sync/status").json()
    assert body == {
        "total_documents": 0,
        "synced": 0,
        "pending": 0,
        "sync_percentage": 100.0,
        "last_sync": None,
        "nas_configured": False,
    }


def test_config_when_not_configured(db, api, viewer):
    assert api(viewer).get("/api/v1/sync/config").json() == {
        "configured": False,
        "nas_host": False,
        "nas_user": False,
        "nas_path": False,
        "host": None,
        "path": None,
    }


def test_config_when_configured_leaks_no_secret(db, api, viewer, nas):
    response = api(viewer).get("/api/v1/sync/config/")
    assert response.json() == {
        "configured": True,
        "nas_host": True,
        "nas_user": True,
        "nas_path": True,
        "host": "127.0.0.1",
        "path": str(nas.dest),
    }
    text = response.content.decode()
    key = nas.server.client_key.read_text()
    for secret in (str(nas.server.client_key), "client key", key.splitlines()[1], "PRIVATE KEY", "known hosts"):
        assert secret not in text


def test_an_invalid_host_is_not_a_configuration(db, api, viewer, nas, settings):
    settings.NAS_HOST = "-oProxyCommand=touch /tmp/x"
    body = api(viewer).get("/api/v1/sync/config").json()
    assert body["nas_host"] is True and body["configured"] is False


# --- test -------------------------------------------------------------------------------


def test_connection_successful(db, api, operator, nas):
    response = api(operator).post("/api/v1/sync/test")
    assert response.status_code == 200
    assert response.json() == {"success": True, "message": "Connection successful"}
    assert api(operator).post("/api/v1/sync/test", HTTP_ACCEPT_LANGUAGE="fr").json()["message"] == "Connexion réussie"
    assert nas.files() == {} and not any(nas.dest.iterdir())  # the probe file is gone


def test_connection_not_configured(db, api, operator):
    assert api(operator).post("/api/v1/sync/test/").json() == {"success": False, "message": NOT_CONFIGURED}
    body = api(operator).post("/api/v1/sync/test", HTTP_ACCEPT_LANGUAGE="fr").json()
    assert body == {"success": False, "message": NOT_CONFIGURED_FR}


def test_a_wrong_key_gives_permission_denied(db, api, operator, nas, settings, tmp_path):
    from tests.plugins.sshd import keygen

    settings.NAS_SSH_KEY = str(keygen(tmp_path / "stranger", "not-authorized"))
    body = api(operator).post("/api/v1/sync/test").json()
    assert body == {"success": False, "message": "Connection failed: Permission denied (publickey)"}
    body = api(operator).post("/api/v1/sync/test", HTTP_ACCEPT_LANGUAGE="fr").json()
    assert body["message"] == "Échec de connexion : Permission denied (publickey)"
    assert str(tmp_path) not in body["message"]


def test_a_port_that_never_answers_gives_the_timeout_message_within_its_bound(
    db, api, operator, nas, settings, black_hole
):
    settings.NAS_PORT = black_hole.port
    settings.NAS_CONNECT_TIMEOUT = 2
    started = time.monotonic()
    body = api(operator).post("/api/v1/sync/test").json()
    elapsed = time.monotonic() - started
    assert body == {"success": False, "message": "Connection timeout (2s)"}
    assert black_hole.held  # ssh reached the port and waited there for a banner
    # ssh gave up after its 2 s ConnectTimeout: not sooner, and (however loaded the machine)
    # long before the hub's own budget of NAS_CONNECT_TIMEOUT + 20 s would have killed it.
    assert 1.9 <= elapsed < 17


def test_the_default_timeout_message_is_the_specs(db, settings):
    from django.utils import translation

    from nasync.messages import Problem

    with translation.override("fr"):
        assert Problem("timeout", {"seconds": settings.NAS_CONNECT_TIMEOUT}).text() == "Timeout de connexion (15s)"


def test_an_unreachable_host(db, api, operator, nas, settings):
    from tests.plugins.sshd import free_port

    settings.NAS_PORT = free_port()  # nothing listens there
    body = api(operator).post("/api/v1/sync/test").json()
    assert body["success"] is False
    assert body["message"].startswith("Host unreachable: ") and "Connection refused" in body["message"]


def test_a_changed_host_key_is_refused(db, api, operator, nas, settings, tmp_path):
    other = tmp_path / "known_hosts"
    other.write_text(
        f"[127.0.0.1]:{nas.server.port} ssh-ed25519 "
        "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"
    )
    settings.NAS_KNOWN_HOSTS = str(other)
    body = api(operator).post("/api/v1/sync/test").json()
    assert body == {"success": False, "message": "Host key verification failed for 127.0.0.1 (check NAS_KNOWN_HOSTS)"}


def test_a_missing_destination(db, api, operator, nas, settings):
    settings.NAS_PATH = str(nas.dest / "not-there")
    body = api(operator).post("/api/v1/sync/test").json()
    assert body == {"success": False, "message": f"Destination path not found on the NAS: {nas.dest}/not-there"}
    assert not (nas.dest / "not-there").exists()


def test_a_destination_that_is_not_writable(db, api, operator, nas, settings):
    locked = nas.dest / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    settings.NAS_PATH = str(locked)
    body = api(operator).post("/api/v1/sync/test", HTTP_ACCEPT_LANGUAGE="fr").json()
    assert body == {"success": False, "message": f"Chemin de destination non accessible en écriture : {locked}"}


def test_an_unreadable_key_file_is_named_by_its_setting_only(db, api, operator, nas, settings, tmp_path):
    settings.NAS_SSH_KEY = str(tmp_path / "missing-key")
    body = api(operator).post("/api/v1/sync/test").json()
    assert body == {"success": False, "message": "The SSH key file (NAS_SSH_KEY) cannot be read"}


# --- run --------------------------------------------------------------------------------


def test_run_answers_the_specs_summary(transactional_db, api, operator, nas, make_document):
    documents = [make_document() for _ in range(3)]
    remove_source(documents[1])
    response = api(operator).post("/api/v1/sync/run")
    assert response.status_code == 200
    body = response.json()
    assert {key: body[key] for key in ("total", "synced", "failed", "errors")} == {
        "total": 3,
        "synced": 2,
        "failed": 1,
        "errors": [f"Document {documents[1].pk}: source file not found"],
    }
    run = NasSyncRun.objects.get(pk=body["run_id"])
    assert run.status == JobStatus.PARTIAL and run.requested_by == operator
    french = api(operator).get(f"/api/v1/sync/nas-runs/{run.pk}", HTTP_ACCEPT_LANGUAGE="fr").json()
    assert french["errors"] == [f"Document {documents[1].pk}: Fichier source introuvable"]
    assert len(nas.files()) == 2


def test_run_in_french(transactional_db, api, operator, nas, make_document):
    document = make_document()
    remove_source(document)
    body = api(operator).post("/api/v1/sync/run/", HTTP_ACCEPT_LANGUAGE="fr").json()
    assert body["errors"] == [f"Document {document.pk}: Fichier source introuvable"]


def test_run_not_configured_answers_400(db, api, operator):
    response = api(operator).post("/api/v1/sync/run")
    assert response.status_code == 400
    assert response.json() == {"status": "error", "code": "NAS_NOT_CONFIGURED", "message": NOT_CONFIGURED}
    french = api(operator).post("/api/v1/sync/run", HTTP_ACCEPT_LANGUAGE="fr").json()
    assert french["message"] == NOT_CONFIGURED_FR
    assert not NasSyncRun.objects.exists()


def test_run_async_answers_202_with_the_runs_url(transactional_db, api, operator, nas, make_document):
    make_document()
    response = api(operator).post("/api/v1/sync/run?async=true")
    assert response.status_code == 202
    body = response.json()
    assert set(body) == {"run_id", "status", "url", "message"}
    assert response["Location"] == body["url"] and body["url"].endswith(f"/api/v1/sync/nas-runs/{body['run_id']}")
    run = api(operator).get(body["url"]).json()  # eager here: already done
    assert run["status"] == "succeeded" and run["synced"] == 1


def test_a_second_run_while_one_is_active_answers_409(db, api, operator, nas):
    active = start_job(NasSyncRun, kind=NasSyncRun.KIND)
    response = api(operator).post("/api/v1/sync/run")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "SYNC_IN_PROGRESS" and body["detail"]["job_id"] == str(active.pk)
    assert body["message"] == "A NAS sync is already in progress."


def test_a_run_still_going_after_the_wait_answers_202(db, api, operator, nas, make_document, settings):
    settings.NAS_SYNC_WAIT_TIMEOUT = 0.2
    make_document()
    response = api(operator).post("/api/v1/sync/run")  # db: the task is never sent (no commit)
    assert response.status_code == 202 and response.json()["status"] == "queued"


def test_run_when_the_nas_refuses_the_key_answers_502(
    transactional_db, api, operator, nas, make_document, settings, tmp_path
):
    from tests.plugins.sshd import keygen

    settings.NAS_SSH_KEY = str(keygen(tmp_path / "stranger", "x"))
    make_document()
    response = api(operator).post("/api/v1/sync/run")
    assert response.status_code == 502
    body = response.json()
    assert body["code"] == "NETWORK_ERROR" and body["message"] == "Connection failed: Permission denied (publickey)"
    assert body["detail"]["total"] == 1 and body["detail"]["synced"] == 0
    assert Document.objects.get().sync_attempts == 0  # the NAS's fault, not the document's


def test_bad_async_flag(db, api, operator):
    response = api(operator).post("/api/v1/sync/run?async=maybe")
    assert response.status_code == 400 and response.json()["code"] == "VALIDATION_ERROR"


# --- document ---------------------------------------------------------------------------


def test_sync_one_document(db, api, operator, nas, make_document):
    document = make_document(held_for_operator=True, sync_attempts=5, sync_error="x")
    response = api(operator).post(f"/api/v1/sync/document/{document.pk}")
    assert response.status_code == 200
    assert response.json() == {"success": True, "message": "Synced to 127.0.0.1"}
    french = api(operator).post(f"/api/v1/sync/document/{document.pk}/", HTTP_ACCEPT_LANGUAGE="fr").json()
    assert french == {"success": True, "message": "Synchronisé vers 127.0.0.1"}
    document.refresh_from_db()
    assert document.synced_to_nas and not document.held_for_operator and document.sync_attempts == 0
    assert list(nas.files()) == [document.relative_path]


def test_sync_one_document_whose_file_is_gone(db, api, operator, nas, make_document):
    document = make_document()
    remove_source(document)
    body = api(operator).post(f"/api/v1/sync/document/{document.pk}").json()
    assert body == {"success": False, "message": "source file not found"}


def test_sync_document_errors(db, api, operator, nas, settings):
    response = api(operator).post("/api/v1/sync/document/999999")
    assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"
    assert api(operator).post("/api/v1/sync/document/99999999999999999999999").status_code == 404
    assert api(operator).post("/api/v1/sync/document/abc").status_code == 404
    settings.NAS_HOST = ""
    response = api(operator).post("/api/v1/sync/document/1")
    assert response.status_code == 400 and response.json()["code"] == "NAS_NOT_CONFIGURED"


# --- permissions ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/sync/test", "/api/v1/sync/run", "/api/v1/sync/document/1"])
def test_a_viewer_may_read_but_not_sync(db, api, viewer, path):
    assert api(viewer).get("/api/v1/sync/status").status_code == 200
    response = api(viewer).post(path)
    assert response.status_code == 403 and response.json()["code"] == "PERMISSION_DENIED"


def test_anonymous_and_roleless_users_are_refused(db, api, make_user):
    assert api(None).get("/api/v1/sync/status").status_code == 401
    assert api(make_user("nobody")).get("/api/v1/sync/config").status_code == 403


def test_posts_are_never_redirected(db, api, operator):
    for path in ("/api/v1/sync/test", "/api/v1/sync/test/", "/api/v1/sync/run", "/api/v1/sync/run/"):
        assert api(operator).post(path).status_code in (200, 400)


def test_a_key_readable_by_others_is_explained_and_its_path_never_shown_nor_logged(
    db, api, operator, nas, settings, tmp_path, caplog, make_document
):
    import shutil as sh

    from nasync import services

    loose = tmp_path / "loose key"
    sh.copy(nas.server.client_key, loose)
    loose.chmod(0o644)
    settings.NAS_SSH_KEY = str(loose)
    body = api(operator).post("/api/v1/sync/test").json()
    assert body == {
        "success": False,
        "message": "ssh refuses the SSH key file (NAS_SSH_KEY): other users can read it (chmod 600)",
    }
    make_document()
    run = services.nas_sync_now()
    assert run.status == "failed" and str(loose) not in run.message
    key_line = nas.server.client_key.read_text().splitlines()[1]
    for record in caplog.records:
        assert str(loose) not in record.getMessage() and key_line not in record.getMessage()


@pytest.mark.parametrize("query", ["page=", "page=x", "page=0", "page=1.5", "limit=", "limit=0"])
def test_a_page_or_limit_that_is_not_a_whole_number_answers_400(db, api, viewer, query):
    """The schema says integers from 1: an empty or other value is refused, not read as the default."""
    response = api(viewer).get(f"/api/v1/sync/nas-runs/?{query}")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "VALIDATION_ERROR"


@pytest.mark.parametrize("page", ["9", "2147483647", "3294685745020", "9" * 5000])
def test_a_page_beyond_the_last_is_not_found(db, api, viewer, page):
    assert api(viewer).get(f"/api/v1/sync/nas-runs/?page={page}").status_code == 404
