"""The rsync runner: real ``rsync`` over real ``ssh``, started with argument lists only.

One rsync process sends a whole batch of documents (``--files-from=- --from0``): one ssh
connection per batch, never one per document. Which documents arrived is read from
rsync's own per-file output (``--out-format`` lines with a marker and the itemized
change, ``-ii`` so unchanged files are listed too), per-file errors from its error lines,
and everything else (ssh failures, exit codes) becomes a :class:`Problem`.

Nothing a client sent reaches a shell: file names travel NUL-separated on rsync's
stdin, ``-s`` (``--protect-args``) sends them through rsync's protocol instead of the
remote shell, and the ``-e`` string is built from validated settings only, with
``shlex.quote`` on every path.
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from nasync.config import NasConfig
from nasync.messages import Problem

logger = logging.getLogger(__name__)

MARKER = "@@hub-nas@@"
PARTIAL_DIR = ".rsync-partial"
# rsync's exit codes that mean the whole list was processed (some files may have failed).
COMPLETE_EXITS = {0, 23, 24}
EXIT_MEANINGS = {
    1: "syntax or usage error",
    2: "protocol incompatibility",
    3: "errors selecting input/output files or directories",
    4: "requested action not supported by the NAS's rsync",
    5: "error starting the client-server protocol",
    10: "error in socket I/O",
    11: "error in file I/O",
    12: "error in the rsync protocol data stream",
    14: "error in IPC code",
    20: "interrupted by a signal",
    21: "some error returned by waitpid()",
    22: "error allocating core memory buffers",
    23: "partial transfer due to error",
    24: "partial transfer due to vanished source files",
    25: "the --max-delete limit stopped deletions",
    30: "timeout in data send/receive",
    35: "timeout waiting for daemon connection",
    127: "rsync not found on the NAS",
    255: "ssh failed",
}
# Errors about a file's attributes only: its content arrived, the document is synced.
ATTRIBUTE_ERRORS = re.compile(
    r"^rsync: (?:\[\w+\] )?(?:failed to set (?:times|permissions|mode)|chown|chgrp|failed to modify permissions)"
)
ESCAPE = re.compile(rb"\\#([0-7]{3})")
QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
TEMP_NAME = re.compile(r"^\.(.+)\.[A-Za-z0-9]{6}$")


def ssh_command(config: NasConfig) -> str:
    """The ``-e`` value: one string, rsync splits it itself (quotes respected, no shell)."""
    args = [
        "ssh",
        "-o",
        "BatchMode=yes",
        "-o",
        f"ConnectTimeout={int(config.connect_timeout)}",
        "-o",
        "ServerAliveInterval=15",
        "-o",
        "ServerAliveCountMax=4",
        "-p",
        str(int(config.port)),
    ]
    if config.ssh_key:
        args += ["-i", _ssh_path(config.ssh_key), "-o", "IdentitiesOnly=yes"]
    known_hosts = _ssh_path(config.known_hosts)
    if re.search(r"\s", known_hosts):
        known_hosts = f'"{known_hosts}"'  # ssh splits this option's value on spaces
    args += [
        "-o",
        f"UserKnownHostsFile={known_hosts}",
        "-o",
        f"StrictHostKeyChecking={'yes' if config.strict_host_key else 'accept-new'}",
    ]
    return " ".join(shlex.quote(arg) for arg in args)


def _ssh_path(path: str) -> str:
    return path.replace("%", "%%")  # ssh expands %-tokens in these paths


def rsync_args(config: NasConfig, *extra: str) -> list[str]:
    args = ["rsync", "-s", "-8", f"--timeout={int(config.io_timeout)}", "-e", ssh_command(config)]
    if config.bwlimit:
        args.append(f"--bwlimit={config.bwlimit}")
    return [*args, *extra]


def _env() -> dict[str, str]:
    """A small, predictable environment: C locale (stable messages), no inherited secrets."""
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/"),
        "LC_ALL": "C",
        "LANG": "C",
    }


@dataclass
class Completed:
    exit_code: int
    stdout: bytes
    stderr: list[str]
    timed_out: bool = False


def run(args: list[str], *, stdin: bytes = b"", timeout: float | None = None) -> Completed:
    """Run rsync (argument list, no shell); kill its process group (ssh too) on timeout."""
    try:
        process = subprocess.Popen(
            args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_env(),
            start_new_session=True,
        )
    except FileNotFoundError:
        return Completed(127, b"", ["rsync: not installed on the hub"], timed_out=False)
    try:
        out, err = process.communicate(stdin, timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        _kill_group(process)
        out, err = process.communicate()
        timed_out = True
    except BaseException:  # a task time limit, a worker shutting down: never leave rsync behind
        _kill_group(process)
        process.wait()
        raise
    lines = [line for line in _decode(err).splitlines() if line.strip()]
    return Completed(process.returncode, out, lines, timed_out)


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _decode(data: bytes) -> str:
    return ESCAPE.sub(lambda m: bytes([int(m.group(1), 8)]), data).decode("utf-8", "replace")


def redact(text: str, config: NasConfig) -> str:
    """Never show the key's path (nor the known_hosts path) in a message."""
    for secret, label in ((config.ssh_key, "<NAS_SSH_KEY>"), (config.known_hosts, "<known_hosts>")):
        if secret:
            text = text.replace(secret, label)
    return text


