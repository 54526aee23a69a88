"""One error envelope for every API error:

{"status": "error", "code": "MACHINE_CODE", "message": "human sentence", "detail": ...}
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, JsonResponse
from django.views import defaults
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from config.error_codes import ErrorCode
from config.errors import DomainError

logger = logging.getLogger(__name__)


def envelope(code: str, message: str, detail=None) -> dict:
    body = {"status": "error", "code": str(code), "message": message}
    if detail is not None:
        body["detail"] = detail
    return body


def _first_message(detail) -> str:
    """A readable sentence from DRF's nested error detail."""
    if isinstance(detail, dict):
        for field, value in detail.items():
            text = _first_message(value)
            return text if field in ("non_field_errors", "detail") else f"{field}: {text}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


_DRF_CODES: list[tuple[type[Exception], str]] = [
    (drf.ParseError, ErrorCode.INVALID_DATA_FORMAT),
    (drf.ValidationError, ErrorCode.VALIDATION_ERROR),
    (drf.NotAuthenticated, ErrorCode.NOT_AUTHENTICATED),
    (drf.AuthenticationFailed, ErrorCode.NOT_AUTHENTICATED),
    (drf.PermissionDenied, ErrorCode.PERMISSION_DENIED),
    (drf.NotFound, ErrorCode.NOT_FOUND),
    (drf.MethodNotAllowed, ErrorCode.METHOD_NOT_ALLOWED),
    (drf.UnsupportedMediaType, ErrorCode.UNSUPPORTED_MEDIA_TYPE),
    (drf.NotAcceptable, ErrorCode.NOT_ACCEPTABLE),
    (drf.Throttled, ErrorCode.RATE_LIMIT_EXCEEDED),
]


def _translate(exc: Exception) -> Exception:
    """Map Django's and simplejwt's exceptions onto DRF exceptions or DomainError."""
    if isinstance(exc, (InvalidToken, TokenError)):
        return DomainError(ErrorCode.NOT_AUTHENTICATED, 401, "The access token is invalid or expired.")
    if isinstance(exc, Http404):
        return DomainError(ErrorCode.NOT_FOUND, 404, "Not found.")
    if isinstance(exc, DjangoPermissionDenied):
        return drf.PermissionDenied()
    if isinstance(exc, RequestDataTooBig):
        return DomainError(ErrorCode.PAYLOAD_TOO_LARGE, 413, "The request body is too large.")
    if isinstance(exc, SuspiciousOperation):
        return DomainError(ErrorCode.VALIDATION_ERROR, 400, "The request was refused as malformed.")
    return exc


def exception_handler(exc: Exception, context) -> Response:
    """DRF's EXCEPTION_HANDLER: every error in the envelope, never a bare 500."""
    exc = _translate(exc)
    headers = {}
    if isinstance(exc, DomainError):
        return Response(envelope(exc.code, exc.message, exc.detail), status=exc.http_status)
    if isinstance(exc, drf.APIException):
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None) is not None:
            headers["Retry-After"] = str(int(exc.wait))
        code = next((code for cls, code in _DRF_CODES if isinstance(exc, cls)), ErrorCode.VALIDATION_ERROR)
        detail = exc.detail if isinstance(exc, drf.ValidationError) else None
        message = "Invalid input." if detail is not None else _first_message(exc.detail)
        if detail is not None:
            message = f"Invalid input: {_first_message(detail)}"
        return Response(envelope(code, message, detail), status=exc.status_code, headers=headers)
    view = context.get("view")
    logger.exception("unhandled error in %s", type(view).__name__ if view else "a view")
    return Response(envelope(ErrorCode.INTERNAL_ERROR, "Internal server error."), status=500)


def _json_or_default(status: int, code: str, message: str, default_view):
    """Django's error handlers: the envelope under /api/, Django's own pages elsewhere."""

    def view(request, exception=None):
        if request.path.startswith("/api/"):
            return JsonResponse(envelope(code, message), status=status)
        return default_view(request) if exception is None else default_view(request, exception)

    return view


handler400 = _json_or_default(400, ErrorCode.VALIDATION_ERROR, "Bad request.", defaults.bad_request)
handler403 = _json_or_default(
    403, ErrorCode.PERMISSION_DENIED, "You do not have permission to perform this action.", defaults.permission_denied
)
handler404 = _json_or_default(404, ErrorCode.NOT_FOUND, "Not found.", defaults.page_not_found)
handler500 = _json_or_default(500, ErrorCode.INTERNAL_ERROR, "Internal server error.", defaults.server_error)
