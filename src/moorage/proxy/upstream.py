"""The client of one upstream registry: manifests and blobs over the distribution API, with its auth.

Authentication follows the Docker token spec: a `401` with `WWW-Authenticate: Bearer realm=…,
service=…,scope=…` is answered by fetching a token from the realm (anonymously, or with the
rule's credentials as HTTP Basic) and retrying once; a `Basic` challenge gets the credentials
directly. Tokens are kept per scope until shortly before they expire.

A `429` (or a network failure, or a `5xx`) raises `UpstreamUnavailable`; a `429` also starts a
back-off (its `Retry-After`, at least a few seconds) during which this process does not ask that
upstream again: cached content is served meanwhile and uncached requests are told to retry later.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx

from moorage.domain import media_types as mt
from moorage.domain.manifests import MAX_MANIFEST_SIZE
from moorage.proxy.rules import CacheRule
from moorage.proxy.transport import upstream_transport

MANIFEST_ACCEPT = ", ".join(
    [mt.OCI_INDEX, mt.OCI_MANIFEST, mt.DOCKER_MANIFEST_LIST, mt.DOCKER_MANIFEST, mt.JSON + ";q=0.5"]
)
DEFAULT_BACKOFF_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 3600.0
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


class UpstreamUnavailable(Exception):
    """The upstream did not answer usefully: unreachable, failing, or rate limiting (`retry_after`)."""

    def __init__(self, upstream: str, reason: str, retry_after: float | None = None) -> None:
        super().__init__(f"upstream {upstream} {reason}")
        self.upstream = upstream
        self.reason = reason
        self.retry_after = retry_after


class UpstreamNotFound(Exception):
    """The upstream answered that the manifest or blob does not exist (or is not readable)."""


@dataclass(frozen=True)
class UpstreamManifest:
    digest: str | None
    media_type: str
    payload: bytes


class UpstreamClient:
    """Talks to the upstream of one rule; one per rule and process (it keeps tokens and back-off)."""

    def __init__(self, rule: CacheRule, timeout: float, http: httpx.AsyncClient | None = None) -> None:
        self.rule = rule
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, read=timeout),
            follow_redirects=True,
            trust_env=False,
            transport=upstream_transport(),
        )
        self._tokens: dict[str, tuple[str, float]] = {}
        self._backoff_until = 0.0

    async def close(self) -> None:
        await self._http.aclose()

    def backing_off(self) -> float | None:
        """Seconds left of a rate-limit back-off, or None."""
        left = self._backoff_until - time.monotonic()
        return left if left > 0 else None

    async def head_manifest(self, name: str, reference: str) -> str | None:
        """The digest the upstream's tag (or digest) resolves to now; None if it does not say."""
        async with self._request("HEAD", name, f"manifests/{reference}", {"Accept": MANIFEST_ACCEPT}) as response:
            digest: str | None = response.headers.get("docker-content-digest")
            return digest

    async def get_manifest(self, name: str, reference: str) -> UpstreamManifest:
        async with self._request("GET", name, f"manifests/{reference}", {"Accept": MANIFEST_ACCEPT}) as response:
            payload = bytearray()
            async for piece in response.aiter_bytes():
                payload += piece
                if len(payload) > MAX_MANIFEST_SIZE:
                    raise UpstreamUnavailable(self.rule.upstream_url, f"sent a manifest over {MAX_MANIFEST_SIZE} bytes")
            media_type = response.headers.get("content-type", "").split(";")[0].strip()
            return UpstreamManifest(response.headers.get("docker-content-digest"), media_type, bytes(payload))

    async def blob_size(self, name: str, digest: str) -> int:
        async with self._request("HEAD", name, f"blobs/{digest}", {}) as response:
            return int(response.headers.get("content-length", "0"))

    @contextlib.asynccontextmanager
    async def open_blob(self, name: str, digest: str) -> AsyncIterator[httpx.Response]:
        """The upstream's streaming response for a blob (read it with `aiter_bytes`)."""
        async with self._request("GET", name, f"blobs/{digest}", {}) as response:
            yield response

    @contextlib.asynccontextmanager
    async def _request(
        self, method: str, name: str, path: str, headers: dict[str, str]
    ) -> AsyncIterator[httpx.Response]:
        left = self.backing_off()
        if left is not None:
            raise UpstreamUnavailable(self.rule.upstream_url, "is rate limiting this registry", left)
        url = f"{self.rule.upstream_url}/v2/{name}/{path}"
        scope = f"repository:{name}:pull"
        response = None
        try:
            for attempt in range(2):
                sent = dict(headers)
                authorization = self._authorization(scope)
                if authorization:
                    sent["Authorization"] = authorization
                response = await self._http.send(self._http.build_request(method, url, headers=sent), stream=True)
                if response.status_code != 401 or attempt == 1:
                    break
                challenge = response.headers.get("www-authenticate", "")
                await response.aclose()
                await self._answer_challenge(challenge, scope)
            assert response is not None
            self._check(response)
            yield response
        except httpx.HTTPError as error:
            raise UpstreamUnavailable(self.rule.upstream_url, f"is unreachable ({type(error).__name__})") from None
        finally:
            if response is not None:
                await response.aclose()

    def _check(self, response: httpx.Response) -> None:
        status = response.status_code
        if status == 429:
            retry_after = _seconds(response.headers.get("retry-after"))
            self._backoff_until = time.monotonic() + min(retry_after or DEFAULT_BACKOFF_SECONDS, MAX_BACKOFF_SECONDS)
            raise UpstreamUnavailable(self.rule.upstream_url, "is rate limiting this registry (429)", retry_after)
        if status in (401, 403):
            raise UpstreamUnavailable(self.rule.upstream_url, f"refused the cache's credentials ({status})")
        if status == 404:
            raise UpstreamNotFound(f"{response.request.url.path} is unknown to {self.rule.upstream_url}")
        if status >= 400:
            raise UpstreamUnavailable(self.rule.upstream_url, f"answered {status}")

    def _authorization(self, scope: str) -> str | None:
        token = self._tokens.get(scope)
        if token is not None and token[1] > time.monotonic():
            return f"Bearer {token[0]}"
        basic = self._tokens.get("basic")
        return basic[0] if basic is not None else None

    async def _answer_challenge(self, challenge: str, scope: str) -> None:
        credentials = self.rule.credentials
        auth = httpx.BasicAuth(credentials.username, credentials.password) if credentials else None
        scheme = challenge.split(" ", 1)[0].lower()
        if scheme == "basic" and auth is not None:
            request = self._http.build_request("GET", self.rule.upstream_url)
            basic = next(auth.auth_flow(request)).headers["Authorization"]
            self._tokens["basic"] = (basic, float("inf"))
            return
        if scheme != "bearer":
            return
        params = dict(_CHALLENGE_PARAM.findall(challenge))
        realm = params.get("realm")
        if not realm:
            return
        query = {"service": params.get("service", ""), "scope": params.get("scope", scope)}
        try:
            answer = await self._http.get(realm, params=query, auth=auth)
        except httpx.HTTPError as error:
            raise UpstreamUnavailable(
                self.rule.upstream_url, f"token service is unreachable ({type(error).__name__})"
            ) from None
        if answer.status_code != 200:
            raise UpstreamUnavailable(self.rule.upstream_url, f"token service refused the cache ({answer.status_code})")
        document = answer.json()
        token = document.get("token") or document.get("access_token")
        if not isinstance(token, str):
            raise UpstreamUnavailable(self.rule.upstream_url, "token service answered without a token")
        lifetime = float(document.get("expires_in") or 60)
        self._tokens[scope] = (token, time.monotonic() + max(lifetime - 10, 5))


def _seconds(value: str | None) -> float | None:
    """`Retry-After` in seconds (the HTTP-date form is rare for registries and is read as absent)."""
    if value is None:
        return None
    try:
        return max(float(value.strip()), 0.0)
    except ValueError:
        return None