# --- classification -------------------------------------------------------------------


def classify(config: NasConfig, exit_code: int, stderr: list[str], *, timed_out: bool = False) -> Problem | None:
    """The run-level problem behind an exit code and ssh's/rsync's messages (None: none).

    Exits 0, 23 and 24 mean rsync went through the whole list: their errors are about
    files and are read by ``_read_errors``. ssh's messages are matched with every quoted
    string blanked out, so a file name can never pass for one.
    """
    if timed_out:
        return Problem("timeout", {"seconds": config.connect_timeout})
    if exit_code in COMPLETE_EXITS:
        return None
    full = "\n".join(stderr)
    text = QUOTED.sub('""', full)
    if "not installed on the hub" in text:
        return Problem("tools_missing")
    if "UNPROTECTED PRIVATE KEY FILE" in text or re.search(r"Load key .*bad permissions", text):
        return Problem("key_unprotected")
    if re.search(r"Load key .*(invalid format|error in libcrypto|No such file)", text):
        return Problem("key_unreadable")
    if re.search(r"timed out|Connection timed out", text):
        return Problem("timeout", {"seconds": config.connect_timeout})
    match = re.search(r"Permission denied \([a-z0-9,@.-]+\)", text)
    if match:
        return Problem("permission_denied", {"reason": match.group(0)})
    if "Host key verification failed" in text or "REMOTE HOST IDENTIFICATION HAS CHANGED" in text:
        return Problem("host_key", {"host": config.host})
    match = re.search(
        r"^(?:ssh: )?(.*(?:Connection refused|No route to host|Network is unreachable|Could not resolve hostname"
        r"|Name or service not known|Temporary failure in name resolution|Connection reset by peer"
        r"|Connection closed by|kex_exchange_identification).*)$",
        text,
        re.M,
    )
    if match:
        return Problem("unreachable", {"reason": redact(match.group(1).strip(), config)})
    if exit_code == 127 or re.search(r"rsync: (?:command )?not found", text):
        return Problem("remote_rsync_missing")
    if re.search(r'(?:change_dir|mkdir) "[^"]*" failed: (?:No such file or directory|Not a directory)', full) and (
        _names_destination(full, config.path.rstrip("/") or "/")
    ):
        return Problem("path_missing", {"path": config.path})
    if "No space left on device" in text or "Disk quota exceeded" in text:
        return Problem("disk_full")
    if exit_code == 30:
        return Problem("io_timeout", {"seconds": config.io_timeout})
    if exit_code in (10, 12, 20, 35, 255):
        return Problem("connection_lost", {"code": exit_code})
    return Problem("rsync_error", {"code": exit_code, "reason": redact(_last_reason(stderr, exit_code), config)})


