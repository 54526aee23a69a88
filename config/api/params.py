"""Query and body parameters, parsed once for every app's views.

Each helper returns the parsed value or raises :class:`config.errors.DomainError`
``VALIDATION_ERROR`` (400) with a sentence naming the parameter, rendered in the error
envelope by the DRF exception handler. ``params`` is any mapping (``request.query_params``,
``request.data``). A message template may be a lazy translation (``gettext_lazy``): it is
rendered in the language of the request.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from config.error_codes import ErrorCode
from config.errors import DomainError

TRUE = frozenset({"true", "1", "yes", "on"})
FALSE = frozenset({"false", "0", "no", "off", ""})
MAX_DIGITS = 9  # a bounded int has at most this many digits (no int() of a huge string)
TIMESTAMP_EXAMPLE = "2026-02-03T10:00:00Z"


def invalid(message: str, detail=None) -> DomainError:
    """The 400 ``VALIDATION_ERROR`` every bad parameter answers."""
    return DomainError(ErrorCode.VALIDATION_ERROR, 400, str(message), detail)


def flag(params: Mapping, name: str, *, message: str = "%(name)s must be true or false") -> bool:
    """A boolean flag such as ``?async=true``: true/1/yes/on or false/0/no/off/empty (absent: false)."""
    value = str(params.get(name, "")).strip().lower()
    if value not in TRUE | FALSE:
        raise invalid(str(message) % {"name": name})
    return value in TRUE


def bounded_int(params: Mapping, name: str, *, default: int, low: int, high: int | None = None) -> int:
    """A whole number from ``low`` to ``high`` (no upper bound when None); absent: ``default``.
    An empty value is refused like any other non-number: the schema says integer."""
    text = params.get(name)
    if text is None:
        return default
    text = str(text)
    if not re.fullmatch(rf"\d{{1,{MAX_DIGITS}}}", text.strip()):
        raise invalid(f"{name} must be a whole number" + (f" from {low} to {high}" if high else f" of at least {low}"))
    value = int(text)
    if value < low or (high is not None and value > high):
        raise invalid(f"{name} must be from {low} to {high}" if high else f"{name} must be at least {low}")
    return value


def parse_timestamp(text) -> datetime | None:
    """An aware UTC datetime from ISO 8601 (naive means UTC; a '+' that a query string turned
    into a space is accepted); None when ``text`` is not one.

    The result is shifted to UTC here: PostgreSQL refuses offsets beyond ±15:59 that Python
    accepts (``-23:59``), and a date at the edge of the calendar that overflows once shifted
    (``0001-01-01T00:00:00+01:00``) is not a timestamp either."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    if " " in text[10:]:
        text = text[:10] + text[10:].replace(" ", "+")
    try:
        parsed = parse_datetime(text)
    except ValueError:
        return None
    if parsed is None:
        return None
    if timezone.is_naive(parsed):
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        return None


def timestamp(params: Mapping, name: str) -> datetime | None:
    """An ISO 8601 timestamp such as ``?since=``; absent or empty: None."""
    text = params.get(name, "")
    if text == "" or text is None:
        return None
    value = parse_timestamp(text)
    if value is None:
        raise invalid(f"{name} must be an ISO 8601 timestamp, e.g. {TIMESTAMP_EXAMPLE}")
    return value


def choice(params: Mapping, name: str, choices: Iterable[str]) -> str | None:
    """One of ``choices``; absent: None."""
    if name not in params:
        return None
    choices = [str(c) for c in choices]
    value = params[name]
    if value not in choices:
        raise invalid(f"{name} must be one of {', '.join(choices)}")
    return value
