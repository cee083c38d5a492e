"""The pull-through cache: an ASGI wrapper around the registry API for repositories under a cache rule.

It sits inside the auth guard (a caller without pull permission on the cached repository is refused
before anything is asked upstream) and outside the registry API, which still serves every read:
the wrapper only makes sure the content is there first (Distribution's `registry/proxy` wraps its
repositories the same way). Hosted repositories pass straight through.

Freshness (docs/pull-through-cache.md): a pull by tag asks the upstream (`HEAD`) what the tag names
when the tag was last resolved more than `proxy_tag_ttl_seconds` ago (or never), and moves the cached
tag when the upstream moved it; within the TTL the cached tag is served without asking. A pull by
digest never asks once the manifest is cached (a digest names fixed content). When the upstream is
unreachable or rate limiting, a cached tag is served as it is with a `Warning` header (stale), and a
request for anything not cached gets an OCI error naming the upstream.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

import anyio.to_thread
from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from moorage.api.errors import API_VERSION_HEADER, error_response
from moorage.api.v2.context import RegistryServices
from moorage.domain import media_types as mt
from moorage.domain.access import ANONYMOUS, Actor
from moorage.domain.digests import Digest, is_digest
from moorage.domain.errors import ErrorCode, RegistryError
from moorage.domain.references import validate_name, validate_tag
from moorage.metadata import cache_rules as cache_queries
from moorage.metadata import repositories
from moorage.metadata.common import now
from moorage.metadata.database import Database
from moorage.proxy.fill import CacheFill, stream_to_client
from moorage.proxy.rule_service import CacheRules
from moorage.proxy.rules import CacheRule, push_refused, rule_for
from moorage.proxy.upstream import UpstreamClient, UpstreamNotFound, UpstreamUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")

_ROUTE = re.compile(r"^/v2/(?P<name>.+)/(?P<kind>blobs/uploads|blobs|manifests)(?:/(?P<rest>[^/]*))?(?:/.*)?$")
STALE_WARNING = '110 moorage "Response is stale: upstream {upstream} {reason}"'

Counter = Callable[[str, str], None]
"""Counts an event (`stale`, `fill`, `upstream_error`) for an upstream (the metrics)."""


class PullThroughCache:
    def __init__(
        self,
        app: ASGIApp,
        services: RegistryServices,
        database: Database,
        rules: CacheRules,
        fill: CacheFill,
        tag_ttl: timedelta,
        upstream_timeout: float,
        count: Counter = lambda event, upstream: None,
    ) -> None:
        self.app = app
        self.services = services
        self.database = database
        self.rules = rules
        self.fill = fill
        self.tag_ttl = tag_ttl
        self.upstream_timeout = upstream_timeout
        self.count = count
        self._clients: dict[str, UpstreamClient] = {}
        self._retired: list[UpstreamClient] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.rules.recent() == []:  # no cache rule: nothing to mirror
            await self.app(scope, receive, send)
            return
        raw = scope.get("raw_path")
        path = bytes(raw).split(b"?", 1)[0].decode("latin-1") if raw else str(scope["path"])
        match = _ROUTE.match(path)
        if match is None:
            await self.app(scope, receive, send)
            return
        name, kind, rest, method = match["name"], match["kind"], match["rest"] or "", scope["method"]
        rule = await self._rule(name)
        if rule is None:
            await self.app(scope, receive, send)
            return
        actor = scope.get("moorage.actor")
        actor = actor if isinstance(actor, Actor) else ANONYMOUS
        try:
            validate_name(name)
            if kind == "blobs/uploads" or (kind == "manifests" and method == "PUT"):
                raise push_refused(rule, name)
            if method in ("GET", "HEAD") and kind == "manifests":
                warning = await self._ensure_manifest(rule, name, rest, actor)
                if warning is not None:
                    send = _adding_header(send, b"warning", warning.encode())
            elif method in ("GET", "HEAD") and kind == "blobs":
                ranged = any(key.lower() == b"range" for key, _ in scope.get("headers", []))
                response = await self._blob(rule, name, rest, method, actor, ranged)
                if response is not None:
                    await response(scope, receive, send)
                    return
        except RegistryError as error:
            await error_response(error, method)(scope, receive, send)
            return
        except Exception:
            log.exception("pull-through cache failed on %s %s", method, path)
            failure = RegistryError(ErrorCode.UNKNOWN, "internal error in the pull-through cache; see the server log")
            await error_response(failure, method)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _rule(self, name: str) -> CacheRule | None:
        # The hot path of hosted repositories: the rules read in the last seconds, without a thread hop.
        rules = self.rules.recent()
        if rules is None:
            rules = await anyio.to_thread.run_sync(self.rules.active)
        if not rules:
            return None
        rule = rule_for(rules, name)
        if rule is not None and rule.prefix == "" and await anyio.to_thread.run_sync(self._hosted, name):
            return None
        return rule

    def _hosted(self, name: str) -> bool:
        """Under a transparent mirror, a repository pushed here (not created by the cache) is hosted."""
        with self.database.read() as connection:
            repository_id = repositories.find_id(connection, name)
            return repository_id is not None and not cache_queries.is_cached_repository(connection, repository_id)

    def client(self, rule: CacheRule) -> UpstreamClient:
        """The rule's upstream client; a changed rule (new URL, rotated credentials) gets a new one."""
        client = self._clients.get(rule.prefix)
        if client is None or client.rule != rule:
            if client is not None:
                self._retired.append(client)  # closed at shutdown: a fill may still be reading through it
            client = self._clients[rule.prefix] = UpstreamClient(rule, self.upstream_timeout)
        return client

    async def aclose(self) -> None:
        await self.fill.aclose()
        for client in [*self._clients.values(), *self._retired]:
            await client.close()

    # -- manifests ----------------------------------------------------------------------------------

    async def _ensure_manifest(self, rule: CacheRule, name: str, reference: str, actor: Actor) -> str | None:
        """Make the manifest the client asks for present and fresh; a `Warning` header when it is stale."""
        if is_digest(reference):
            digest = Digest.parse(reference)
            if await self._has_manifest(name, str(digest)):
                return None
            await self._upstream(
                rule, "manifest", self.fill.manifest(rule, self.client(rule), name, str(digest), actor)
            )
            return None
        tag = validate_tag(reference)
        cached, checked = await anyio.to_thread.run_sync(self._tag_state, name, tag)
        if cached is not None and checked is not None and now() - checked < self.tag_ttl:
            return None
        client = self.client(rule)
        try:
            current = await client.head_manifest(rule.upstream_name(name), tag)
            if current is not None and current == cached:
                await anyio.to_thread.run_sync(self.fill.tag_checked, name, tag, current)
                return None
            await self.fill.manifest(rule, client, name, tag, actor, known=current)
            return None
        except UpstreamUnavailable as error:
            self.count("upstream_error", rule.upstream_url)
            if cached is None:
                raise _unavailable(error) from None
            self.count("stale", rule.upstream_url)
            log.warning("serving %s:%s stale: %s", name, tag, error)
            return STALE_WARNING.format(upstream=rule.upstream_url, reason=error.reason)
        except UpstreamNotFound:
            raise RegistryError(
                ErrorCode.MANIFEST_UNKNOWN,
                f"manifest {tag!r} is unknown to the upstream {rule.upstream_url}",
                {"reference": tag, "upstream": rule.upstream_url},
            ) from None
        except RegistryError as error:
            if cached is None or error.code is not ErrorCode.DENIED:
                raise
            # The cached tag may not move here (an immutable tag): serve it, and say why it is behind.
            self.count("stale", rule.upstream_url)
            return STALE_WARNING.format(upstream=rule.upstream_url, reason="moved the tag; " + error.message)

    def _tag_state(self, name: str, tag: str) -> tuple[str | None, datetime | None]:
        with self.database.read() as connection:
            repository_id = repositories.find_id(connection, name)
            if repository_id is None:
                return None, None
            check = cache_queries.tag_check(connection, repository_id, tag)
        try:
            cached = self.services.manifests.get(name, tag).digest
        except RegistryError:
            return None, None
        return cached, (check.checked_at if check is not None else None)

    async def _has_manifest(self, name: str, digest: str) -> bool:
        try:
            await anyio.to_thread.run_sync(self.services.manifests.get, name, digest)
        except RegistryError:
            return False
        return True

    async def _upstream(self, rule: CacheRule, what: str, call: Awaitable[T]) -> T:
        """Await an upstream call, turning its failures into the OCI errors a client is answered with."""
        try:
            return await call
        except UpstreamUnavailable as error:
            self.count("upstream_error", rule.upstream_url)
            raise _unavailable(error) from None
        except UpstreamNotFound:
            code = ErrorCode.MANIFEST_UNKNOWN if what == "manifest" else ErrorCode.BLOB_UNKNOWN
            raise RegistryError(code, f"{what} is unknown to the upstream {rule.upstream_url}") from None
        except (RegistryError, anyio.get_cancelled_exc_class()):
            raise
        except Exception as error:  # noqa: BLE001 - a failed fill (bad bytes, broken transfer): nothing cached
            self.count("upstream_error", rule.upstream_url)
            message = f"fetching the {what} from the upstream {rule.upstream_url} failed: {error}"
            raise RegistryError(ErrorCode.UNKNOWN, message, {"upstream": rule.upstream_url}, status=502) from None

    # -- blobs ----------------------------------------------------------------------------------------

    async def _blob(
        self, rule: CacheRule, name: str, reference: str, method: str, actor: Actor, ranged: bool = False
    ) -> Response | None:
        """None when the blob is cached (the registry API serves it); else the upstream's answer.

        A `Range` request for a blob not cached yet waits for the fill (started here or already
        running) and is then answered by the registry API from the cache: `206` with the range, as
        for any cached blob, and never bytes that were not verified.
        """
        digest = Digest.parse(reference)
        if await self._has_blob(name, digest):
            return None
        running = self.fill.running(name, digest)
        if running is not None:
            await running.done.wait()
            if running.error is None:
                return None  # committed meanwhile: served from the cache
        client = self.client(rule)
        headers = {**API_VERSION_HEADER, "Docker-Content-Digest": str(digest), "Accept-Ranges": "bytes"}
        if method == "HEAD":
            size = await self._upstream(rule, "blob", client.blob_size(rule.upstream_name(name), str(digest)))
            headers["Content-Length"] = str(size)
            return Response(b"", media_type=mt.OCTET_STREAM, headers=headers)
        fill = await self.fill.start_blob(rule, client, name, digest, actor, listening=not ranged)
        if fill.elsewhere:
            return None  # another process or node filled it while this one waited: served from the cache
        if fill.error is not None:
            await self._upstream(rule, "blob", _raise(fill.error))
        if ranged:
            await fill.done.wait()
            if fill.error is not None:
                await self._upstream(rule, "blob", _raise(fill.error))
            return None
        if fill.size is not None:
            headers["Content-Length"] = str(fill.size)
        return StreamingResponse(stream_to_client(fill), media_type=mt.OCTET_STREAM, headers=headers)

    async def _has_blob(self, name: str, digest: Digest) -> bool:
        try:
            await anyio.to_thread.run_sync(self.services.blobs.size, name, digest)
        except RegistryError:
            return False
        return True


async def _raise(error: BaseException) -> None:
    raise error


def _unavailable(error: UpstreamUnavailable) -> RegistryError:
    """The OCI error for content the cache does not hold while its upstream cannot be asked."""
    detail = {"upstream": error.upstream}
    if error.retry_after is not None:
        headers = {"Retry-After": str(max(int(error.retry_after + 0.999), 1))}
        message = f"not cached, and the upstream {error.upstream} is rate limiting; retry later"
        return RegistryError(ErrorCode.TOOMANYREQUESTS, message, detail, headers=headers)
    return RegistryError(
        ErrorCode.UNKNOWN, f"not cached, and the upstream {error.upstream} {error.reason}", detail, status=502
    )


def _adding_header(send: Send, name: bytes, value: bytes) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (name, value)]}
        await send(message)

    return sending