def _names_destination(text: str, dest: str) -> bool:
    for quoted in QUOTED.findall(text):
        normalized = quoted.replace("/./", "/").rstrip("/.").rstrip("/") or "/"
        if normalized == dest.rstrip("/") or normalized == dest:
            return True
    return False


def _last_reason(stderr: list[str], exit_code: int) -> str:
    for line in reversed(stderr):
        if not line.startswith("rsync error:"):
            return line.removeprefix("rsync: ").strip()[:300]
    return EXIT_MEANINGS.get(exit_code, "unknown error")


# --- pushing documents ----------------------------------------------------------------


@dataclass
class PushResult:
    exit_code: int
    sent: dict[str, int] = field(default_factory=dict)  # relative path -> bytes sent
    unchanged: set[str] = field(default_factory=set)
    file_errors: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    problem: Problem | None = None
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        """rsync went through the whole list (exit 0, 23 or 24)."""
        return self.problem is None and self.exit_code in COMPLETE_EXITS

    def arrived(self, relpath: str) -> bool:
        """True only when rsync itself reported the file sent or already up to date and
        named no error for it; with exit 0 every listed file is on the NAS."""
        if not self.complete or relpath in self.file_errors:
            return False
        return self.exit_code == 0 or relpath in self.sent or relpath in self.unchanged


def push(config: NasConfig, source_root: Path, relpaths: list[str], *, timeout: float | None = None) -> PushResult:
    """Send ``source_root/<relpath>`` for every relpath to ``NAS_PATH/<relpath>``, in one rsync."""
    started = time.monotonic()
    args = rsync_args(
        config,
        "-a",
        "-z",
        "-ii",
        f"--partial-dir={PARTIAL_DIR}",
        "--files-from=-",
        "--from0",
        f"--out-format={MARKER} %i %b %n",
        "--",
        f"{source_root}/",
        config.remote,
    )
    listing = b"".join(path.encode("utf-8", "surrogateescape") + b"\0" for path in relpaths)
    completed = run(args, stdin=listing, timeout=timeout)
    result = PushResult(completed.exit_code, seconds=time.monotonic() - started)
    _read_output(result, completed.stdout)
    result.problem = classify(config, completed.exit_code, completed.stderr, timed_out=completed.timed_out)
    if result.problem is None:
        _read_errors(result, completed.stderr, set(relpaths), source_root, config)
    logger.info(
        "rsync of %s files: exit %s, %s sent, %s unchanged, %s file errors in %.2fs",
        len(relpaths),
        completed.exit_code,
        len(result.sent),
        len(result.unchanged),
        len(result.file_errors),
        result.seconds,
    )
    return result


def _read_output(result: PushResult, stdout: bytes) -> None:
    prefix = MARKER.encode() + b" "
    for raw in stdout.split(b"\n"):
        if not raw.startswith(prefix):
            continue
        line = _decode(raw[len(prefix) :])
        item, rest = line[:11], line[12:]
        if len(item) < 2 or item[1] != "f" or item[0] == "*":
            continue
        size, _, name = rest.partition(" ")
        if item[0] == "<":
            result.sent[name] = int(size) if size.isdigit() else 0
        else:
            result.unchanged.add(name)


