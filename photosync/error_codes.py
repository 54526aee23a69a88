"""Error codes of the product photos: image sync and HO to edge distribution."""

from enum import StrEnum


class PhotoErrorCode(StrEnum):
    IMAGE_INVALID = "IMAGE_INVALID"  # the shop's bytes are not an image we accept
    CHUNK_ABANDONED = "CHUNK_ABANDONED"  # a chunk kept killing its workers: its products fail
