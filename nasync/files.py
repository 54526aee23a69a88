"""Uploaded documents: their type from their bytes, safe stored names, the upload size limit."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import PurePosixPath

from django.core.files.uploadhandler import FileUploadHandler

from config.error_codes import ErrorCode
from config.errors import DomainError
from nasync.messages import UPLOAD_TOO_LARGE

# Accepted types, recognised by their first bytes (the client's Content-Type is ignored).
SIGNATURES: list[tuple[bytes, str]] = [
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"II+\x00", "image/tiff"),  # BigTIFF
    (b"MM\x00+", "image/tiff"),
]
EXTENSIONS = {
    "application/pdf": (".pdf",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
    "image/tiff": (".tif", ".tiff"),
}
# Stored names stay well under the 255-byte limit of NAS file systems, leaving room for
# the suffix the storage adds to a name already taken.
MAX_NAME_BYTES = 180
# Characters SMB shares (how a NAS is usually read) refuse, replaced by "_".
SMB_RESERVED = re.compile(r'[<>:"|?*]')


def detect_content_type(head: bytes) -> str | None:
    """The document type of a file from its first bytes, or None when it is not accepted."""
    for signature, content_type in SIGNATURES:
        if head.startswith(signature):
            return content_type
    return None


def safe_filename(name: str, content_type: str) -> str:
    """A file name safe on the NAS and on any command line, whatever the client sent.

    No path parts (``/``, ``\\``, ``..``), no control or invisible format characters
    (newlines, bidi overrides), no leading dash or dot, no characters SMB refuses,
    at most ``MAX_NAME_BYTES`` UTF-8 bytes, and an extension matching the detected type.
    Spaces, quotes and non-ASCII letters are kept: the name reaches rsync in a NUL
    separated list, never through a shell.
    """
    name = unicodedata.normalize("NFC", str(name or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(" " if ch.isspace() else ch for ch in name if unicodedata.category(ch)[0] != "C" or ch.isspace())
    name = SMB_RESERVED.sub("_", name)
    name = re.sub(r" {2,}", " ", name).strip()
    name = name.lstrip("-. ").rstrip(". ")
    stem, suffix = _split_extension(name)
    extensions = EXTENSIONS[content_type]
    if suffix.lower() not in extensions:
        stem, suffix = name, extensions[0]
    stem = stem.rstrip(". ") or "document"
    room = MAX_NAME_BYTES - len(suffix.encode())
    encoded = stem.encode()
    if len(encoded) > room:
        stem = encoded[:room].decode(errors="ignore").rstrip(". ") or "document"
    return f"{stem}{suffix}"


def _split_extension(name: str) -> tuple[str, str]:
    suffix = PurePosixPath(name).suffix if name else ""
    if not suffix or len(suffix) > 6:
        return name, ""
    return name[: -len(suffix)], suffix


def sha256_of(uploaded) -> str:
    digest = hashlib.sha256()
    for chunk in uploaded.chunks():
        digest.update(chunk)
    uploaded.seek(0)
    return digest.hexdigest()


class UploadTooLarge(DomainError):
    """The upload passed NAS_MAX_UPLOAD_BYTES: 413 in the error envelope, wherever the body is read."""

    def __init__(self, limit: int):
        self.limit = limit
        super().__init__(ErrorCode.PAYLOAD_TOO_LARGE, 413, str(UPLOAD_TOO_LARGE) % {"limit": limit})


# Multipart framing around the file (boundaries, headers, the other small fields).
MULTIPART_ALLOWANCE = 64 * 1024


class SizeLimitUploadHandler(FileUploadHandler):
    """First upload handler of a document request: refuses a body or a file over the limit.

    The declared length is checked before anything is read; the bytes of every file part
    are counted as they stream (a client may lie or send chunked), so no more than the
    limit is ever written to the temporary files of the next handler.
    """

    def __init__(self, request=None, *, limit: int):
        super().__init__(request)
        self.limit = limit
        self.received = 0

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > self.limit + MULTIPART_ALLOWANCE:
            raise UploadTooLarge(self.limit)
        return None

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            raise UploadTooLarge(self.limit)
        return raw_data

    def file_complete(self, file_size):
        return None