def _read_errors(
    result: PushResult, stderr: list[str], relpaths: set[str], source_root: Path, config: NasConfig
) -> None:
    """Map rsync's error lines onto the files (or folders of files) they name."""
    roots = [f"{source_root}/", f"{config.path.rstrip('/')}/"]
    for line in stderr:
        if line.startswith(("rsync error:", "***", "Warning: Permanently added")):
            continue
        names = QUOTED.findall(line)
        match = re.match(r"ERROR: (.+) failed verification", line)
        if match:
            names.append(match.group(1))
        if ": " in line:
            # Unquoted forms: "could not make way for new regular file: 2026/11/23/x.pdf".
            # Safe names hold no ":" (it is replaced at upload), so the tail is the whole path.
            names.append(line.rsplit(": ", 1)[1])
        message = redact(line.removeprefix("rsync: ").strip(), config)[:500]
        if ATTRIBUTE_ERRORS.search(QUOTED.sub('""', line)):
            result.warnings.append(message)
            continue
        hits = set()
        for name in names:
            hits |= _files_named(name, roots, relpaths)
        if not hits:
            result.warnings.append(message)
        for relpath in hits:
            result.file_errors.setdefault(relpath, message)


def _files_named(name: str, roots: list[str], relpaths: set[str]) -> set[str]:
    name = name.replace("/./", "/")
    for root in roots:
        root = root.replace("/./", "/")
        if name.startswith(root):
            name = name[len(root) :]
            break
    name = name.removeprefix("./")
    if name in relpaths:
        return {name}
    folder, _, base = name.rpartition("/")
    temp = TEMP_NAME.match(base)
    if temp:
        original = f"{folder}/{temp.group(1)}" if folder else temp.group(1)
        if original in relpaths:
            return {original}
    prefix = name.rstrip("/") + "/"
    return {path for path in relpaths if path.startswith(prefix)}


# --- connection check -----------------------------------------------------------------


def check_connection(config: NasConfig) -> Problem:
    """Connect, check the destination folder exists, then that a file can be written there
    (a probe file, removed again). ``Problem("connected")`` when everything works."""
    budget = config.connect_timeout + 20
    listing = run(rsync_args(config, "--list-only", "--", f"{config.remote}/"), timeout=budget)
    problem = classify(config, listing.exit_code, listing.stderr, timed_out=listing.timed_out)
    if problem is None and listing.exit_code != 0:
        text = "\n".join(listing.stderr)
        if "No such file or directory" in text or "Not a directory" in text:
            return Problem("path_missing", {"path": config.path})
        return Problem(
            "rsync_error", {"code": listing.exit_code, "reason": redact(_last_reason(listing.stderr, 23), config)}
        )
    if problem is not None:
        return problem
    with tempfile.TemporaryDirectory(prefix="nas-check-") as tmp:
        probe = f".retail-sync-hub-check-{uuid.uuid4().hex[:12]}"
        (Path(tmp) / "probe").mkdir()
        (Path(tmp) / "probe" / probe).write_bytes(b"retail sync hub connection check\n")
        (Path(tmp) / "empty").mkdir()
        written = run(rsync_args(config, "--", f"{tmp}/probe/{probe}", config.remote), timeout=budget)
        problem = classify(config, written.exit_code, written.stderr, timed_out=written.timed_out)
        if problem is None and written.exit_code != 0:
            text = "\n".join(written.stderr)
            if "Permission denied" in text or "Read-only file system" in text:
                return Problem("path_not_writable", {"path": config.path})
            return Problem(
                "rsync_error", {"code": written.exit_code, "reason": redact(_last_reason(written.stderr, 23), config)}
            )
        if problem is not None:
            return problem
        # Delete the probe only: everything else is excluded, hence protected from --delete.
        removed = run(
            rsync_args(
                config, "-r", "--delete", f"--include=/{probe}", "--exclude=*", "--", f"{tmp}/empty/", config.remote
            ),
            timeout=budget,
        )
        if removed.exit_code != 0:
            logger.warning("could not remove the NAS probe file %s (rsync exit %s)", probe, removed.exit_code)
    return Problem("connected")


def ensure_known_hosts_dir(config: NasConfig) -> None:
    """The hub's own known_hosts file lives under VAR_DIR; make sure its folder exists."""
    if not config.strict_host_key:
        Path(config.known_hosts).parent.mkdir(parents=True, exist_ok=True)


def batches(items: Iterable, size: int) -> Iterable[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
