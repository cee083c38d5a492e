"""Cache rules: which local repositories are cached from which upstream, and under what name there.

Pure: matching a repository name to a rule and naming its upstream repository. A rule with prefix
`docker-hub` caches `docker-hub/<rest>` from `<upstream>/<upstream_prefix>/<rest>`; the empty prefix
is a transparent mirror of one upstream (every name no other rule claims). Docker Hub keeps official
images under an implicit `library/` namespace, so `docker-hub/nginx` is `library/nginx` there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from moorage.domain.errors import ErrorCode, RegistryError

DOCKER_HUB_HOSTS = frozenset({"registry-1.docker.io", "docker.io", "index.docker.io", "registry.hub.docker.com"})
_PREFIX = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")


class InvalidRule(ValueError):
    """A rule's prefix or upstream is not acceptable (the API answers 400)."""


@dataclass(frozen=True)
class UpstreamCredentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never print the password, even in a traceback
        return f"UpstreamCredentials(username={self.username!r}, password='***')"


@dataclass(frozen=True)
class CacheRule:
    prefix: str
    """The local namespace the cache claims; "" mirrors one upstream for every name no other rule claims."""
    upstream_url: str
    """Scheme and host (and port) of the upstream registry, without a path: `https://registry-1.docker.io`."""
    upstream_prefix: str | None = None
    credentials: UpstreamCredentials | None = None

    @property
    def upstream_host(self) -> str:
        return urlsplit(self.upstream_url).netloc

    def covers(self, name: str) -> bool:
        return self.prefix == "" or name.startswith(self.prefix + "/")

    def upstream_name(self, name: str) -> str:
        """The upstream repository of a local one this rule covers (`docker-hub/nginx` -> `library/nginx`)."""
        rest = name[len(self.prefix) + 1 :] if self.prefix else name
        if self.upstream_prefix:
            return f"{self.upstream_prefix}/{rest}"
        if "/" not in rest and self.upstream_host.split(":")[0] in DOCKER_HUB_HOSTS:
            return f"library/{rest}"
        return rest


def rule_for(rules: Iterable[CacheRule], name: str) -> CacheRule | None:
    """The rule with the longest prefix covering `name`, or None (a hosted repository)."""
    best: CacheRule | None = None
    for rule in rules:
        if rule.covers(name) and (best is None or len(rule.prefix) > len(best.prefix)):
            best = rule
    return best


def check_prefix(prefix: str) -> str:
    """A local prefix: "" (a mirror) or one or more path components of the name grammar."""
    if prefix and (len(prefix) > 200 or not _PREFIX.match(prefix)):
        raise InvalidRule(f"prefix {prefix!r} is not a repository namespace (lowercase path components)")
    return prefix


def check_upstream_prefix(prefix: str | None) -> str | None:
    if prefix is None or prefix == "":
        return None
    if len(prefix) > 200 or not _PREFIX.match(prefix):
        raise InvalidRule(f"upstream prefix {prefix!r} is not a repository namespace")
    return prefix


def check_upstream_url(url: str) -> str:
    """`http(s)://host[:port]`, nothing else: the registry API lives at its root."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise InvalidRule(f"upstream {url!r} is not an http(s) URL of a registry")
    if parts.path not in ("", "/"):
        raise InvalidRule(f"upstream {url!r} has a path; name the registry's root (use --upstream-prefix)")
    if "@" in parts.netloc:
        raise InvalidRule("put upstream credentials in --username/--password, not in the URL")
    return f"{parts.scheme}://{parts.netloc}"


def push_refused(rule: CacheRule, name: str) -> RegistryError:
    """Pushing into a cached repository is refused: its content is the upstream's."""
    where = f"{rule.prefix}/" if rule.prefix else "this registry"
    return RegistryError(
        ErrorCode.DENIED,
        f"{name} is cached from {rule.upstream_url} ({where} is a pull-through cache): pushes are refused",
        {"name": name, "upstream": rule.upstream_url},
    )
