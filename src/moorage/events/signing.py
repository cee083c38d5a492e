"""Signing webhook bodies: HMAC-SHA256 over `timestamp.body` with the subscription's secret.

Headers of every request:
- `Moorage-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`
- `Moorage-Event-Id`: the event's id, the same on every retry and redelivery (deduplicate on it)
- `Moorage-Event`: the event type; `Moorage-Delivery`: the delivery's id in the delivery log

Receivers recompute the HMAC over the raw body, compare in constant time, and reject a timestamp
further than `REPLAY_WINDOW_SECONDS` from their clock, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "Moorage-Signature"
EVENT_ID_HEADER = "Moorage-Event-Id"
EVENT_TYPE_HEADER = "Moorage-Event"
DELIVERY_HEADER = "Moorage-Delivery"
REPLAY_WINDOW_SECONDS = 300
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A signing secret: 256 random bits, recognisable by its prefix (secret scanners, people)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, now: float, window: int = REPLAY_WINDOW_SECONDS) -> bool:
    """Whether `header` signs `body` with `secret` at a time within `window` seconds of `now`."""
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > window:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in fields.get("v1", []))
