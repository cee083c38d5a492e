"""The access log: one line per request, written by the `moorage.access` logger.

Fields: time, request id, remote address, identity (`user:alice`, `robot:ci`, `anonymous`; the
name only, never a credential), method, path, status, bytes in and out, duration. The query string
is where secrets travel (`/token?…` carries a refresh token or `account` in some clients, OIDC
callbacks carry `code` and `state`), so only parameters known to be harmless keep their values;
every other parameter is written as `name=…` with its value dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

from moorage.domain.access import Actor

log = logging.getLogger("moorage.access")

# The pagination, mount and scope parameters of /v2/, /token and the management API: none secret.
HARMLESS_PARAMETERS = frozenset(
    {"n", "last", "digest", "mount", "from", "artifactType", "service", "scope", "page", "per_page", "limit"}
    | {"cursor", "q", "repository", "namespace", "kind", "action", "outcome", "dry_run", "since", "until"}
)
_LONGEST_VALUE = 200


def loggable_query(query: bytes) -> str:
    """The query string with every value that might be a secret replaced by `…`."""
    if not query:
        return ""
    parts = []
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if name in HARMLESS_PARAMETERS:
            parts.append(f"{quote(name)}={quote(value[:_LONGEST_VALUE], safe=':/@')}")
        else:
            parts.append(f"{quote(name[:_LONGEST_VALUE])}=…")
    return "&".join(parts)


def identity(actor: Actor | None) -> str:
    """Who the request acted as, as authentication decided (`-` before or without a decision)."""
    if actor is None:
        return "-"
    if actor.kind == "anonymous":
        return "anonymous"
    return f"{actor.kind}:{actor.name}"


@dataclass(frozen=True, slots=True)
class AccessRecord:
    request_id: str
    remote: str | None
    identity: str
    method: str
    path: str
    query: bytes
    status: int
    bytes_in: int
    bytes_out: int
    duration: float


def enabled() -> bool:
    """Whether to build a record at all (the logger caches its level check)."""
    return log.isEnabledFor(logging.INFO)


def write(record: AccessRecord) -> None:
    """Log one request."""
    query = loggable_query(record.query)
    target = f"{record.path}?{query}" if query else record.path
    milliseconds = round(record.duration * 1000, 2)
    log.info(
        '%s %s "%s %s" %d %dB %.1fms',
        record.remote or "-",
        record.identity,
        record.method,
        target,
        record.status,
        record.bytes_out,
        milliseconds,
        extra={
            "fields": {
                "remote": record.remote,
                "identity": record.identity,
                "method": record.method,
                "path": target,
                "status": record.status,
                "bytes_in": record.bytes_in,
                "bytes_out": record.bytes_out,
                "duration_ms": milliseconds,
            }
        },
    )
