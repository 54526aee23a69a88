"""WebSocket authentication: a simplejwt access token passed as ``?token=``.

Browsers cannot set headers on a WebSocket, so the token travels in the query string
(DESIGN.md). The middleware puts the user (or AnonymousUser) in ``scope["user"]``; each
consumer decides what the user may see and refuses at the handshake otherwise.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth import get_user_model


def _anonymous():
    from django.contrib.auth.models import AnonymousUser  # not at import: logging loads this module early

    return AnonymousUser()


@database_sync_to_async
def user_for_token(raw: str):
    from rest_framework_simplejwt.exceptions import TokenError
    from rest_framework_simplejwt.settings import api_settings
    from rest_framework_simplejwt.tokens import AccessToken

    try:
        token = AccessToken(raw)
    except TokenError:
        return _anonymous()
    user = (
        get_user_model().objects.filter(**{api_settings.USER_ID_FIELD: token.get(api_settings.USER_ID_CLAIM)}).first()
    )
    return user if user is not None and user.is_active else _anonymous()


class JWTQueryAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        query = parse_qs(scope.get("query_string", b"").decode("latin1"))
        raw = (query.get("token") or [""])[0]
        scope = dict(scope, user=await user_for_token(raw) if raw else _anonymous())
        return await super().__call__(scope, receive, send)


class TokenClientOriginValidator(OriginValidator):
    """Browsers must come from an allowed host; clients that send no Origin (store systems,
    scripts) are let through, since the token, not a cookie, authenticates them."""

    def valid_origin(self, parsed_origin):
        return parsed_origin is None or self.validate_origin(parsed_origin)


def websocket_stack(app):
    return TokenClientOriginValidator(JWTQueryAuthMiddleware(app), settings.ALLOWED_HOSTS)


_TOKEN_IN_QUERY = re.compile(r"([?&]token=)[^&\s\"']+")


class RedactQueryTokens(logging.Filter):
    """Servers log WebSocket paths with their query string: never the access token."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "token=" in message:
            record.msg, record.args = _TOKEN_IN_QUERY.sub(r"\1********", message), None
        return True
