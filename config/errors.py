"""One error dialect: a :class:`DomainError` carries its machine code, HTTP status, message and detail.

Services raise it (or a subclass that fixes ``code`` and ``http_status``); the single DRF
exception handler (``config.api.exceptions``) renders it as the error envelope, and jobs
record its ``code`` in their ``error_code`` column. Nothing translates codes twice.
"""

from __future__ import annotations

from enum import StrEnum

from config.error_codes import ErrorCode


class DomainError(Exception):
    """An error a caller can act on: ``DomainError(code, http_status, message, detail)``.

    Subclasses set ``code`` and ``http_status`` as class attributes and may take only a message.
    """

    code: str = ErrorCode.VALIDATION_ERROR
    http_status: int = 400
    default_message: str = "The request could not be processed."

    def __init__(self, code: str | None = None, http_status: int | None = None, message: str = "", detail=None) -> None:
        if code is not None:
            self.code = str(code)
        if http_status is not None:
            self.http_status = http_status
        self.message = message or self.default_message
        self.detail = detail
        super().__init__(self.message)


_code_enums: dict[str, type[StrEnum]] = {"config": ErrorCode}


def register_error_codes(app_label: str, codes: type[StrEnum]) -> None:
    """Called from an app's ``AppConfig.ready()`` with its ``error_codes`` enum."""
    _code_enums[app_label] = codes


def all_error_codes() -> list[str]:
    """Every registered code, sorted: the OpenAPI enum of the envelope's ``code``."""
    return sorted({str(code) for codes in _code_enums.values() for code in codes})
