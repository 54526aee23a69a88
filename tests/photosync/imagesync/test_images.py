"""Image safety checks and derived images (Pillow), on real encoded bytes."""

import io

import pytest
from PIL import Image

from photosync.imagesync.images import InvalidImage, make_renditions, open_image, placeholder


def encoded(fmt: str, size=(300, 200), mode="RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, "orange").save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("fmt", "content_type", "extension"),
    [
        ("JPEG", "image/jpeg", "jpg"),
        ("PNG", "image/png", "png"),
        ("GIF", "image/gif", "gif"),
        ("WEBP", "image/webp", "webp"),
    ],
)
def test_the_type_comes_from_the_bytes(fmt, content_type, extension):
    info, image = open_image(io.BytesIO(encoded(fmt)))
    assert (info.content_type, info.extension, info.width, info.height) == (content_type, extension, 300, 200)
    image.close()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<!DOCTYPE html><html><body>404</body></html>", "HTML"),
        (b'{"errors": [{"code": 5}]}', "HTML or text"),
        (encoded("JPEG")[:300], "not a valid image"),  # truncated
        (encoded("PNG")[:-30], "not a valid image"),  # truncated
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "not an image in a supported format"),  # a signature, then garbage
        (encoded("BMP"), "not an image in a supported format"),
        (encoded("TIFF"), "not an image in a supported format"),
        (b"", "not an image in a supported format"),
    ],
)
def test_what_is_not_a_sane_image_is_refused(data, reason):
    with pytest.raises(InvalidImage, match=reason):
        open_image(io.BytesIO(data))


def test_a_decompression_bomb_is_refused_before_decoding(settings):
    settings.IMAGE_MAX_PIXELS = 10_000
    with pytest.raises(InvalidImage, match="pixels"):
        open_image(io.BytesIO(encoded("PNG", (120, 100))))  # over the limit: refused from the header
    with pytest.raises(InvalidImage, match="pixels"):
        open_image(io.BytesIO(encoded("PNG", (1000, 1000), mode="1")))  # far over: Pillow's own bomb error


def test_renditions_are_webp_within_their_size_and_never_upscaled(settings):
    settings.IMAGE_RENDITIONS = {"thumb": 100, "medium": 800}
    _, image = open_image(io.BytesIO(encoded("PNG", (400, 200), mode="P")))
    renditions = {r.name: r for r in make_renditions(image)}
    assert (renditions["thumb"].width, renditions["thumb"].height) == (100, 50)
    assert (renditions["medium"].width, renditions["medium"].height) == (400, 200)
    for rendition in renditions.values():
        assert Image.open(io.BytesIO(rendition.data)).format == "WEBP" and rendition.shared_with is None


def test_the_placeholder_is_a_png_drawn_from_the_name():
    (first, drawn_info, _), (again, _, _) = placeholder("Blue mug"), placeholder("Blue mug")
    assert first == again != placeholder("Red mug")[0]
    info, _ = open_image(io.BytesIO(first))
    assert info == drawn_info and (info.content_type, info.width, info.height) == ("image/png", 200, 200)


def test_renditions_of_the_same_size_are_encoded_once(settings):
    settings.IMAGE_RENDITIONS = {"thumb": 200, "medium": 800}
    _, image = open_image(io.BytesIO(encoded("JPEG", (200, 150))))
    thumb, medium = make_renditions(image)
    assert (thumb.name, thumb.shared_with, medium.name, medium.shared_with) == ("thumb", None, "medium", "thumb")
    assert medium.data == thumb.data and (medium.width, medium.height) == (200, 150)
