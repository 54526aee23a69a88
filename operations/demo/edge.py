"""The demo's head office to edge pass: the hub serves the photo distribution API on a loopback port for a
moment and its own edge agent pulls the demo store's photos from it, over real HTTP."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.wsgi import get_wsgi_application
from django.db import connections

from catalog.models import StoreMembership
from catalog.roles import Role
from photosync.distribution.selectors import EdgeCoverage, edge_coverage
from photosync.edge.agent import PassSummary
from photosync.edge.client import HOConfig
from photosync.edge.service import edge_sync_now
from photosync.models import EdgeSyncRun

DEMO_EDGE_USER = "demo-edge"


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    disable_nagle_algorithm = True

    def handle(self) -> None:
        try:
            super().handle()
        finally:
            connections.close_all()  # this request's thread ends here: no connection left open

    def log_message(self, *args) -> None:
        pass


@dataclass
class DemoPass:
    run: EdgeSyncRun
    summary: PassSummary
    coverage: EdgeCoverage
    root: Path


def run_demo_pass(store, *, root: Path | None = None) -> DemoPass:
    """A full edge pass of ``store`` against this hub (an EDGE user ``demo-edge`` with a new
    random password each time, member of the store)."""
    password = secrets.token_urlsafe(16)
    user, _ = get_user_model().objects.get_or_create(username=DEMO_EDGE_USER)
    user.set_password(password)
    user.save()
    user.groups.set([Group.objects.get(name=Role.EDGE.value)])
    StoreMembership.objects.get_or_create(store=store, user=user)
    server = make_server("127.0.0.1", 0, get_wsgi_application(), server_class=_Server, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        root = Path(root or Path(settings.VAR_DIR) / "demo-edge-photos")
        run, summary = edge_sync_now(
            full=True, config=HOConfig(url, DEMO_EDGE_USER, password, str(store.uuid)), root=root
        )
    finally:
        server.shutdown()
        server.server_close()
    return DemoPass(run, summary, edge_coverage(store), root)
