"""Webhook signatures in the Standard Webhooks scheme.

Headers: ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and ``webhook-signature``:
``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{raw body}">``, several space-separated
signatures allowed (secret rotation). A ``whsec_<base64>`` secret is decoded as the
specification defines; any other secret is used as its UTF-8 bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
MAX_ID_LENGTH = 255


class SignatureInvalid(Exception):
    """The notification cannot be trusted; the message says why (never the secret)."""


@dataclass(frozen=True)
class SignedHeaders:
    msg_id: str
    timestamp: int
    signatures: tuple[str, ...]


def secret_bytes(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            pass  # not valid base64: fall back to the string's bytes, like any other secret
    return secret.encode()


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sign_headers(secret: str, msg_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, msg_id, timestamp, body),
    }


def read_headers(headers: Mapping[str, str]) -> SignedHeaders:
    """The three headers (case-insensitive), checked for presence and form."""
    lowered = {key.lower(): value for key, value in headers.items()}
    msg_id = (lowered.get(ID_HEADER) or "").strip()
    raw_timestamp = (lowered.get(TIMESTAMP_HEADER) or "").strip()
    raw_signatures = (lowered.get(SIGNATURE_HEADER) or "").strip()
    if not msg_id or not raw_timestamp or not raw_signatures:
        raise SignatureInvalid("The webhook-id, webhook-timestamp and webhook-signature headers are required.")
    if len(msg_id) > MAX_ID_LENGTH:
        raise SignatureInvalid("The webhook-id header is too long.")
    if not raw_timestamp.isdigit() or len(raw_timestamp) > 12:
        raise SignatureInvalid("The webhook-timestamp header must be Unix seconds.")
    return SignedHeaders(msg_id, int(raw_timestamp), tuple(raw_signatures.split()))


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, *, tolerance: int, now: float | None = None
) -> SignedHeaders:
    """The signed headers if one ``v1`` signature matches and the timestamp is within
    ``tolerance`` seconds of ``now``; :class:`SignatureInvalid` otherwise."""
    signed = read_headers(headers)
    now = time.time() if now is None else now
    if abs(now - signed.timestamp) > tolerance:
        raise SignatureInvalid("The webhook-timestamp is outside the tolerance window.")
    expected = signature(secret, signed.msg_id, signed.timestamp, body).encode()
    for candidate in signed.signatures:
        if candidate.startswith("v1,") and hmac.compare_digest(candidate.encode(), expected):
            return signed
    raise SignatureInvalid("No webhook signature matches.")
