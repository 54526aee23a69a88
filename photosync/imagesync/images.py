"""Image safety and derived images: validation with Pillow, WebP renditions, placeholders.

Nothing here trusts the shop: the format and content type come from the bytes, the
pixel count is bounded before anything is decoded (decompression bombs), ``verify()``
checks the structure and a full decode catches truncated files.

Memory is bounded as well as pixels: a small compressible PNG can decode to hundreds of
megabytes. A JPEG is decoded at the reduced scale its DCT allows (1/2 to 1/8, never below
the largest rendition); what would still be decoded (pixels x bytes per pixel, plus a
colour conversion) is refused above ``IMAGE_MAX_DECODED_BYTES`` before any pixel is; and
at most ``IMAGE_DECODE_CONCURRENCY`` images are decoded at once per process
(:func:`decode_slot`), so a worker's image memory stays under their product.
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
import textwrap
import threading
from dataclasses import dataclass
from typing import BinaryIO

from django.conf import settings
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from catalog.error_codes import CatalogErrorCode
from config.errors import DomainError
from photosync.error_codes import PhotoErrorCode

# Pillow format -> (content type, file extension). Anything else is refused.
ALLOWED_FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "GIF": ("image/gif", "gif"),
    "WEBP": ("image/webp", "webp"),
}
RENDITION_FORMAT = ("WEBP", "image/webp", "webp")
WEBP_METHOD = 0  # encoder effort 0-6: 0 is three times as fast as the default 4, files about 20% larger
PLACEHOLDER_SIZE = 200  # the default thumbnail size: one rendition to encode
MARKUP_PREFIXES = (b"<", b"{", b"[")
RESIZABLE_MODES = ("RGB", "RGBA", "L", "LA")  # others go through a full-size conversion first


class InvalidImage(DomainError):
    """The bytes are not an image we accept; the message says why. The product's sync fails
    with this code; a run that failed on it answers 502 (the shop sent the bytes)."""

    code = PhotoErrorCode.IMAGE_INVALID
    http_status = 502

    def __init__(self, message: str):
        super().__init__(message=message)


class ImageTooLarge(InvalidImage):
    """Decoding the image would take more memory than ``IMAGE_MAX_DECODED_BYTES``."""

    code = CatalogErrorCode.IMAGE_TOO_LARGE


@dataclass(frozen=True)
class ImageInfo:
    format: str
    content_type: str
    extension: str
    width: int
    height: int


@dataclass(frozen=True)
class Rendition:
    name: str
    data: bytes
    width: int
    height: int
    shared_with: str | None = None


def open_image(file: BinaryIO) -> tuple[ImageInfo, Image.Image]:
    """Check that ``file`` holds a sane image; returns its facts and the decoded image.

    Raises :class:`InvalidImage` for markup or text served as an image, unknown formats,
    too many pixels, and corrupt or truncated data.
    """
    file.seek(0)
    head = file.read(64).lstrip()
    if head.startswith(MARKUP_PREFIXES):
        raise InvalidImage("The shop sent an HTML or text page instead of an image.")
    file.seek(0)
    formats = list(ALLOWED_FORMATS)  # only these decoders are tried
    try:
        with Image.open(file, formats=formats) as probe:
            info = _info(probe)
            probe.verify()
        file.seek(0)
        image = Image.open(file, formats=formats)
        try:
            largest = max(settings.IMAGE_RENDITIONS.values())
            image.draft(image.mode, (largest, largest))  # JPEG: decode at 1/2..1/8 scale
            _check_decoded_size(image)
            image.load()  # a full decode: truncated or corrupt pixel data fails here
        except BaseException:
            image.close()
            raise
    except InvalidImage:
        raise
    except Image.DecompressionBombError as exc:
        raise InvalidImage(f"The image has too many pixels ({exc}).") from None
    except UnidentifiedImageError:
        raise InvalidImage("The bytes are not an image in a supported format (JPEG, PNG, GIF, WebP).") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
        raise InvalidImage(f"The bytes are not a valid image ({type(exc).__name__}: {exc}).") from None
    return info, image


def _info(probe: Image.Image) -> ImageInfo:
    if probe.format not in ALLOWED_FORMATS:
        raise InvalidImage(f"Unsupported image format {probe.format!r}.")
    width, height = probe.size
    if width <= 0 or height <= 0:
        raise InvalidImage("The image has no pixels.")
    if width * height > settings.IMAGE_MAX_PIXELS:
        raise InvalidImage(f"The image has {width}x{height} pixels, over the {settings.IMAGE_MAX_PIXELS} limit.")
    content_type, extension = ALLOWED_FORMATS[probe.format]
    return ImageInfo(probe.format, content_type, extension, width, height)


def decoded_bytes(image: Image.Image) -> int:
    """Memory that decoding ``image`` (at its draft size) and preparing its renditions takes:
    Pillow keeps 1 byte per pixel for "1", "L" and "P", 2 for 16-bit modes and 4 for the
    others (RGB included); a mode we cannot resize in adds a full-size RGB(A) copy."""
    mode = image.mode
    per_pixel = 1 if mode in ("1", "L", "P") else 2 if mode.startswith("I;16") else 4
    if mode not in RESIZABLE_MODES:
        per_pixel += 4
    return image.width * image.height * per_pixel


def _check_decoded_size(image: Image.Image) -> None:
    needed, budget = decoded_bytes(image), settings.IMAGE_MAX_DECODED_BYTES
    if needed > budget:
        raise ImageTooLarge(
            f"The image would take {needed // 1_000_000} MB of memory to decode ({image.width}x{image.height} "
            f"{image.mode}), over the {budget // 1_000_000} MB limit (IMAGE_MAX_DECODED_BYTES)."
        )


@functools.cache
def _decode_slots(count: int) -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(max(1, count))


def decode_slot() -> threading.BoundedSemaphore:
    """Hold while an image is decoded and its renditions made: at most
    ``IMAGE_DECODE_CONCURRENCY`` at once in this process, whatever the pool's size."""
    return _decode_slots(settings.IMAGE_DECODE_CONCURRENCY)


