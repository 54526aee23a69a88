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


def test_renditions_follow_the_exif_orientation_each_from_the_size_above(settings):
    settings.IMAGE_RENDITIONS = {"thumb": 100, "medium": 200, "large": 800}
    image = Image.new("RGB", (300, 200), "orange")
    image.paste("blue", (0, 0, 30, 30))  # a mark in the top-left corner
    exif = image.getexif()
    exif[0x0112] = 6  # Orientation: the camera was turned; shown rotated 90 degrees clockwise
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif, quality=95)
    _, decoded = open_image(io.BytesIO(buffer.getvalue()))

    renditions = {r.name: r for r in make_renditions(decoded)}

    sizes = {name: (r.width, r.height, r.shared_with) for name, r in renditions.items()}
    assert sizes == {"thumb": (67, 100, None), "medium": (133, 200, None), "large": (200, 300, None)}
    for rendition in renditions.values():
        shown = Image.open(io.BytesIO(rendition.data))
        assert (shown.format, shown.size) == ("WEBP", (rendition.width, rendition.height))
        red, green, blue = shown.convert("RGB").getpixel((shown.width - 2, 1))  # the mark is now top-right
        assert blue > 150 and red < 100, (rendition.name, (red, green, blue))


MEASURE = """
import io, json, resource, sys
import django
django.setup()
from photosync.imagesync import images
data = open(sys.argv[1], "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
outcome = "processed"
try:
    with images.decode_slot():
        info, image = images.open_image(io.BytesIO(data))
        sizes = [(r.width, r.height) for r in images.make_renditions(image)]
        image.close()
except images.InvalidImage as exc:
    outcome, sizes = str(exc.code), []
growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"outcome": outcome, "growth_mb": growth / 1024, "sizes": sizes}))
"""


def peak_memory(path, **env) -> dict:
    """The intake of one image in a fresh process: its outcome and its peak RSS growth (MB).
    Pillow allocates pixels outside Python's allocator, where tracemalloc does not see them."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    environment = {**os.environ, "PYTHONPATH": str(root), "DJANGO_SETTINGS_MODULE": "config.settings", **env}
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)], env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_small_png_of_40_megapixels_is_refused_before_it_is_decoded(tmp_path):
    from tests.photosync.imagesync.test_sync import pixel_bomb_png

    path = tmp_path / "bomb.png"
    path.write_bytes(pixel_bomb_png())
    assert path.stat().st_size < 200_000

    refused = peak_memory(path)
    assert refused["outcome"] == "IMAGE_TOO_LARGE" and refused["growth_mb"] < 20, refused
    # With a budget that lets it through, decoding and resizing stay under 200 MB (160 MB of pixels).
    processed = peak_memory(path, IMAGE_MAX_DECODED_BYTES="200000000")
    assert processed["outcome"] == "processed" and processed["growth_mb"] < 200, processed
    assert processed["sizes"] == [[200, 200], [800, 800]]


def test_a_large_jpeg_is_decoded_at_a_reduced_scale(tmp_path):
    path = tmp_path / "camera.jpg"
    Image.new("RGB", (6000, 4000), "teal").save(path, "JPEG", quality=85)  # 96 MB at full scale

    measured = peak_memory(path)

    assert measured["outcome"] == "processed" and measured["growth_mb"] < 40, measured
    assert measured["sizes"] == [[200, 133], [800, 533]]
