"""The hub-wide error codes: HTTP-level failures and job outcomes every app can meet.

Each app declares its own codes in its ``error_codes.py`` and registers them with
:func:`config.errors.register_error_codes`; the OpenAPI error envelope lists their union.
"""

from enum import StrEnum


class ErrorCode(StrEnum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    INVALID_DATA_FORMAT = "INVALID_DATA_FORMAT"
    NOT_AUTHENTICATED = "NOT_AUTHENTICATED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
    SYNC_IN_PROGRESS = "SYNC_IN_PROGRESS"
    SYNC_TIMEOUT = "SYNC_TIMEOUT"
    NETWORK_ERROR = "NETWORK_ERROR"
    BROKER_UNAVAILABLE = "BROKER_UNAVAILABLE"
    INTERNAL_ERROR = "INTERNAL_ERROR"
