"""NAS runs against a real sshd on loopback with real rsync."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from config.jobs import JobStatus
from nasync import rsync, services
from nasync.config import load_config
from nasync.models import Document, NasSyncRun

from .conftest import pdf_bytes, remove_source, stored_path


def run_now(**kwargs) -> NasSyncRun:
    return services.nas_sync_now(**kwargs)


def test_a_run_copies_every_pending_document_byte_identical_in_its_date_folder(nas, make_document):
    documents = [make_document(content=pdf_bytes(5000 + i, f"doc{i}")) for i in range(5)]
    run = run_now()
    assert run.status == JobStatus.SUCCEEDED, run.errors
    assert (run.items_total, run.items_succeeded, run.items_failed) == (5, 5, 0)
    assert run.counters["sent"] == 5
    on_nas = nas.files()
    for document in documents:
        document.refresh_from_db()
        assert document.synced_to_nas and document.synced_at and document.sync_error == ""
        assert document.relative_path.count("/") == 3  # YYYY/MM/DD/name
        assert on_nas[document.relative_path] == Path(stored_path(document)).read_bytes()
        assert document.nas_path == f"{nas.dest}/{document.relative_path}"
    assert set(on_nas) == {d.relative_path for d in documents}


def test_a_second_run_sends_nothing(nas, make_document):
    make_document()
    make_document()
    assert run_now().items_succeeded == 2
    again = run_now()
    assert (again.items_total, again.counters.get("sent", 0)) == (0, 0)
    # Forced through rsync again (the admin's "sync selected"): rsync finds them up to date.
    forced = run_now(document_ids=list(Document.objects.values_list("pk", flat=True)))
    assert forced.items_succeeded == 2
    assert forced.counters == {"sent": 0, "unchanged": 2, "bytes_sent": 0}


def test_a_missing_source_file_gives_its_error_line_while_the_others_sync(nas, make_document, settings):
    settings.NAS_RETRY_BACKOFF = 60
    good, gone, other = make_document(), make_document(), make_document()
    remove_source(gone)
    run = run_now()
    assert run.status == JobStatus.PARTIAL
    assert (run.items_succeeded, run.items_failed) == (2, 1)
    assert services.run_summary(run)["errors"] == [f"Document {gone.pk}: source file not found"]
    gone.refresh_from_db()
    assert not gone.synced_to_nas and gone.sync_attempts == 1 and gone.sync_error == "source file not found"
    assert gone.next_attempt_at is not None and not gone.held_for_operator
    assert set(nas.files()) == {good.relative_path, other.relative_path}


def test_failures_back_off_exponentially_then_hold_for_an_operator(nas, make_document, settings):
    settings.NAS_RETRY_BACKOFF = 100
    settings.NAS_MAX_ATTEMPTS = 3
    document = make_document()
    remove_source(document)
    delays = []  # (the least, the most) the delay can have been: the run's clock reading is in between
    for _ in range(3):
        before = time.time()
        run_now(document_ids=[document.pk])
        after = time.time()
        document.refresh_from_db()
        if document.next_attempt_at:
            delays.append((document.next_attempt_at.timestamp() - after, document.next_attempt_at.timestamp() - before))
    # Backoff 100 s then 200 s, times a jitter of 1 to 1.25.
    assert delays[0][1] >= 100 and delays[0][0] <= 125
    assert delays[1][1] >= 200 and delays[1][0] <= 250
    assert document.held_for_operator and document.next_attempt_at is None and document.sync_attempts == 3
    # Held: scheduled and API runs leave it alone until an operator requeues it.
    assert run_now().items_total == 0
    assert services.documents_requeue(Document.objects.filter(pk=document.pk)) == 1
    document.refresh_from_db()
    assert (document.held_for_operator, document.sync_attempts, document.sync_error) == (False, 0, "")


def test_scheduled_runs_take_only_due_documents(nas, make_document, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    due = make_document()
    later = make_document(next_attempt_at=timezone.now() + timedelta(hours=1), sync_error="x", sync_attempts=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.scheduled_nas_sync().startswith("queued")
    run = NasSyncRun.objects.get()
    assert run.trigger == "schedule" and run.items_total == 1 and run.status == JobStatus.SUCCEEDED
    due.refresh_from_db()
    later.refresh_from_db()
    assert due.synced_to_nas and not later.synced_to_nas
    assert services.scheduled_nas_sync() == "nothing due"


def test_hostile_names_arrive_intact_as_their_safe_names_and_never_reach_a_shell(nas, make_document, tmp_path):
    marker = tmp_path / "pwned"
    sent = [
        "-rf --delete.pdf",
        "--include=*.pdf",
        "a 'quoted' \"name\".pdf",
        "with\nnewline.pdf",
        "facture n° 12 — été 日本.pdf",
        "../../../../etc/cron.d/x.pdf",
        f"$(touch {marker}).pdf",
        f"`touch {marker}`;echo.pdf",
        "...",
        "  spaced   out  .pdf",
    ]
    documents = [make_document(name=name, content=pdf_bytes(300 + i, name)) for i, name in enumerate(sent)]
    names = [d.name for d in documents]
    assert names[:3] == ["rf --delete.pdf", "include=_.pdf", "a 'quoted' _name_.pdf"]
    assert names[3] == "with newline.pdf" and names[4] == "facture n° 12 — été 日本.pdf"
    assert names[5] == "x.pdf" and names[8] == "document.pdf" and names[9] == "spaced out.pdf"
    run = run_now()
    assert run.status == JobStatus.SUCCEEDED, run.errors
    on_nas = nas.files()
    for document in documents:
        assert on_nas[document.relative_path] == Path(stored_path(document)).read_bytes()
    assert len(on_nas) == len(documents)
    assert not marker.exists()
    assert not any(Path(nas.dest).parent.glob("etc"))


def test_a_stopped_sshd_mid_run_leaves_the_unsent_documents_pending(nas, make_document, settings):
    settings.NAS_BWLIMIT = "300"  # KiB/s: about 0.3 s per document
    documents = [make_document(content=pdf_bytes(90_000, f"slow{i}")) for i in range(12)]
    stopped = threading.Event()

    def stop_after_two_files():
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(nas.files()) < 2:
            time.sleep(0.02)
        nas.server.stop()
        stopped.set()

    watcher = threading.Thread(target=stop_after_two_files)
    watcher.start()
    run = run_now()
    watcher.join()
    assert stopped.is_set()
    assert run.status == JobStatus.FAILED
    assert run.result["problem"]["code"] in {"connection_lost", "unreachable"}
    assert Document.objects.filter(synced_to_nas=True).count() == 0
    assert Document.objects.filter(sync_attempts=0, sync_error="").count() == 12  # no attempt counted
    arrived = nas.files()
    assert 2 <= len(arrived) < 12
    for document in documents:
        if document.relative_path in arrived:  # no half file under a final name
            assert arrived[document.relative_path] == Path(stored_path(document)).read_bytes()

    nas.server.start()
    settings.NAS_BWLIMIT = ""
    resumed = run_now()
    assert resumed.status == JobStatus.SUCCEEDED and resumed.items_succeeded == 12
    assert resumed.counters["unchanged"] >= 2 and resumed.counters["sent"] <= 10
    assert len(nas.files()) == 12


def test_a_file_rsync_cannot_write_fails_that_document_only(nas, make_document):
    blocked, fine = make_document(), make_document()
    folder = nas.dest / Path(blocked.relative_path).parent
    folder.mkdir(parents=True)
    # A directory where the file should go: rsync reports it, the other document syncs.
    (nas.dest / blocked.relative_path).mkdir()
    (nas.dest / blocked.relative_path / "keep").write_text("x")
    run = run_now()
    assert (run.items_succeeded, run.items_failed) == (1, 1)
    blocked.refresh_from_db()
    fine.refresh_from_db()
    assert fine.synced_to_nas and not blocked.synced_to_nas
    assert blocked.sync_error == f"could not make way for new regular file: {blocked.relative_path}"
    assert blocked.sync_attempts == 1
    assert services.run_summary(run)["errors"][0].startswith(f"Document {blocked.pk}: ")


def test_documents_on_s3_are_staged_for_rsync(nas, s3_storage, make_document, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    documents = [make_document(), make_document()]
    assert all(s3_storage.keys(d.file.name) for d in documents)
    run = run_now()
    assert run.status == JobStatus.SUCCEEDED, run.errors
    assert nas.files() == {d.relative_path: s3_storage.get(d.file.name) for d in documents}
    assert not any((tmp_path / "nas-staging").iterdir())  # the staging folder is cleaned up


def test_the_ssh_command_is_one_argument_with_quoted_paths(nas):
    config = load_config()
    command = rsync.ssh_command(config)
    assert "BatchMode=yes" in command and "ConnectTimeout=5" in command and f"-p {nas.server.port}" in command
    assert f"-i '{nas.server.client_key}'" in command  # the path holds a space
    assert "StrictHostKeyChecking=yes" in command
    args = rsync.rsync_args(config, "-a")
    assert args[0] == "rsync" and "-s" in args and args[args.index("-e") + 1] == command


def test_without_known_hosts_the_hub_pins_the_first_key_it_sees(nas, settings, tmp_path, make_document):
    settings.NAS_KNOWN_HOSTS = ""
    settings.VAR_DIR = tmp_path
    config = load_config()
    assert not config.strict_host_key and config.known_hosts == str(tmp_path / "nas_known_hosts")
    assert "StrictHostKeyChecking=accept-new" in rsync.ssh_command(config)
    make_document()
    assert run_now().status == JobStatus.SUCCEEDED
    host_key = (nas.server.root / "host key.pub").read_text().split()[1]
    assert host_key in (tmp_path / "nas_known_hosts").read_text()


def test_a_big_run_is_sent_in_batches(nas, make_document, settings):
    settings.NAS_RSYNC_BATCH_SIZE = 2
    for _ in range(5):
        make_document()
    run = run_now()
    assert run.items_succeeded == 5 and len(nas.files()) == 5


def test_a_run_that_cannot_use_the_nas_fails_with_its_error_code(db, make_document):
    make_document()
    run = run_now()
    assert run.status == JobStatus.FAILED and run.error_code == "NAS_NOT_CONFIGURED"
    assert run.message.startswith("NAS sync is not configured.")  # the message itself is unchanged
    assert run.result["problem"]["code"] == "not_configured"
