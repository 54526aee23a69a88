"""The edge bench's floor: the barest HTTP file server on the head office's own server.

An ASGI app of a few lines that answers ``GET /<path>`` with the bytes of that file under
``STATIC_FILES_ROOT``, run by uvicorn exactly as head office is (one process): no
framework, no database, no authentication, no range or checksum headers. What the hub's
download endpoint costs beyond it is the hub's own work.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(os.environ.get("STATIC_FILES_ROOT", ".")).resolve()


async def app(scope, receive, send) -> None:
    if scope["type"] != "http":
        return
    path = (ROOT / unquote(scope["path"]).lstrip("/")).resolve()
    try:
        if not path.is_relative_to(ROOT):
            raise FileNotFoundError(path)
        data = path.read_bytes()
        status = 200
    except OSError:
        data, status = b"", 404
    headers = [(b"content-type", b"application/octet-stream"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
