"""The sync event stream (seed 003): ``ws://…/api/v1/stores/{store_id}/sync/events/stream``.

The user comes from the ``?token=`` JWT (``config.ws_auth``); a user who may not read the
store's sync (no R permission, or a store they are not a member of) is refused at the
handshake. On connect the client gets the state of the jobs running now, then every event
published to the store's group (``storesync.events``).
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from catalog.access import has_letters, store_lookup, visible_stores
from operations import events

# Close codes sent when a handshake is refused (the HTTP answer is 403 either way).
UNAUTHENTICATED = 4401
FORBIDDEN = 4403


@database_sync_to_async
def visible_store_id(user, ref):
    if not has_letters(user, "storesync.syncconfig", "R"):
        return None
    try:
        lookup = store_lookup(ref)
    except (ValueError, AttributeError):
        return None
    return visible_stores(user).filter(**lookup).values_list("pk", flat=True).first()


class SyncEventConsumer(AsyncJsonWebsocketConsumer):
    groups: list[str] = []

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=UNAUTHENTICATED)
            return
        store_id = await visible_store_id(user, self.scope["url_route"]["kwargs"]["store_id"])
        if store_id is None:
            await self.close(code=FORBIDDEN)
            return
        self.store_id = store_id
        self.joined = [events.store_group(store_id), events.HUB_GROUP]
        for group in self.joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        for message in await database_sync_to_async(events.snapshot)(store_id):
            await self.send_json({**message, "snapshot": True})

    async def disconnect(self, code):
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if isinstance(content, dict) and content.get("event") == "ping":
            await self.send_json({"event": "pong", "data": {}})

    async def sync_event(self, event):
        await self.send_json(event["message"])
