"""Every sentence the NAS sync shows, in English with French translations (locale/fr).

Workers record a :class:`Problem` (a code and its parameters), never a sentence: the API
renders it in the language of the request (``Accept-Language: fr``), the admin and the
document rows keep the English text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

TEMPLATES = {
    "not_configured": _("NAS sync is not configured. Set NAS_HOST, NAS_USER and NAS_PATH in the .env file"),
    "invalid_config": _("The NAS configuration is invalid: check %(setting)s"),
    "key_unreadable": _("The SSH key file (NAS_SSH_KEY) cannot be read"),
    "key_unprotected": _("ssh refuses the SSH key file (NAS_SSH_KEY): other users can read it (chmod 600)"),
    "tools_missing": _("rsync or ssh is not installed on the hub"),
    "connected": _("Connection successful"),
    "permission_denied": _("Connection failed: %(reason)s"),
    "timeout": _("Connection timeout (%(seconds)ss)"),
    "unreachable": _("Host unreachable: %(reason)s"),
    "host_key": _("Host key verification failed for %(host)s (check NAS_KNOWN_HOSTS)"),
    "path_missing": _("Destination path not found on the NAS: %(path)s"),
    "path_not_writable": _("Destination path is not writable: %(path)s"),
    "remote_rsync_missing": _("rsync is not available on the NAS for this user"),
    "connection_lost": _("Connection to the NAS lost during the transfer (rsync exit %(code)s)"),
    "io_timeout": _("The transfer stalled for %(seconds)ss and was stopped"),
    "disk_full": _("No space left on the NAS"),
    "rsync_error": _("rsync failed (exit %(code)s): %(reason)s"),
    "synced_to": _("Synced to %(host)s"),
    "source_missing": _("source file not found"),
    "not_transferred": _("not transferred: %(reason)s"),
    "file_error": "%(reason)s",
}

# Problems about one document; every other code stops the run (the NAS is not usable).
DOCUMENT_CODES = frozenset({"source_missing", "not_transferred", "file_error"})


@dataclass(frozen=True)
class Problem:
    code: str
    params: dict = field(default_factory=dict)

    @property
    def fatal(self) -> bool:
        return self.code not in DOCUMENT_CODES

    def text(self) -> str:
        """The sentence in the active language."""
        template = TEMPLATES.get(self.code, "%(reason)s")
        try:
            return str(template) % self.params if self.params else str(template)
        except (KeyError, TypeError, ValueError):
            return str(template)

    def english(self) -> str:
        with translation.override("en"):
            return self.text()

    def as_dict(self) -> dict:
        return {"code": self.code, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: dict | None) -> Problem | None:
        if not data or "code" not in data:
            return None
        return cls(str(data["code"]), dict(data.get("params") or {}))

    def __str__(self) -> str:
        return self.english()


def document_line(document_id, problem: Problem) -> str:
    """``Document 42: source file not found`` in the active language."""
    return gettext("Document %(id)s: %(reason)s") % {"id": document_id, "reason": problem.text()}


def render_error(entry: dict) -> str:
    """A job error entry (see services) as a sentence in the active language."""
    problem = Problem.from_dict(entry) or Problem("file_error", {"reason": entry.get("message", "")})
    if entry.get("document_id") is not None:
        return document_line(entry["document_id"], problem)
    return problem.text()


# Sentences of the API that are not problems.
IN_PROGRESS = _("A NAS sync is already in progress.")
QUEUED = _("NAS sync queued; follow it at the run's URL.")
DOCUMENT_NOT_FOUND = _("Document not found.")
RUN_NOT_FOUND = _("Run not found.")
UPLOAD_TOO_LARGE = _("The file is larger than the limit of %(limit)s bytes.")
UPLOAD_UNSUPPORTED = _("Unsupported file type: only PDF, JPEG, PNG and TIFF documents are accepted.")
UPLOAD_EMPTY = _("The file is empty.")
UPLOAD_MISSING = _('No file was sent (multipart field "file").')
