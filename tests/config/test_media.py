"""Local product photos are served from MEDIA_ROOT as it is when the request comes."""

import pytest


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def test_product_photos_are_served_from_the_current_media_root(client, media_root):
    photo = media_root / "products" / "3f1c" / "abc.png"
    photo.parent.mkdir(parents=True)
    photo.write_bytes(b"\x89PNG\r\n\x1a\n-bytes")

    response = client.get("/media/products/3f1c/abc.png")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == photo.read_bytes()


def test_documents_beside_the_photos_are_never_served(client, media_root):
    document = media_root / "documents" / "invoice.pdf"
    document.parent.mkdir(parents=True)
    document.write_bytes(b"%PDF-1.7 private")

    assert client.get("/media/documents/invoice.pdf").status_code == 404
    climbing = client.get("/media/products/../documents/invoice.pdf")
    assert climbing.status_code in (400, 404)  # Django refuses the suspicious path
    assert b"private" not in climbing.content
