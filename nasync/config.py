"""The NAS configuration, read from the settings (``NAS_*``, from the environment) at call time.

Every value that reaches the ssh/rsync command line is validated here; the runner builds
its argument lists from a :class:`NasConfig` only. The key is a path to a private key
file: its path and contents are never returned by the API nor logged.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from nasync.messages import Problem

HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)
USERNAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")
BWLIMIT = re.compile(r"^\d{1,9}(?:\.\d{1,3})?[KMGkmg]?$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class NasConfig:
    host: str
    user: str
    path: str
    port: int
    ssh_key: str
    known_hosts: str
    strict_host_key: bool
    connect_timeout: int
    io_timeout: int
    bwlimit: str

    @property
    def configured(self) -> bool:
        """The spec's "configuration complete": host, user and path are set."""
        return bool(self.host and self.user and self.path)

    @property
    def destination(self) -> str:
        """The remote path, ``/.`` appended: rsync then never creates a missing NAS folder
        (an unmounted volume must not fill the system disk)."""
        return self.path.rstrip("/") + "/." if self.path != "/" else "/."

    @property
    def remote(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.user}@{host}:{self.destination}"

    def problem(self) -> Problem | None:
        """Why sync cannot run with this configuration (None: it can)."""
        if not self.configured:
            return Problem("not_configured")
        error = _invalid_field(self)
        if error:
            return Problem("invalid_config", {"setting": error})
        if self.ssh_key:
            key = Path(self.ssh_key)
            try:
                with key.open("rb"):
                    pass
            except OSError:
                return Problem("key_unreadable")
        return None


def _invalid_field(config: NasConfig) -> str:
    """The name of the first invalid setting, or an empty string."""
    if not _valid_host(config.host):
        return "NAS_HOST"
    if not USERNAME.match(config.user):
        return "NAS_USER"
    if CONTROL.search(config.path) or config.path.startswith("-"):
        return "NAS_PATH"
    if not 1 <= config.port <= 65535:
        return "NAS_PORT"
    if not 1 <= config.connect_timeout <= 600:
        return "NAS_CONNECT_TIMEOUT"
    if config.bwlimit and not BWLIMIT.match(config.bwlimit):
        return "NAS_BWLIMIT"
    for name, value in (("NAS_SSH_KEY", config.ssh_key), ("NAS_KNOWN_HOSTS", config.known_hosts)):
        if value and (not Path(value).is_absolute() or CONTROL.search(value) or '"' in value):
            return name
    return ""


def _valid_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return bool(HOSTNAME.match(host))
    return True


def default_known_hosts() -> Path:
    """The hub's own known_hosts file (accept-new) when NAS_KNOWN_HOSTS is not set."""
    return Path(settings.VAR_DIR) / "nas_known_hosts"


def load_config() -> NasConfig:
    """The current configuration (settings are read at each call: tests and the admin see changes)."""
    known_hosts = str(getattr(settings, "NAS_KNOWN_HOSTS", "") or "").strip()
    key = str(getattr(settings, "NAS_SSH_KEY", "") or "").strip()
    return NasConfig(
        host=str(settings.NAS_HOST or "").strip(),
        user=str(settings.NAS_USER or "").strip(),
        path=str(settings.NAS_PATH or "").strip(),
        port=int(settings.NAS_PORT or 22),
        ssh_key=str(Path(key).expanduser()) if key else "",
        known_hosts=str(Path(known_hosts).expanduser()) if known_hosts else str(default_known_hosts()),
        strict_host_key=bool(known_hosts),
        connect_timeout=int(settings.NAS_CONNECT_TIMEOUT),
        io_timeout=int(settings.NAS_IO_TIMEOUT),
        bwlimit=str(settings.NAS_BWLIMIT or "").strip(),
    )


def public_config(config: NasConfig) -> dict:
    """What GET /sync/config returns: booleans, host and path; never the key."""
    return {
        "configured": config.configured and not _invalid_field(config),
        "nas_host": bool(config.host),
        "nas_user": bool(config.user),
        "nas_path": bool(config.path),
        "host": config.host or None,
        "path": config.path or None,
    }
