"""Where webhooks may be sent: SSRF defences, checked when a subscription is saved and at every delivery.

A subscriber chooses the URL, so the registry must not become a way to reach what only it can
reach. Always refused: cloud metadata and link-local addresses (169.254.0.0/16, fe80::/10,
fd00:ec2::254), unspecified, multicast and reserved addresses. Refused unless the
`webhook_allow_private_targets` setting allows them: loopback, private and other non-global
addresses (10/8, 172.16/12, 192.168/16, 127/8, ::1, fc00::/7, 100.64/10…). A host name is resolved
at every delivery and each of its addresses checked (a name that resolved to a public address
when saved may resolve to 127.0.0.1 later: DNS rebinding); the request then goes to the checked
address itself, so a second resolution cannot swap it. Redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALWAYS_REFUSED = [
    ipaddress.ip_network(network)
    for network in (
        "169.254.0.0/16",  # link-local, and the metadata service of most clouds (169.254.169.254)
        "fe80::/10",
        "fd00:ec2::254/128",  # AWS's IPv6 metadata service
        "100.100.100.200/32",  # Alibaba Cloud's metadata service
        "0.0.0.0/8",
    )
]

SHARED = ipaddress.ip_network("100.64.0.0/10")
"""Carrier-grade NAT space: neither global nor `is_private` in Python, private for our purposes."""

Resolver = Callable[[str, int], list[str]]


class TargetRefused(Exception):
    """A URL or address webhooks may not be sent to; the message says why."""


def _system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise TargetRefused(f"{host} does not resolve: {error}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_address(address: IPAddress, allow_private: bool) -> None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in ALWAYS_REFUSED if network.version == address.version):
        raise TargetRefused(f"{address} is a link-local or metadata address")
    if address.is_unspecified or address.is_multicast or address.is_link_local:
        raise TargetRefused(f"{address} is not a unicast address webhooks may reach")
    if address.is_global:
        return
    if address.is_loopback or address.is_private or address in SHARED:
        if not allow_private:
            raise TargetRefused(f"{address} is a private or loopback address (webhook_allow_private_targets is off)")
        return
    raise TargetRefused(f"{address} is a reserved address")


@dataclass(frozen=True)
class Target:
    """A checked webhook URL: its scheme, host, port and path."""

    url: str
    scheme: str
    host: str
    port: int
    path: str

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def parse(url: str) -> Target:
    """A URL's parts, or TargetRefused: http(s) only, a host, no credentials in it."""
    if any(ord(character) <= 32 or ord(character) == 127 for character in url):
        raise TargetRefused("a webhook URL has no spaces or control characters (percent-encode them)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise TargetRefused(f"not a valid URL: {error}") from None
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("a webhook URL is http:// or https://")
    if not parts.hostname:
        raise TargetRefused("a webhook URL names a host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("a webhook URL carries no credentials (the signature authenticates the registry)")
    if parts.fragment:
        raise TargetRefused("a webhook URL has no fragment")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    default = 443 if parts.scheme == "https" else 80
    return Target(url, parts.scheme, parts.hostname, port or default, path)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


@dataclass
class TargetPolicy:
    """Checks URLs and resolves them to an address that may be reached."""

    allow_private: bool
    resolver: Resolver = field(default=_system_resolver)

    def check(self, url: str) -> Target:
        """Check a URL when it is saved: its form, and every address its host has now."""
        target = parse(url)
        self.resolve(target)
        return target

    def resolve(self, target: Target) -> IPAddress:
        """The address to connect to: every address of the host must be allowed (else TargetRefused)."""
        literal = _literal(target.host)
        addresses = (
            [literal]
            if literal is not None
            else [ipaddress.ip_address(a) for a in self.resolver(target.host, target.port)]
        )
        if not addresses:
            raise TargetRefused(f"{target.host} has no address")
        for address in addresses:
            check_address(address, self.allow_private)
        return addresses[0]
