"""Error codes of the product photos: image sync and HO to edge distribution."""

from enum import StrEnum


class PhotoErrorCode(StrEnum):
    IMAGE_INVALID = "IMAGE_INVALID"
