"""Fixtures for the NAS document tests: real sshd and rsync come from tests/plugins/sshd.py."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.roles import Role
from nasync import services
from nasync.models import Document

NAS_SETTINGS = ("NAS_HOST", "NAS_USER", "NAS_PATH", "NAS_SSH_KEY", "NAS_KNOWN_HOSTS", "NAS_BWLIMIT")


@pytest.fixture(autouse=True)
def _nas_not_configured(settings):
    """Nothing from a developer's .env: a test configures the NAS with the ``nas`` fixture.
    Each test starts without stored documents."""
    shutil.rmtree(Path(settings.MEDIA_ROOT) / "documents", ignore_errors=True)
    for name in NAS_SETTINGS:
        setattr(settings, name, "")
    settings.NAS_PORT = 22
    settings.NAS_CONNECT_TIMEOUT = 15


def pdf_bytes(size: int = 2000, seed: str = "x") -> bytes:
    """A PDF-looking file of ``size`` bytes, different for each seed (random-like content)."""
    head = b"%PDF-1.7\n"
    body = bytearray()
    counter = 0
    while len(head) + len(body) < size:
        body += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return (head + bytes(body))[:size]


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
TIFF = b"II*\x00" + b"\x00" * 64


def uploaded(name: str, content: bytes, content_type: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.fixture
def make_document(db):
    counter = iter(range(1, 1_000_000))

    def make(name: str | None = None, content: bytes | None = None, **fields) -> Document:
        number = next(counter)
        document = services.document_create(
            uploaded=uploaded(name or f"invoice-{number}.pdf", content or pdf_bytes(1500 + number, str(number)))
        )
        if fields:
            Document.objects.filter(pk=document.pk).update(**fields)
            document.refresh_from_db()
        return document

    return make


def stored_path(document: Document) -> str:
    from django.core.files.storage import default_storage

    return default_storage.path(document.file.name)


def remove_source(document: Document) -> None:
    os.remove(stored_path(document))


@pytest.fixture
def operator(make_user):
    return make_user("operator", role=Role.OPERATOR)


@pytest.fixture
def viewer(make_user):
    return make_user("viewer", role=Role.VIEWER)
