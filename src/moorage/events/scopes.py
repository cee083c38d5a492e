"""What a subscription listens to: one repository, every repository under a namespace, or the registry.

A namespace subscription on `team` hears `team/app` and `team/tools/cli` but not `teamwork/app`,
the same prefix rule as grants on `team/*`.
"""

from __future__ import annotations

from enum import StrEnum

REGISTRY_SCOPE = "*"


class ScopeKind(StrEnum):
    REPOSITORY = "repository"
    NAMESPACE = "namespace"
    REGISTRY = "registry"


def scopes_of(repository: str) -> list[str]:
    """Every scope value a subscription hearing `repository` may have: itself, its namespaces, `*`."""
    parts = repository.split("/")
    return [repository, *("/".join(parts[:i]) for i in range(1, len(parts))), REGISTRY_SCOPE]


def hears(kind: str, scope: str, repository: str) -> bool:
    """Whether a subscription on (`kind`, `scope`) hears events of `repository`."""
    if kind == ScopeKind.REGISTRY:
        return scope == REGISTRY_SCOPE
    if kind == ScopeKind.REPOSITORY:
        return scope == repository
    return repository.startswith(scope + "/")


def permission_pattern(kind: str, scope: str) -> str:
    """The grant pattern whose admins manage a subscription (`*` means registry administrators)."""
    if kind == ScopeKind.NAMESPACE:
        return f"{scope}/*"
    return scope
