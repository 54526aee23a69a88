"""Error codes of the NAS document sync."""

from enum import StrEnum


class NasErrorCode(StrEnum):
    NAS_NOT_CONFIGURED = "NAS_NOT_CONFIGURED"
