"""WebSocket routes: the job event stream."""

from django.urls import re_path

from operations.consumers import SyncEventConsumer

websocket_urlpatterns: list = [
    re_path(r"^api/v1/stores/(?P<store_id>[^/]+)/sync/events/stream/?$", SyncEventConsumer.as_asgi()),
]
