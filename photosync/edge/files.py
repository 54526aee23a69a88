"""Getting one photo's bytes from head office into the edge's local folder (in a pool thread).

The bytes go to ``.incoming/<photo id>-<checksum>.part`` while their MD5 is computed; a
broken transfer resumes from the part with ``Range``/``If-Range`` (206). Only bytes whose
MD5 matches head office's checksum are renamed into place (an atomic ``os.replace`` on the
same file system); anything else is deleted. No database access happens here.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from photosync.edge.client import HOClient, HOError, retry_delay

logger = logging.getLogger(__name__)

INCOMING = ".incoming"


@dataclass
class Fetched:
    photo_id: str
    ok: bool
    local_key: str = ""
    checksum: str = ""
    version: int = 0
    bytes_received: int = 0
    error: str = ""
    gone: bool = False  # deleted at head office since it was listed


def local_key_for(item: dict) -> str:
    extension = Path(item.get("object_key") or item.get("filename") or "").suffix.lower()[:10] or ".bin"
    return f"{item['id']}/{item['checksum']}{extension}"


def local_path(root: Path, key: str) -> Path:
    path = (root / key).resolve()
    if root.resolve() not in path.parents:
        raise ValueError(f"unsafe local key {key!r}")
    return path


def fetch_photo(client: HOClient, root: Path, item: dict) -> Fetched:
    """Download, verify and place one photo; never raises for a per-photo problem."""
    photo_id, expected = item["id"], item["checksum"]
    incoming = root / INCOMING
    incoming.mkdir(parents=True, exist_ok=True)
    part = incoming / f"{photo_id}-{expected}.part"
    received = 0
    attempt = 0
    try:
        while True:
            have = part.stat().st_size if part.exists() else 0
            headers = {"Range": f"bytes={have}-", "If-Range": f'"{expected}"'} if have else {}
            try:
                with contextlib.closing(client.open_download(photo_id, headers)) as response:
                    if response.status_code == 404:
                        return Fetched(photo_id, False, error="deleted at head office since it was listed", gone=True)
                    if response.status_code == 416:
                        part.unlink(missing_ok=True)
                        continue
                    if response.status_code not in (200, 206):
                        response.read()
                        raise HOError(f"download answered {response.status_code}", status=response.status_code)
                    resuming = response.status_code == 206 and _starts_at(response, have)
                    md5 = _hash_file(part) if resuming else hashlib.md5(usedforsecurity=False)
                    header_checksum = response.headers.get("X-Checksum", "").lower()
                    header_version = response.headers.get("X-Version", "")
                    with open(part, "ab" if resuming else "wb") as handle:
                        for chunk in response.iter_bytes():
                            handle.write(chunk)
                            md5.update(chunk)
                            received += len(chunk)
                        handle.flush()
                        os.fsync(handle.fileno())
                break
            except httpx.TransportError as exc:  # the body broke off: resume from the part
                if attempt >= client.retries:
                    raise HOError(f"download kept failing: {exc}", transient=True) from exc
                delay = retry_delay(attempt)
                attempt += 1
                logger.info("download of %s broke off (%s); resuming in %.2fs", photo_id, exc, delay)
                time.sleep(delay)
        actual = md5.hexdigest()
        # The bytes must match what head office says they are (a newer version than listed is fine).
        wanted = header_checksum or expected
        if actual != wanted:
            part.unlink(missing_ok=True)
            return Fetched(
                photo_id, False, bytes_received=received, error=f"checksum mismatch: expected {wanted}, got {actual}"
            )
        checksum = actual
        version = int(header_version) if header_version.isdigit() else int(item["version"])
        key = local_key_for({**item, "checksum": checksum})
        target = local_path(root, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, target)
        return Fetched(photo_id, True, key, checksum, version, received)
    except HOError as exc:
        return Fetched(photo_id, False, bytes_received=received, error=str(exc))
    except OSError as exc:
        part.unlink(missing_ok=True)
        return Fetched(photo_id, False, bytes_received=received, error=f"local storage: {exc}")
    except Exception as exc:  # one photo's surprise must not stop the pass; it is reported as failed
        logger.exception("download of %s failed", photo_id)
        part.unlink(missing_ok=True)
        return Fetched(photo_id, False, bytes_received=received, error=f"{type(exc).__name__}: {exc}")


def _starts_at(response: httpx.Response, offset: int) -> bool:
    content_range = response.headers.get("Content-Range", "")
    return content_range.startswith(f"bytes {offset}-")


def _hash_file(path: Path):
    md5 = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            md5.update(chunk)
    return md5


def remove_file(root: Path, key: str) -> None:
    if not key:
        return
    try:
        local_path(root, key).unlink(missing_ok=True)
    except (OSError, ValueError):
        logger.warning("could not remove the local file %s", key, exc_info=True)
