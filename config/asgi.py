"""ASGI entry point: HTTP through Django, WebSocket through Channels."""

import os

from config.handlers import get_asgi_application  # Django's, with the middleware chain in one thread hop

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402  (needs Django set up)
from django.conf import settings  # noqa: E402

from config.body_limit import BodySizeLimit  # noqa: E402
from config.ws_auth import websocket_stack  # noqa: E402  (JWT ?token= auth, origin check)
from operations.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": BodySizeLimit(django_asgi_app),
        "websocket": websocket_stack(URLRouter(websocket_urlpatterns)),
    }
)

if settings.EMBEDDED_SCHEDULER:  # the embedded mode's beat, in this process (config/scheduler.py)
    from config.scheduler import start_embedded_scheduler

    start_embedded_scheduler()
