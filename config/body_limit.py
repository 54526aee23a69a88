"""ASGI guard refusing oversized request bodies before Django spools them to disk.

Django's ASGI handler reads the whole body into a temporary file before any view or
upload handler runs, so a view's own size check comes after the disk has filled. This
guard answers 413 in the error envelope from the declared Content-Length, and stops a
body sent without one (chunked) as soon as it passes the limit.
"""

import json

from django.conf import settings

from config.api.exceptions import envelope
from config.error_codes import ErrorCode


def _declared_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_too_large(send, limit: int) -> None:
    body = json.dumps(
        envelope(ErrorCode.PAYLOAD_TOO_LARGE, "The request body is too large.", {"limit_bytes": limit})
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = settings.REQUEST_MAX_BODY_BYTES
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            return await _send_too_large(send, limit)

        state = {"received": 0, "exceeded": False, "started": False}

        async def limited_receive():
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    # Django treats a disconnect while reading the body as an aborted
                    # request and sends nothing; the 413 is ours to send.
                    state["exceeded"] = True
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message):
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        await self.app(scope, limited_receive, tracking_send)
        if state["exceeded"] and not state["started"]:
            await _send_too_large(send, limit)
