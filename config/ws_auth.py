"""WebSocket authentication: a simplejwt access token passed as ``?token=``.

Browsers cannot set headers on a WebSocket, so the token travels in the query string
The middleware puts the user (or AnonymousUser) in ``scope["user"]`` and the
validated token in ``scope["token"]``; each consumer decides what the user may see, refuses
at the handshake otherwise, and checks again while the socket is open.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from django.conf import settings


def _anonymous():
    from django.contrib.auth.models import AnonymousUser  # not at import: logging loads this module early

    return AnonymousUser()


def token_authentication():
    """The API's JWT authentication class (REST_FRAMEWORK settings): a socket is authenticated
    exactly like a request, revoked tokens included."""
    from rest_framework.settings import api_settings
    from rest_framework_simplejwt.authentication import JWTAuthentication

    return next(cls() for cls in api_settings.DEFAULT_AUTHENTICATION_CLASSES if issubclass(cls, JWTAuthentication))


@database_sync_to_async
def authenticate(raw: str):
    """``(user, validated token)``, or ``(AnonymousUser, None)`` for a bad, expired or revoked token."""
    from rest_framework.exceptions import AuthenticationFailed
    from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

    authentication = token_authentication()
    try:
        token = authentication.get_validated_token(raw)
        return authentication.get_user(token), token
    except (InvalidToken, TokenError, AuthenticationFailed):
        return _anonymous(), None


class JWTQueryAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        query = parse_qs(scope.get("query_string", b"").decode("latin1"))
        raw = (query.get("token") or [""])[0]
        user, token = await authenticate(raw) if raw else (_anonymous(), None)
        scope = dict(scope, user=user, token=token)
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
