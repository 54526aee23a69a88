"""Product photos are served only through the links the hub signs, and only while they are live:
signed, expiring URLs on local storage (served by the hub), presigned URLs on a private S3 bucket."""

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.utils.encoding import filepath_to_uri

from photosync.imagesync.storage import object_url
from tests.photosync.conftest import make_photo  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


@pytest.fixture
def photo(media_root, store, make_photo):  # noqa: F811
    return make_photo(store)


def stored(media_root, photo) -> bytes:
    return (media_root / photo.object_key).read_bytes()


def test_a_signed_link_serves_the_photo_from_the_current_media_root(client, media_root, photo):
    url = object_url(photo.object_key)
    assert url.startswith("/media/products/") and "signature=" in url and "expires=" in url

    response = client.get(url)

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == stored(media_root, photo)
    assert "private" in response["Cache-Control"]


def test_an_unsigned_link_is_refused(client, photo):
    response = client.get(f"/media/{photo.object_key}")
    assert response.status_code == 403
    assert response.json()["code"] == "PERMISSION_DENIED"


def test_an_expired_link_is_refused(client, photo, settings):
    settings.MEDIA_URL_EXPIRE = -1  # a link that expired a second ago
    response = client.get(object_url(photo.object_key))
    assert response.status_code == 403
    assert response.json()["status"] == "error"


def test_an_altered_link_is_refused(client, photo, make_photo, store):  # noqa: F811
    url = object_url(photo.object_key)
    path, query = url.split("?")
    params = parse_qs(query)
    later = str(int(params["expires"][0]) + 86400)
    assert client.get(f"{path}?expires={later}&signature={params['signature'][0]}").status_code == 403
    assert client.get(url[:-1] + ("0" if url[-1] != "0" else "1")).status_code == 403
    other = make_photo(store)  # another photo's path with this photo's signature
    assert client.get(f"/media/{other.object_key}?{query}").status_code == 403


def test_a_deleted_products_photo_is_gone_even_with_a_signed_link(client, photo):
    url = object_url(photo.object_key)
    photo.product.delete()  # the photo becomes a tombstone; its object stays in storage

    response = client.get(url)

    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"


def test_renditions_are_served_by_signed_link_and_a_replaced_image_is_not(client, media_root, photo):
    from photosync.imagesync.storage import put_object, rendition_key

    thumb = rendition_key(photo.product.uuid, photo.checksum, "thumb")
    put_object(thumb, b"RIFF-webp-bytes", 15)
    assert client.get(object_url(thumb)).status_code == 200

    stale_key = f"products/{photo.product.uuid}/{'0' * 32}.jpg"  # an earlier image of the product
    put_object(stale_key, b"old", 3)
    assert client.get(object_url(stale_key)).status_code == 404


def test_documents_beside_the_photos_are_never_served(client, media_root):
    document = media_root / "documents" / "invoice.pdf"
    document.parent.mkdir(parents=True)
    document.write_bytes(b"%PDF-1.7 private")

    assert client.get("/media/documents/invoice.pdf").status_code == 404
    climbing = client.get("/media/products/../documents/invoice.pdf")
    assert climbing.status_code in (400, 403, 404)
    assert b"private" not in climbing.content


def test_on_s3_links_are_presigned_and_the_bucket_refuses_unsigned_reads(s3_storage, store, make_photo):  # noqa: F811
    photo = make_photo(store)
    url = object_url(photo.object_key)
    assert "X-Amz-Signature=" in url or "Signature=" in url

    assert httpx.get(url).content == s3_storage.get(photo.object_key)
    parts = urlsplit(url)
    unsigned = httpx.get(f"{parts.scheme}://{parts.netloc}{parts.path}")
    assert unsigned.status_code == 403


def test_links_carry_djangos_media_signature_so_links_signed_before_stay_valid(media_root):
    from django.core.signing import Signer

    from photosync.imagesync.storage import media_signer, object_url_maker

    signer = Signer(salt="photosync.media")
    for message in ("products/a/b.jpg:1764780000", "products/é ü/x y.jpg:1", ""):
        assert media_signer()(message) == signer.signature(message)

    url_for = object_url_maker()
    safe, odd = (
        "products/1b4e28ba-2fa1-11d2-883f-0016d3cca427/0cc175b9c0f1b6a831c399e269772661.jpg",
        "products/a b/é#.jpg",
    )
    for key in (safe, odd):
        path, query = url_for(key).split("?")
        expires = parse_qs(query)["expires"][0]
        assert path == f"/media/{filepath_to_uri(key)}"
        assert parse_qs(query)["signature"][0] == signer.signature(f"{key}:{expires}")
