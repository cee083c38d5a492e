"""Which blob GETs are answered with a redirect to the object store, and which get the bytes from the node.

With `s3_redirect_seconds` set, bytes normally flow from the object store straight to the client. Some
clients cannot reach the store (another network, a firewall), and some routes of a load balancer are
meant to carry the bytes: requests from `s3_redirect_exclude_networks`, or sent to a host name in
`s3_redirect_exclude_hosts`, are streamed by the node instead. The client's address is the one the
trusted proxies reported (`trusted_proxies`), else the connection's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from starlette.requests import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class RedirectPolicy:
    excluded_networks: tuple[Network, ...] = ()
    excluded_hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, networks: Iterable[Network], hosts: Iterable[str]) -> RedirectPolicy:
        return cls(tuple(networks), frozenset(host.strip().lower() for host in hosts if host.strip()))

    def allows(self, request: Request) -> bool:
        """Whether this request may be redirected to the object store."""
        if self.excluded_hosts and request_host(request) in self.excluded_hosts:
            return False
        if self.excluded_networks:
            address = _address(request.client.host if request.client else None)
            if address is None or any(address in network for network in self.excluded_networks):
                return False  # an unknown client gets the bytes: the node can always serve them
        return True


def request_host(request: Request) -> str | None:
    """The host name the request was sent to (Host header), lower case, without port or brackets."""
    header = request.headers.get("host")
    return urlsplit(f"//{header}").hostname if header else None


def _address(host: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host) if host else None
    except ValueError:
        return None
