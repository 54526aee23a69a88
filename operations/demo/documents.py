"""The demo's NAS documents: a few small invoices, uploaded once through the upload service."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from nasync.models import Document
from nasync.services import document_create


def _demo_pdf(number: int) -> bytes:
    """A small, valid one-page PDF invoice."""
    text = f"BT /F1 18 Tf 72 720 Td (Demo invoice {number:04d}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for index, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (index, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def ensure_demo_documents(count: int = 3) -> int:
    """A few demo invoices (once); returns how many demo documents exist."""
    existing = Document.objects.filter(original_name__startswith="demo-invoice-").count()
    for number in range(existing + 1, count + 1):
        document_create(uploaded=SimpleUploadedFile(f"demo-invoice-{number:04d}.pdf", _demo_pdf(number)))
    return max(existing, count)
