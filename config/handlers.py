"""Django's ASGI handler with the middleware chain run synchronously: one thread hop per request.

Django builds the chain for ASGI in async mode, and a sync-only middleware in it (ours
and WhiteNoise's) splits it: every middleware below such a one runs its
``process_request`` and ``process_response`` through ``sync_to_async``, a thread hop
each, then the sync view is one more. With the stack of config.settings that was some
fifteen hops a request, most of the CPU of a small answer (healthz's) and a fifth of a
photo list page's. Every view and middleware of the hub is synchronous, so this handler
builds the chain in sync mode and enters it once, in the request's own thread; the ASGI
parts (reading the body, streaming the response, noticing a client leaving) are Django's.
An async view still works: Django's sync chain runs it with ``async_to_sync``.
"""

from __future__ import annotations

import django
from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler


class SyncChainASGIHandler(ASGIHandler):
    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)
        # thread_sensitive: the thread of the request's ThreadSensitiveContext (Django's
        # handler opens one per request), where its database connection lives.
        self._middleware_chain = sync_to_async(self._middleware_chain, thread_sensitive=True)


def get_asgi_application() -> SyncChainASGIHandler:
    """``django.core.asgi.get_asgi_application`` with the handler above."""
    django.setup(set_prefix=False)
    return SyncChainASGIHandler()
