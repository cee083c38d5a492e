"""An issuer's signing keys (JWKS): fetched over HTTPS and cached with an expiry, or configured statically.

Fetching: the issuer's discovery document (`<issuer>/.well-known/openid-configuration`, whose
`issuer` must equal the trusted URL) names the `jwks_uri`, unless the admin configured one. Each
request has a short timeout and a size limit, redirects are not followed, and a fetch failure
falls back to the last good key set for a while, so a slow or briefly unreachable issuer neither
stalls logins nor locks CI out. A token signed with a key id the cache does not know triggers one
refetch (at most every `refetch_interval` seconds per issuer), which is how key rotation is picked up.

The cache is per process and holds only public keys: losing it costs one fetch, so it is not state
that matters (several nodes each keep their own).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 512 * 1024
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


class KeysUnavailable(Exception):
    """The issuer's keys could not be obtained (and no usable cached copy exists)."""


def check_issuer_url(url: str) -> str:
    """An issuer URL must be https (plain http only on loopback, for tests and local issuers)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"invalid issuer URL {url!r}: expected https://host[/path]")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError(f"issuer URL {url!r} must use https (plain http is allowed on loopback only)")
    return url


def check_jwks(document: Any) -> dict[str, Any]:
    """A JWKS document: `{"keys": [...]}` with at least one asymmetric public key, and no private parts."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError('a JWKS is a JSON object with a "keys" list')
    usable = 0
    for key in document["keys"]:
        if not isinstance(key, dict) or not isinstance(key.get("kty"), str):
            raise ValueError("every JWKS key must be an object with a kty")
        if key["kty"] == "oct":
            raise ValueError("a JWKS for ID tokens must not hold symmetric (oct) keys")
        if any(private in key for private in ("d", "p", "q", "dp", "dq", "qi")):
            raise ValueError("the JWKS holds a private key; publish only the public part")
        usable += 1
    if not usable:
        raise ValueError("the JWKS holds no keys")
    return document


@dataclass
class _Entry:
    document: dict[str, Any]
    fetched_at: float
    expires_at: float


class JwksCache:
    """Key sets of fetched issuers, keyed by issuer URL (and the configured jwks_uri, if any)."""

    def __init__(
        self,
        ttl: float = 300.0,
        timeout: float = 5.0,
        stale_for: float = 86400.0,
        refetch_interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.timeout = timeout
        self.stale_for = stale_for
        self.refetch_interval = refetch_interval
        self.clock = clock
        self._entries: dict[tuple[str, str | None], _Entry] = {}
        self._locks: dict[tuple[str, str | None], threading.Lock] = {}
        self._guard = threading.Lock()

    def keys(self, issuer: str, jwks_uri: str | None = None, want_kid: str | None = None) -> dict[str, Any]:
        """The issuer's JWKS; refetched when expired, or when `want_kid` is unknown and the copy is not fresh."""
        cache_key = (issuer, jwks_uri)
        entry = self._entries.get(cache_key)
        now = self.clock()
        if entry is not None and now < entry.expires_at and (want_kid is None or _has_kid(entry.document, want_kid)):
            return entry.document
        with self._lock(cache_key):
            entry = self._entries.get(cache_key)
            now = self.clock()
            if entry is not None:
                fresh = now < entry.expires_at
                if fresh and (want_kid is None or _has_kid(entry.document, want_kid)):
                    return entry.document
                if fresh and now - entry.fetched_at < self.refetch_interval:
                    return entry.document  # an unknown kid, but we just fetched: do not hammer the issuer
            try:
                document, max_age = self._fetch(issuer, jwks_uri)
            except KeysUnavailable as error:
                if entry is not None and now - entry.fetched_at < self.stale_for:
                    log.warning("using cached keys of %s: %s", issuer, error)
                    return entry.document
                raise
            ttl = self.ttl if max_age is None else max(60.0, min(float(max_age), self.ttl))
            self._entries[cache_key] = _Entry(document, now, now + ttl)
            return document

    def forget(self, issuer: str) -> None:
        """Drop cached keys of an issuer (after its settings change)."""
        for cache_key in [k for k in self._entries if k[0] == issuer]:
            self._entries.pop(cache_key, None)

    def _lock(self, cache_key: tuple[str, str | None]) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(cache_key, threading.Lock())

    def _fetch(self, issuer: str, jwks_uri: str | None) -> tuple[dict[str, Any], int | None]:
        with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
            if jwks_uri is None:
                discovery_url = issuer.rstrip("/") + "/.well-known/openid-configuration"
                discovery, _ = _get_json(client, discovery_url)
                if not isinstance(discovery, dict) or discovery.get("issuer") != issuer:
                    raise KeysUnavailable(f"the discovery document at {discovery_url} is for another issuer")
                jwks_uri = discovery.get("jwks_uri")
                if not isinstance(jwks_uri, str):
                    raise KeysUnavailable(f"the discovery document at {discovery_url} names no jwks_uri")
                try:
                    check_issuer_url(jwks_uri)
                except ValueError as error:
                    raise KeysUnavailable(str(error)) from None
            document, max_age = _get_json(client, jwks_uri)
        try:
            return check_jwks(document), max_age
        except ValueError as error:
            raise KeysUnavailable(f"{jwks_uri}: {error}") from None


def _get_json(client: httpx.Client, url: str) -> tuple[Any, int | None]:
    try:
        with client.stream("GET", url, headers={"Accept": "application/json"}) as response:
            if response.status_code != 200:
                raise KeysUnavailable(f"GET {url} answered {response.status_code}")
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise KeysUnavailable(f"GET {url}: document larger than {MAX_DOCUMENT_BYTES} bytes")
            max_age = _max_age(response.headers.get("cache-control", ""))
    except httpx.HTTPError as error:
        raise KeysUnavailable(f"GET {url} failed: {type(error).__name__}") from None
    try:
        return json.loads(bytes(body)), max_age
    except ValueError:
        raise KeysUnavailable(f"GET {url}: not JSON") from None


def _max_age(cache_control: str) -> int | None:
    match = re.search(r"(?:^|,)\s*max-age\s*=\s*(\d+)", cache_control, flags=re.IGNORECASE)
    return int(match.group(1)) if match else None


def _has_kid(document: Mapping[str, Any], kid: str) -> bool:
    return any(isinstance(key, dict) and key.get("kid") == kid for key in document.get("keys", []))
