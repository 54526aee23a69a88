"""A real HTTP endpoint on loopback for outbound webhook tests: it answers from a script
(status, headers) and records every request it got (headers and raw body)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # consumed in order
    default: tuple[int, dict[str, str]] = (200, {})
    requests: list[Received] = field(default_factory=list)

    def fail(self, times: int, status: int = 500, headers: dict[str, str] | None = None) -> None:
        self.script.extend([(status, headers or {})] * times)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state: dict = {}

    class Handler(BaseHTTPRequestHandler):
        disable_nagle_algorithm = True

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            hook: Receiver = state["receiver"]
            hook.requests.append(Received({k.lower(): v for k, v in self.headers.items()}, self.rfile.read(length)))
            status, headers = hook.script.pop(0) if hook.script else hook.default
            body = b'{"ok": true}' if status < 300 else b'{"error": "try later"}'
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["receiver"] = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/webhooks/sync")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state["receiver"]
    server.shutdown()
    server.server_close()
