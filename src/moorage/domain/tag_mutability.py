"""Tag mutability: which tags of a repository may move, as ECR spells it (a pure policy).

`MUTABLE` and `IMMUTABLE` apply to every tag; the `*_WITH_EXCLUSION` settings invert the rule for tags
matching one of the exclusion filters (ECR's wildcard grammar `^[0-9a-zA-Z._*-]{1,128}$`, `*` matching
any run of characters, possibly empty). `IMMUTABLE_WITH_EXCLUSION` with `latest` and `dev-*` keeps
those two kinds of tag moving while every other tag is fixed once pushed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

FILTER_GRAMMAR = re.compile(r"^[0-9a-zA-Z._*-]{1,128}$")
MAX_FILTERS = 5
"""ECR accepts at most five exclusion filters per repository."""


class TagMutability(StrEnum):
    MUTABLE = "MUTABLE"
    IMMUTABLE = "IMMUTABLE"
    IMMUTABLE_WITH_EXCLUSION = "IMMUTABLE_WITH_EXCLUSION"
    MUTABLE_WITH_EXCLUSION = "MUTABLE_WITH_EXCLUSION"

    @property
    def takes_filters(self) -> bool:
        return self in (TagMutability.IMMUTABLE_WITH_EXCLUSION, TagMutability.MUTABLE_WITH_EXCLUSION)


class InvalidMutabilityRule(ValueError):
    """A mutability setting or filter that does not follow ECR's rules."""


def validate_filter(pattern: str) -> str:
    if not FILTER_GRAMMAR.match(pattern):
        raise InvalidMutabilityRule(
            f"exclusion filter {pattern!r} must match {FILTER_GRAMMAR.pattern} (letters, digits, . _ - and *)"
        )
    return pattern


def unique_filters(filters: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The filters, refused if one repeats (a repeat is a typo or a merge gone wrong, never meant)."""
    seen: set[str] = set()
    for pattern in filters:
        if pattern in seen:
            raise InvalidMutabilityRule(f"exclusion filter {pattern!r} is given twice")
        seen.add(pattern)
    return tuple(filters)


def filter_matches(pattern: str, tag: str) -> bool:
    """Whether a wildcard filter matches the whole tag (`v*` matches `v1.0`, not `xv1`)."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, tag) is not None


@dataclass(frozen=True)
class TagImmutability:
    """What was decided about a tag, and why (the reason names the rule for error messages)."""

    immutable: bool
    reason: str


@dataclass(frozen=True)
class MutabilityRule:
    mutability: TagMutability = TagMutability.MUTABLE
    filters: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.filters and not self.mutability.takes_filters:
            raise InvalidMutabilityRule(f"{self.mutability} takes no exclusion filters")
        if self.mutability.takes_filters and not self.filters:
            raise InvalidMutabilityRule(f"{self.mutability} needs at least one exclusion filter")
        if len(self.filters) > MAX_FILTERS:
            raise InvalidMutabilityRule(f"at most {MAX_FILTERS} exclusion filters are allowed")
        for pattern in self.filters:
            validate_filter(pattern)

    def decide(self, tag: str) -> TagImmutability:
        """Whether `tag` is immutable under this rule, with the reason."""
        if self.mutability is TagMutability.MUTABLE:
            return TagImmutability(False, "tag mutability is MUTABLE")
        if self.mutability is TagMutability.IMMUTABLE:
            return TagImmutability(True, "tag mutability is IMMUTABLE")
        matched = next((p for p in self.filters if filter_matches(p, tag)), None)
        inverted = matched is not None
        immutable = inverted != (self.mutability is TagMutability.IMMUTABLE_WITH_EXCLUSION)
        if inverted:
            reason = f"tag mutability is {self.mutability} and the tag matches exclusion filter {matched!r}"
        else:
            reason = f"tag mutability is {self.mutability} and the tag matches no exclusion filter"
        return TagImmutability(immutable, reason)
