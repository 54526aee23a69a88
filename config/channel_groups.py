"""Sending to a channel-layer group from synchronous code (Celery tasks, views, commands).

``async_to_sync(layer.group_send)`` builds an event loop and, with channels-redis, opens a
Redis connection for every message. With the Redis pub/sub layer of production
(``channels_redis.pubsub.RedisPubSubChannelLayer``), a group message is one ``PUBLISH`` of
the layer's serialised message on the group's Redis channel, which every web process
subscribed to the group fans out to its own consumers. :class:`PubSubGroupPublisher` sends
exactly that through one redis-py client per process, made again after a fork (a Celery
prefork child never writes on its parent's socket). Other layers (the embedded mode's
in-memory one, which lives in the web process) keep ``async_to_sync``.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import redis
from asgiref.sync import async_to_sync
from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from channels_redis.utils import _consistent_hash, decode_hosts
from django.conf import settings


def group_channel(prefix: str, group: str) -> str:
    """The Redis channel of ``group``: ``RedisPubSubLoopLayer._get_group_channel_name``'s
    naming, which the layer's subscribers listen on (tests/operations/test_events.py sends
    through it to a served WebSocket)."""
    return f"{prefix}__group__{group}"


class PubSubGroupPublisher:
    """Publishes group messages in the pub/sub layer's wire format on long-lived connections.

    redis-py's clients are thread-safe (a pool hands each command a connection); the process
    id tells a forked child to open its own.
    """

    def __init__(self, layer: RedisPubSubChannelLayer, config: dict[str, Any]):
        self.layer = layer
        self.prefix = config.get("prefix", "asgi")
        self.hosts = decode_hosts(config.get("hosts"))
        self.pid: int | None = None
        self.clients: list[redis.Redis] = []
        self.lock = threading.Lock()

    def _connect(self, host: dict[str, Any]) -> redis.Redis:
        options = dict(host, client_name=f"channels-publisher-{os.getpid()}")
        if "address" in options:
            return redis.Redis.from_url(options.pop("address"), **options)
        return redis.Redis(**options)

    def _clients(self) -> list[redis.Redis]:
        pid = os.getpid()
        if self.pid != pid:
            with self.lock:
                if self.pid != pid:
                    # A fork's child drops (without closing) the parent's sockets it inherited.
                    self.clients = [self._connect(host) for host in self.hosts]
                    self.pid = pid
        return self.clients

    def publish(self, group: str, message: dict[str, Any]) -> None:
        clients = self._clients()
        channel = group_channel(self.prefix, group)
        client = clients[_consistent_hash(channel, len(clients))]
        client.publish(channel, self.layer.serialize(message))


_publisher: PubSubGroupPublisher | None = None
_publisher_lock = threading.Lock()


def _publisher_for(layer: RedisPubSubChannelLayer) -> PubSubGroupPublisher:
    global _publisher
    with _publisher_lock:
        if _publisher is None or _publisher.layer is not layer:  # a new layer: CHANNEL_LAYERS changed
            _publisher = PubSubGroupPublisher(layer, settings.CHANNEL_LAYERS[DEFAULT_CHANNEL_LAYER].get("CONFIG", {}))
        return _publisher


def send(group: str, message: dict[str, Any]) -> None:
    """``group_send`` from synchronous code; nothing without a channel layer."""
    layer = get_channel_layer()
    if layer is None:
        return
    if isinstance(layer, RedisPubSubChannelLayer):
        _publisher_for(layer).publish(group, message)
    else:
        async_to_sync(layer.group_send)(group, message)
