"""JSON bodies with a nesting limit.

Python's JSON decoder recurses once per level, so a body of a few kilobytes of ``[[[[…``
exhausts the interpreter's stack (RecursionError, a 500 before this parser). Every JSON
entry point (the API's parser, the inbound webhooks, the event stream's messages) decodes
through :func:`loads`, which refuses bodies nested deeper than ``API_JSON_MAX_DEPTH``.
"""

from __future__ import annotations

import codecs

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.settings import api_settings
from rest_framework.utils import json


class NestingTooDeep(ValueError):
    """A JSON document nested deeper than the limit (a ValueError, like any malformed JSON)."""

    def __init__(self, limit: int):
        super().__init__(f"the JSON is nested deeper than {limit} levels")


def loads(text: str | bytes, *, strict: bool = True):
    """Decode JSON, refusing NaN/Infinity (``strict``) and nesting deeper than the limit."""
    limit = settings.API_JSON_MAX_DEPTH
    try:
        value = json.loads(text, parse_constant=json.strict_constant if strict else None)
    except RecursionError:
        raise NestingTooDeep(limit) from None
    if _deeper_than(value, limit):
        raise NestingTooDeep(limit)
    return value


def _deeper_than(value, limit: int) -> bool:
    containers = (dict, list)
    stack = [(value, 1)] if isinstance(value, containers) else []
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, containers))
    return False


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser over :func:`loads`: malformed or too deep answers 400 ``INVALID_DATA_FORMAT``."""

    strict = api_settings.STRICT_JSON

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        try:
            return loads(codecs.getreader(encoding)(stream).read(), strict=self.strict)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
