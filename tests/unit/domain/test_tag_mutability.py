"""Tag mutability rules: ECR's four settings and the wildcard exclusion filters."""

from __future__ import annotations

import pytest

from moorage.domain.tag_mutability import (
    InvalidMutabilityRule,
    MutabilityRule,
    TagMutability,
    filter_matches,
    validate_filter,
)

IWE = TagMutability.IMMUTABLE_WITH_EXCLUSION
MWE = TagMutability.MUTABLE_WITH_EXCLUSION


@pytest.mark.parametrize(
    ("pattern", "tag", "matches"),
    [
        ("latest", "latest", True),
        ("latest", "latest2", False),
        ("latest", "xlatest", False),
        ("v*", "v1.0.0", True),
        ("v*", "v", True),
        ("v*", "av1", False),
        ("*-rc", "1.0-rc", True),
        ("*-rc", "1.0-rc1", False),
        ("dev-*", "dev-feature.x", True),
        ("dev-*", "dev", False),
        ("*", "anything", True),
        ("a*b*c", "aXXbYYc", True),
        ("a*b*c", "acb", False),
        ("1.0", "1x0", False),  # `.` is literal, not a regex wildcard
        ("sha-*", "sha-0123abc", True),
    ],
)
def test_wildcard_filters_match_whole_tags(pattern: str, tag: str, matches: bool) -> None:
    assert filter_matches(pattern, tag) is matches


@pytest.mark.parametrize("pattern", ["", "a" * 129, "v[0-9]", "v?", "tag/x", "tag name", "ü"])
def test_filters_outside_the_ecr_grammar_are_refused(pattern: str) -> None:
    with pytest.raises(InvalidMutabilityRule):
        validate_filter(pattern)


@pytest.mark.parametrize(
    ("rule", "tag", "immutable"),
    [
        (MutabilityRule(TagMutability.MUTABLE), "v1", False),
        (MutabilityRule(TagMutability.IMMUTABLE), "latest", True),
        (MutabilityRule(IWE, ("latest", "dev-*")), "latest", False),
        (MutabilityRule(IWE, ("latest", "dev-*")), "dev-42", False),
        (MutabilityRule(IWE, ("latest", "dev-*")), "v1.0.0", True),
        (MutabilityRule(IWE, ("latest", "dev-*")), "sha-abc", True),
        (MutabilityRule(MWE, ("v*", "sha-*")), "v1.0.0", True),
        (MutabilityRule(MWE, ("v*", "sha-*")), "sha-abc", True),
        (MutabilityRule(MWE, ("v*", "sha-*")), "latest", False),
        (MutabilityRule(MWE, ("v*", "sha-*")), "dev-1", False),
    ],
)
def test_exclusion_matrix(rule: MutabilityRule, tag: str, immutable: bool) -> None:
    decision = rule.decide(tag)
    assert decision.immutable is immutable
    assert rule.mutability.value in decision.reason


def test_the_reason_names_the_matching_filter() -> None:
    decision = MutabilityRule(MWE, ("v*",)).decide("v2")
    assert "'v*'" in decision.reason


@pytest.mark.parametrize(
    ("mutability", "filters"),
    [
        (TagMutability.MUTABLE, ("latest",)),
        (TagMutability.IMMUTABLE, ("latest",)),
        (IWE, ()),
        (MWE, ()),
        (IWE, ("a", "b", "c", "d", "e", "f")),
        (IWE, ("bad/filter",)),
    ],
)
def test_inconsistent_rules_are_refused(mutability: TagMutability, filters: tuple[str, ...]) -> None:
    with pytest.raises(InvalidMutabilityRule):
        MutabilityRule(mutability, filters)
