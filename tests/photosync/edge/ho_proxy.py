"""A fault-injecting HTTP proxy in front of a live head office, for the edge agent tests.

Everything goes over real sockets: the agent talks HTTP to the proxy, the proxy talks HTTP
to the live server. Faults: latency, transient 503s, head office "stopping" (connections
closed unanswered), a download's body corrupted or cut off halfway.
"""

from __future__ import annotations

import http.client
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

DOWNLOAD = re.compile(r"^/api/v1/sync/product-photos/([^/]+)/download/?")
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


class HOProxy:
    def __init__(self, upstream: str):
        parts = urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname, parts.port
        self.lock = threading.Lock()
        self.log: list[dict] = []
        self.latency = 0.0
        self.fail_next = 0  # answer this many next requests with 503
        self.down = False  # close every connection unanswered
        self.stop_after_downloads: int | None = None
        self.corrupt_ids: set[str] = set()
        self.cut_once_ids: set[str] = set()
        self.downloads_served = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_GET(self):
                proxy.handle(self)

            def do_POST(self):
                proxy.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # What happened

    def requests(self, method: str | None = None, path_prefix: str = "") -> list[dict]:
        with self.lock:
            return [
                e for e in self.log if (method is None or e["method"] == method) and e["path"].startswith(path_prefix)
            ]

    def downloads(self) -> list[dict]:
        return [e for e in self.requests("GET") if DOWNLOAD.match(e["path"]) and e["status"] in (200, 206)]

    # Forwarding

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        import time

        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        match = DOWNLOAD.match(handler.path)
        photo_id = match[1] if match else None
        with self.lock:
            down = self.down
            fail = self.fail_next > 0
            if fail:
                self.fail_next -= 1
        if down:
            handler.close_connection = True
            handler.connection.shutdown(2)
            return
        if self.latency:
            time.sleep(self.latency)
        if fail:
            self._record(handler, 503)
            handler.send_response(503)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        upstream = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=30)
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_HEADERS | {"host"}}
        headers["Host"] = f"{self.upstream_host}:{self.upstream_port}"
        upstream.request(handler.command, handler.path, body=body, headers=headers)
        response = upstream.getresponse()
        data = response.read()
        upstream.close()
        self._record(handler, response.status)
        cut = False
        if photo_id and response.status in (200, 206):
            with self.lock:
                self.downloads_served += 1
                if self.stop_after_downloads is not None and self.downloads_served >= self.stop_after_downloads:
                    self.down = True
                if photo_id in self.corrupt_ids and data:
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                if photo_id in self.cut_once_ids and response.status == 200:
                    self.cut_once_ids.discard(photo_id)
                    cut = True
        handler.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in HOP_HEADERS:
                handler.send_header(name, value)
        handler.end_headers()
        if cut:  # half the body, then the connection drops
            handler.wfile.write(data[: len(data) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            handler.connection.shutdown(2)
            return
        handler.wfile.write(data)

    def _record(self, handler: BaseHTTPRequestHandler, status: int) -> None:
        with self.lock:
            self.log.append(
                {
                    "method": handler.command,
                    "path": handler.path,
                    "status": status,
                    "range": handler.headers.get("Range"),
                    "auth": handler.headers.get("Authorization", ""),
                }
            )
