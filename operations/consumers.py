"""The sync event stream: ``ws://…/api/v1/stores/{store_id}/sync/events/stream``.

The user comes from the ``?token=`` JWT (``config.ws_auth``); a user who may not read the
store's sync (no R permission, or a store they are not a member of) is refused at the
handshake. On connect the client gets the state of the jobs running now, then every event
published to the store's group (``operations.events``). While the socket is open its access
is checked again every ``EVENT_STREAM_RECHECK_SECONDS`` and at the token's expiry.
"""

from __future__ import annotations

import asyncio
import time

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.settings import api_settings as jwt_settings

from catalog.access import has_letters, store_lookup, visible_stores
from catalog.tokens import current_token_user
from config.api import parsers
from operations import events

# Close codes: authentication gone (no, expired or revoked token, inactive user), or the right
# to this store's stream gone. A refused handshake answers HTTP 403 either way.
UNAUTHENTICATED = 4401
FORBIDDEN = 4403


def visible_store_id(user, ref) -> int | None:
    if not has_letters(user, "storesync.syncconfig", "R"):
        return None
    try:
        lookup = store_lookup(ref)
    except (ValueError, AttributeError):
        return None
    return visible_stores(user).filter(**lookup).values_list("pk", flat=True).first()


@database_sync_to_async
def stream_access(token, store_ref) -> tuple[int | None, int | None]:
    """``(close code, None)`` if the token's holder may not (or no longer) stream the store,
    else ``(None, store id)``.

    A current token is checked as an API request is (the user's row, the account stamp, the
    permissions from the access cache: ``catalog.tokens``), then the store: three queries,
    what hundreds of open streams' periodic re-checks cost. Only a token that no longer
    authenticates looks further, to tell a lost right to the store (4403) from lost
    authentication (4401), since a membership or role change also revokes the token."""
    if token is None or token["exp"] <= time.time():
        return UNAUTHENTICATED, None
    try:
        user = current_token_user(token)
    except AuthenticationFailed:
        return _refusal(token, store_ref), None
    store_id = visible_store_id(user, store_ref)
    if store_id is None:
        return FORBIDDEN, None
    return None, store_id


def _refusal(token, store_ref) -> int:
    user_id = token.get(jwt_settings.USER_ID_CLAIM)
    user = get_user_model().objects.filter(**{jwt_settings.USER_ID_FIELD: user_id}, is_active=True).first()
    if user is not None and visible_store_id(user, store_ref) is None:
        return FORBIDDEN
    return UNAUTHENTICATED


class SyncEventConsumer(AsyncJsonWebsocketConsumer):
    groups: list[str] = []

    async def __call__(self, scope, receive, send):
        # Refuse before the consumer opens its channel-layer channel (a Redis subscription):
        # nothing to open and close for a client that may not stream.
        code, store_id = await stream_access(scope.get("token"), scope["url_route"]["kwargs"]["store_id"])
        if code is not None:
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": code})
            return
        self.store_id = store_id
        await super().__call__(scope, receive, send)

    async def dispatch(self, message):
        """channels' dispatch less its ``close_old_connections`` before every message: that hop
        queues each delivery behind the one thread all database work shares. Every database
        access here goes through ``database_sync_to_async``, which does that clean-up itself."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self):
        self.joined = [events.store_group(self.store_id), events.HUB_GROUP]
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.watch = asyncio.create_task(self.watch_access())
        for message in await database_sync_to_async(events.snapshot)(self.store_id):
            await self.send_json({**message, "snapshot": True})

    async def watch_access(self):
        """Close the stream once its user's access is gone (4401) or their right to the store (4403)."""
        token = self.scope["token"]
        while True:
            until_expiry = token["exp"] - time.time()
            await asyncio.sleep(max(0.0, min(settings.EVENT_STREAM_RECHECK_SECONDS, until_expiry)))
            code, _ = await stream_access(token, self.scope["url_route"]["kwargs"]["store_id"])
            if code is not None:
                await self.close(code=code)
                return

    async def disconnect(self, code):
        if watch := getattr(self, "watch", None):
            watch.cancel()
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        """``{"event": "ping"}`` answers a pong; any other message, malformed or nested too deep
        (``config.api.parsers``), is ignored and the stream stays open."""
        try:
            content = parsers.loads(text_data or bytes_data or b"")
        except ValueError:
            return
        if isinstance(content, dict) and content.get("event") == "ping":
            await self.send_json({"event": "pong", "data": {}})

    async def sync_event(self, event):
        await self.send(text_data=event["text"])
