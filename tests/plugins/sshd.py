"""A real OpenSSH server on loopback, standing in for the NAS, and a port that never answers.

``sshd_server`` (session) runs ``/usr/sbin/sshd -D -e -f <generated config>`` on 127.0.0.1
on a free port, with a generated host key and client key (ssh-keygen), the client key in
an authorized_keys file of its own, and its pid file in its temporary folder. The folder's
name holds a space, so every run also proves the key and known_hosts paths are quoted.
When the tests run as root, sshd is started without CAP_DAC_OVERRIDE (``setpriv``), so
that a read-only folder is read-only for the NAS user too, as on a real NAS.

``nas`` (per test) points the NAS_* settings at it with a fresh destination folder and
restarts the server if a previous test stopped it. ``black_hole`` is a TCP port that
accepts connections and never says a word (for the connect timeout).
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.plugins.services import require

SSHD = "/usr/sbin/sshd"
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tools_available() -> bool:
    return os.access(SSHD, os.X_OK) and all(shutil.which(tool) for tool in ("rsync", "ssh", "ssh-keygen"))


def keygen(path: Path, comment: str) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    path.chmod(0o600)
    return path


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (sshd's per-connection children start sessions of their own)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


@dataclass
class SshServer:
    root: Path
    port: int = field(default_factory=free_port)
    user: str = field(default_factory=getpass.getuser)
    process: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        self.host_key = keygen(self.root / "host key", "hub-test-host")
        self.client_key = keygen(self.root / "client key", "hub-test-client")
        self.authorized_keys = self.root / "authorized_keys"
        self.authorized_keys.write_text((self.root / "client key.pub").read_text())
        self.known_hosts = self.root / "known hosts"
        host_public = (self.root / "host key.pub").read_text().split()
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {host_public[0]} {host_public[1]}\n")
        self.config = self.root / "sshd_config"
        self.config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    "ListenAddress 127.0.0.1",
                    f'HostKey "{self.host_key}"',
                    f'PidFile "{self.root / "sshd.pid"}"',
                    f'AuthorizedKeysFile "{self.authorized_keys}"',
                    "PermitRootLogin prohibit-password",
                    "StrictModes no",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "MaxStartups 50",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log_path = ARTIFACTS / f"sshd-{self.port}.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege separation directory
        command = [SSHD, "-D", "-e", "-f", str(self.config)]
        if os.geteuid() == 0 and shutil.which("setpriv"):
            command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", *command]
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sshd exited with {self.process.returncode}; see {self.log_path}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"sshd did not listen on {self.port}; see {self.log_path}")

    def stop(self) -> None:
        """Stop the server and cut every open session (a NAS going away mid-transfer)."""
        if self.process is None:
            return
        for pid in [*_descendants(self.process.pid), self.process.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=10)
        self.process = None

    def ensure_running(self) -> None:
        if not self.running:
            self.start()

    def settings_for(self, destination: Path) -> dict:
        return {
            "NAS_HOST": "127.0.0.1",
            "NAS_USER": self.user,
            "NAS_PATH": str(destination),
            "NAS_PORT": self.port,
            "NAS_SSH_KEY": str(self.client_key),
            "NAS_KNOWN_HOSTS": str(self.known_hosts),
            "NAS_CONNECT_TIMEOUT": 5,
            "NAS_IO_TIMEOUT": 30,
            "NAS_BWLIMIT": "",
        }


@dataclass
class Nas:
    """The NAS of one test: the server, its destination folder and the settings in force."""

    server: SshServer
    dest: Path
    values: dict

    @property
    def env(self) -> dict[str, str]:
        """The same settings as environment variables (for a worker subprocess)."""
        return {name: str(value) for name, value in self.values.items()}

    def files(self) -> dict[str, bytes]:
        """Relative path -> content of every file under its final name on the NAS (rsync's
        temporary ``.name.XXXXXX`` files and partial folders excluded)."""
        found = {}
        for path in self.dest.rglob("*"):
            if path.is_file() and not any(part.startswith(".") for part in path.relative_to(self.dest).parts):
                found[str(path.relative_to(self.dest))] = path.read_bytes()
        return found


@pytest.fixture(scope="session")
def sshd_server():
    require(tools_available(), "OpenSSH server and rsync (make test-deps)")
    root = Path(tempfile.mkdtemp(prefix="hub sshd "))
    server = SshServer(root)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def nas(sshd_server, settings) -> Nas:
    sshd_server.ensure_running()
    dest = Path(tempfile.mkdtemp(prefix="nas dest ", dir=sshd_server.root))
    values = sshd_server.settings_for(dest)
    for name, value in values.items():
        setattr(settings, name, value)
    yield Nas(sshd_server, dest, values)
    shutil.rmtree(dest, ignore_errors=True)


class BlackHole:
    """A port that accepts TCP connections and never answers (nor closes them)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(connection)

    def close(self) -> None:
        self.sock.close()
        for connection in self.held:
            connection.close()


@pytest.fixture
def black_hole():
    hole = BlackHole()
    yield hole
    hole.close()
