"""NAS sync benchmark: 2,000 documents of 20-200 KB pushed to an sshd on loopback.

Prints, in one run:
- the project's run, through the service (``nasync.services.nas_sync_now``: the NasSyncRun
  row, the selection of pending documents, the source checks, one rsync over one ssh
  connection with ``-a -z -s -ii --partial-dir --files-from=- --from0``, the parsing of
  rsync's per-file output and the database updates);
- the baseline: a plain ``rsync -a`` of the same folder to the same server, same ssh options;
- their ratio (target: at most 1.5x); each measured 5 times (BENCH_ROUNDS), alternating,
  the medians compared;
- a second run with nothing pending (target: zero files sent), and for information a forced
  run over every document (rsync's quick check only: zero bytes sent).

The sshd is the Debian OpenSSH server (``make test-deps``) started here on a free loopback
port with generated keys. The hub runs on PostgreSQL (database ``hub_bench_nas``,
recreated; ``BENCH_DATABASE_URL``), or SQLite in a temporary folder without a server.
Documents are random bytes behind a PDF header (incompressible, like real scanned invoices).
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import free_port, fresh_database_url

DOCUMENTS = int(os.environ.get("BENCH_DOCUMENTS", "2000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/hub_bench_nas")
SSHD = "/usr/sbin/sshd"


class Sshd:
    """A throwaway OpenSSH server on loopback with generated host and client keys."""

    def __init__(self, root: Path):
        self.root, self.port = root, free_port()
        for name in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / name)], check=True)
        (root / "authorized_keys").write_text((root / "client_key.pub").read_text())
        host = (root / "host_key.pub").read_text().split()
        (root / "known_hosts").write_text(f"[127.0.0.1]:{self.port} {host[0]} {host[1]}\n")
        (root / "sshd_config").write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f"HostKey {root / 'host_key'}",
                    f"PidFile {root / 'sshd.pid'}",
                    f"AuthorizedKeysFile {root / 'authorized_keys'}",
                    "PermitRootLogin prohibit-password",
                    "StrictModes no",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "",
                ]
            )
        )
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [SSHD, "-D", "-e", "-f", str(root / "sshd_config")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(200):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("sshd did not start")

    def ssh_command(self) -> str:
        return (
            f"ssh -o BatchMode=yes -p {self.port} -i {self.root / 'client_key'} -o IdentitiesOnly=yes "
            f"-o UserKnownHostsFile={self.root / 'known_hosts'} -o StrictHostKeyChecking=yes"
        )

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def main() -> int:
    if not os.access(SSHD, os.X_OK) or not shutil.which("rsync"):
        print("nas sync: needs /usr/sbin/sshd and rsync (run `make test-deps`)")
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="bench-nas-"))
    database_url, database = fresh_database_url(PG_URL, str(workdir))
    os.environ.pop("REDIS_URL", None)
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "VAR_DIR": str(workdir / "var"),
            "MEDIA_ROOT": str(workdir / "media"),
            "SECRET_KEY": "bench-only-key-0123456789abcdef0123456789abcdef",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
    )
    sshd = Sshd(workdir)
    try:
        return _run(workdir, sshd, database)
    finally:
        sshd.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _run(workdir: Path, sshd: Sshd, database: str) -> int:
    import django

    django.setup()
    from django.conf import settings
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    from nasync import services
    from nasync.models import Document

    call_command("migrate", verbosity=0)
    settings.NAS_HOST, settings.NAS_USER, settings.NAS_PORT = "127.0.0.1", os.environ.get("USER", "root"), sshd.port
    settings.NAS_SSH_KEY = str(workdir / "client_key")
    settings.NAS_KNOWN_HOSTS = str(workdir / "known_hosts")

    rng = random.Random(2002)
    total_bytes = 0
    for number in range(DOCUMENTS):
        size = rng.randint(20 * 1024, 200 * 1024)
        content = b"%PDF-1.7\n" + rng.randbytes(size - 9)
        total_bytes += size
        services.document_create(uploaded=SimpleUploadedFile(f"invoice-{number:05d}.pdf", content))
    source = Path(settings.MEDIA_ROOT) / "documents"

    def fresh_destination(label: str) -> Path:
        folder = workdir / f"nas-{label}-{time.monotonic_ns()}"
        folder.mkdir()
        return folder

    project_times, baseline_times, run = [], [], None
    for _ in range(ROUNDS):
        dest = fresh_destination("baseline")
        started = time.perf_counter()
        subprocess.run(
            ["rsync", "-a", "-e", sshd.ssh_command(), f"{source}/", f"{settings.NAS_USER}@127.0.0.1:{dest}/"],
            check=True,
        )
        baseline_times.append(time.perf_counter() - started)

        Document.objects.update(synced_to_nas=False, synced_at=None, nas_path="")
        settings.NAS_PATH = str(fresh_destination("project"))
        started = time.perf_counter()
        run = services.nas_sync_now()
        project_times.append(time.perf_counter() - started)
        assert run.status == "succeeded" and run.items_succeeded == DOCUMENTS, (run.status, run.errors[:3])

    started = time.perf_counter()
    again = services.nas_sync_now()
    again_time = time.perf_counter() - started
    started = time.perf_counter()
    forced = services.nas_sync_now(document_ids=list(Document.objects.values_list("pk", flat=True)))
    forced_time = time.perf_counter() - started

    project, baseline = statistics.median(project_times), statistics.median(baseline_times)
    ratio = project / baseline
    sent_again = again.counters.get("sent", 0)
    print(
        f"nas sync: {DOCUMENTS} documents, {total_bytes / 1e6:.0f} MB (20-200 KB each), loopback sshd, "
        f"{database}, median of {ROUNDS}; load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    print(
        f"  project run (service)     {project:7.2f} s   {run.counters['sent']} sent, one rsync -a -z -s -ii, "
        f"database updated  (runs: {', '.join(f'{t:.2f}' for t in project_times)})"
    )
    print(
        f"  plain rsync -a baseline   {baseline:7.2f} s   same files, same server  "
        f"(runs: {', '.join(f'{t:.2f}' for t in baseline_times)})"
    )
    print(f"  ratio                     {ratio:7.2f} x   (target <= 1.5x)  {'OK' if ratio <= 1.5 else 'MISSED'}")
    print(
        f"  second run, none pending  {again_time:7.2f} s   {again.items_total} documents, {sent_again} files sent "
        f"(target 0)  {'OK' if sent_again == 0 else 'MISSED'}"
    )
    print(
        f"  forced re-check of all    {forced_time:7.2f} s   {forced.counters.get('unchanged', 0)} unchanged, "
        f"{forced.counters.get('bytes_sent', 0)} bytes sent"
    )
    return 0 if ratio <= 1.5 and sent_again == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
