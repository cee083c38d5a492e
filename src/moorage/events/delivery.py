"""One delivery attempt: a signed POST to the checked address, with a bounded timeout, no redirects.

The request goes to the address `TargetPolicy.resolve` checked (the URL's host in the `Host`
header and, for HTTPS, in SNI and certificate checks), so DNS cannot change it between the check
and the connection. The response body is never read: a receiver's answer is its status code.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass

import httpx

from moorage import __version__
from moorage.events.targets import TargetPolicy, TargetRefused, parse

USER_AGENT = f"moorage-webhooks/{__version__}"


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    error: str | None
    duration_ms: float

    @property
    def succeeded(self) -> bool:
        return self.error is None and self.status_code is not None and 200 <= self.status_code < 300


class Sender:
    def __init__(self, policy: TargetPolicy, timeout: float, verify: ssl.SSLContext | bool = True) -> None:
        """`verify`: how HTTPS receivers' certificates are checked (default: the system's CAs)."""
        self.policy = policy
        self.timeout = timeout
        # trust_env=False: no proxy from the environment may carry webhooks past the address checks.
        self._client = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False, verify=verify)

    def close(self) -> None:
        self._client.close()

    def send(self, url: str, headers: dict[str, str], body: bytes) -> AttemptResult:
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            target = parse(url)
            address = self.policy.resolve(target)
            host = f"[{address}]" if address.version == 6 else str(address)
            pinned = f"{target.scheme}://{host}:{target.port}{target.path}"
            extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
            request_headers = {
                **headers,
                "Host": target.host_header,
                "User-Agent": USER_AGENT,
                "Content-Type": "application/json",
            }
            request = self._client.build_request(
                "POST", pinned, content=body, headers=request_headers, extensions=extensions
            )
            response = self._client.send(request, stream=True)
            try:
                status = response.status_code
            finally:
                response.close()
            if 300 <= status < 400:
                error = "redirects are not followed"
            elif not 200 <= status < 300:
                error = f"HTTP {status}"
        except TargetRefused as refused:
            error = f"target refused: {refused}"
        except httpx.TimeoutException:
            error = f"timed out after {self.timeout:g} s"
        except httpx.HTTPError as failure:
            error = f"{type(failure).__name__}: {failure}" if str(failure) else type(failure).__name__
        return AttemptResult(status, error, (time.monotonic() - started) * 1000)
