"""Docker token scopes (`repository:team/app:pull,push`, `registry:catalog:*`) and access claims."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from moorage.domain.access import Action


class InvalidScope(ValueError):
    """A scope that does not follow the `type:name:actions` grammar."""


@dataclass(frozen=True)
class Scope:
    """One resource and the actions asked for (or granted) on it."""

    type: str
    name: str
    actions: frozenset[str]

    def text(self) -> str:
        return f"{self.type}:{self.name}:{','.join(sorted(self.actions))}"

    def claim(self) -> dict[str, object]:
        """The entry of the token's `access` list (Docker token spec)."""
        return {"type": self.type, "name": self.name, "actions": sorted(self.actions)}


def parse_scope(text: str) -> Scope:
    """Parse `type[(class)]:name:actions`; the name may itself contain `:` (a registry host port)."""
    parts = text.split(":")
    if len(parts) < 3 or not parts[0] or not parts[-2] and len(parts) == 3:
        raise InvalidScope(f"invalid scope {text!r}: expected type:name:actions")
    kind = parts[0].split("(", 1)[0]
    name = ":".join(parts[1:-1])
    actions = frozenset(action for action in parts[-1].split(",") if action)
    if not kind or not name:
        raise InvalidScope(f"invalid scope {text!r}: expected type:name:actions")
    return Scope(kind, name, actions)


def parse_scopes(values: Iterable[str]) -> list[Scope]:
    """Every scope of the `scope` parameters; each may hold several, separated by spaces (OAuth2)."""
    scopes: list[Scope] = []
    for value in values:
        scopes.extend(parse_scope(part) for part in value.split() if part)
    return merge(scopes)


def merge(scopes: Iterable[Scope]) -> list[Scope]:
    """One scope per resource, with the union of the actions asked for it, in first-seen order."""
    merged: dict[tuple[str, str], set[str]] = {}
    for scope in scopes:
        merged.setdefault((scope.type, scope.name), set()).update(scope.actions)
    return [Scope(kind, name, frozenset(actions)) for (kind, name), actions in merged.items()]


def requested_actions(scope: Scope) -> frozenset[Action]:
    """The repository actions a scope asks for; `*` asks for all, unknown words are ignored."""
    if "*" in scope.actions:
        return frozenset(Action)
    return frozenset(Action(a) for a in scope.actions if a in Action._value2member_map_)


def access_map(claims: Iterable[dict[str, object]]) -> dict[tuple[str, str], frozenset[str]]:
    """A token's `access` claim as a lookup table."""
    table: dict[tuple[str, str], frozenset[str]] = {}
    for entry in claims:
        key = (str(entry.get("type")), str(entry.get("name")))
        actions = entry.get("actions") or []
        names = frozenset(str(a) for a in actions) if isinstance(actions, list) else frozenset()
        table[key] = table.get(key, frozenset()) | names
    return table