def _rendition_mode(image: Image.Image) -> str:
    return "RGBA" if "A" in image.mode or "transparency" in image.info else "RGB"


def make_renditions(image: Image.Image) -> list[Rendition]:
    """The configured WebP sizes (``settings.IMAGE_RENDITIONS``), never larger than the original,
    all from the one decoded ``image`` (close it afterwards).

    ``image`` is shrunk in place to the largest size first, so its full-size pixels are
    released before anything else (rotation by its EXIF orientation comes after: the boxes
    are square). Each smaller size is then resized from the one above it, with the
    dimensions Pillow's ``thumbnail`` gives the largest one, and no copy of the pixels is
    made. Sizes that come out the same (a small original fits every box) are encoded once;
    ``shared_with`` names the smallest rendition of that size, whose object they reuse.
    """
    sizes = sorted(settings.IMAGE_RENDITIONS.items(), key=lambda item: item[1])
    if image.mode not in RESIZABLE_MODES:
        image = image.convert(_rendition_mode(image))
    image.thumbnail((sizes[-1][1], sizes[-1][1]))
    ImageOps.exif_transpose(image, in_place=True)
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert(_rendition_mode(image))
    largest = image.size
    encoded: dict[tuple[int, int], bytes] = {}
    for _, longest_side in reversed(sizes):
        fitted = thumbnail_size(largest, longest_side)
        if fitted != image.size:
            image = image.resize(fitted, Image.Resampling.BICUBIC, reducing_gap=2.0)  # as thumbnail() does
        if fitted not in encoded:
            encoded[fitted] = _webp(image)
    owners: dict[tuple[int, int], str] = {}
    renditions = []
    for name, longest_side in sizes:
        fitted = thumbnail_size(largest, longest_side)
        owner = owners.setdefault(fitted, name)
        renditions.append(Rendition(name, encoded[fitted], *fitted, shared_with=None if owner == name else owner))
    return renditions


def thumbnail_size(size: tuple[int, int], side: int) -> tuple[int, int]:
    """What ``Image.thumbnail((side, side))`` makes of ``size``: never larger, the aspect kept,
    each length rounded up or down, whichever keeps the aspect closer (Pillow's rule)."""
    width, height = size
    if width <= side and height <= side:
        return size
    aspect = width / height
    if aspect <= 1:
        candidates = (math.floor(side * aspect), math.ceil(side * aspect))
        return max(min(candidates, key=lambda n: abs(aspect - n / side)), 1), side
    candidates = (math.floor(side / aspect), math.ceil(side / aspect))
    return side, max(min(candidates, key=lambda n: abs(aspect - side / n) if n else 0), 1)


def _webp(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, RENDITION_FORMAT[0], quality=settings.IMAGE_WEBP_QUALITY, method=WEBP_METHOD)
    return buffer.getvalue()


def placeholder(name: str) -> tuple[bytes, ImageInfo, Image.Image]:
    """A PNG showing the product's name on a colour derived from it: the same name, the same bytes.

    Returns the bytes, their facts and the drawn image (no need to decode what we just drew).
    """
    digest = hashlib.md5(name.encode(), usedforsecurity=False).digest()
    background = tuple(150 + b % 90 for b in digest[:3])
    image = Image.new("RGB", (PLACEHOLDER_SIZE, PLACEHOLDER_SIZE), background)
    draw = ImageDraw.Draw(image)
    text = "\n".join(textwrap.wrap(name.strip() or "No image", width=16)[:6])
    draw.multiline_text(
        (PLACEHOLDER_SIZE / 2, PLACEHOLDER_SIZE / 2), text, fill=(40, 40, 40), font=_font(), anchor="mm", align="center"
    )
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    info = ImageInfo("PNG", *ALLOWED_FORMATS["PNG"], PLACEHOLDER_SIZE, PLACEHOLDER_SIZE)
    return buffer.getvalue(), info, image


@functools.cache
def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=18)
