"""Safe stored names and type detection by the file's bytes."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nasync.files import MAX_NAME_BYTES, detect_content_type, safe_filename

from .conftest import JPEG, PNG, TIFF, pdf_bytes


@pytest.mark.parametrize(
    ("head", "content_type"),
    [
        (pdf_bytes(100), "application/pdf"),
        (JPEG, "image/jpeg"),
        (PNG, "image/png"),
        (TIFF, "image/tiff"),
        (b"MM\x00*\x00\x00", "image/tiff"),
        (b"GIF89a", None),
        (b"<html>", None),
        (b"PK\x03\x04", None),
        (b"", None),
    ],
)
def test_types_are_recognised_by_their_bytes(head, content_type):
    assert detect_content_type(head) == content_type


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("invoice.pdf", "invoice.pdf"),
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\x\\facture.pdf", "facture.pdf"),
        ("-rf --delete.pdf", "rf --delete.pdf"),
        ("--.pdf", "pdf.pdf"),
        ("a 'b' \"c\".pdf", "a 'b' _c_.pdf"),
        ("line\nbreak\r\t.pdf", "line break.pdf"),
        ("facture é ü 日本.pdf", "facture é ü 日本.pdf"),
        ("evil\u202etxt.pdf", "eviltxt.pdf"),
        ("..", "document.pdf"),
        ("", "document.pdf"),
        ("$(touch pwned);`id`.pdf", "$(touch pwned);`id`.pdf"),
        ("invoice.exe", "invoice.exe.pdf"),
        ("invoice.PDF", "invoice.PDF"),
    ],
)
def test_names_are_made_safe(sent, stored):
    assert safe_filename(sent, "application/pdf") == stored


def test_the_extension_follows_the_detected_type():
    assert safe_filename("scan.pdf", "image/png") == "scan.pdf.png"
    assert safe_filename("photo.jpeg", "image/jpeg") == "photo.jpeg"
    assert safe_filename("scan.tif", "image/tiff") == "scan.tif"


def test_long_names_are_cut_on_a_character_boundary():
    name = safe_filename("é" * 400 + ".pdf", "application/pdf")
    assert name.endswith(".pdf") and len(name.encode()) <= MAX_NAME_BYTES
    name.encode("utf-8")  # still valid UTF-8


@given(st.text())
def test_any_name_becomes_a_single_safe_path_part(sent):
    name = safe_filename(sent, "application/pdf")
    assert name and "/" not in name and "\\" not in name and "\x00" not in name
    assert not name.startswith(("-", ".", " "))
    assert not any(ord(ch) < 32 or ord(ch) == 127 for ch in name)
    assert len(name.encode()) <= MAX_NAME_BYTES and name.endswith(".pdf")
