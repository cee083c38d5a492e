"""The tag naming rules as a pure function: glob and regex patterns, refused over allowed, layered sources."""

from __future__ import annotations

import pytest

from moorage.governance.tag_rules import InvalidTagRule, RulesInForce, TagRules, decide, namespaces_of, parse_pattern

PROD = RulesInForce(
    "namespace",
    "prod",
    TagRules.of({"allowed": ["v[0-9]*.[0-9]*.[0-9]*", "re:^sha-[0-9a-f]{7,40}$"], "refused": ["latest"]}),
)


@pytest.mark.parametrize(
    ("pattern", "tag", "matches"),
    [
        ("latest", "latest", True),
        ("latest", "latest2", False),
        ("glob:v*", "v1", True),
        ("glob:v*", "xv1", False),
        ("v?", "v1", True),
        ("v?", "v10", False),
        ("[!a-z]*", "1abc", True),
        ("[!a-z]*", "abc", False),
        ("re:^sha-[0-9a-f]{7,40}$", "sha-abcdef0", True),
        ("re:sha-[0-9a-f]{7,40}", "sha-abcdef0", True),  # anchoring is implicit
        ("re:sha-[0-9a-f]{7,40}", "xsha-abcdef0", False),
        ("re:sha-[0-9a-f]{7,40}", "sha-abcdef0x", False),
        ("re:^v[0-9]+\\.[0-9]+\\.[0-9]+(-rc[0-9]+)?$", "v1.2.3-rc4", True),
        ("LATEST", "latest", False),  # case-sensitive
    ],
)
def test_a_pattern_matches_the_whole_tag(pattern: str, tag: str, matches: bool) -> None:
    assert parse_pattern(pattern).matches(tag) is matches


@pytest.mark.parametrize(
    ("tag", "allowed", "reason"),
    [
        ("v1.2.3", True, "tag 'v1.2.3' follows prod/*"),
        ("sha-0123456", True, "tag 'sha-0123456' follows prod/*"),
        ("latest", False, "tag 'latest' is refused by prod/*'s rule 'latest'"),
        ("main", False, "tag 'main' matches none of prod/*'s allowed patterns"),
    ],
)
def test_the_issue_example(tag: str, allowed: bool, reason: str) -> None:
    decision = decide(tag, [PROD])
    assert decision.allowed is allowed
    assert decision.reason.startswith(reason)


def test_refused_wins_over_allowed_and_names_its_pattern() -> None:
    rules = RulesInForce("repository", "a/b", TagRules.of({"allowed": ["*"], "refused": ["re:^tmp-.*$"]}))
    decision = decide("tmp-1", [rules])
    assert (decision.allowed, decision.rule, decision.source) == (False, "re:^tmp-.*$", "a/b")


def test_an_empty_allow_list_allows_everything_not_refused() -> None:
    rules = RulesInForce("repository", "a/b", TagRules.of({"refused": ["latest"]}))
    assert decide("whatever", [rules]).allowed
    assert not decide("latest", [rules]).allowed
    assert decide("latest", []).allowed


def test_every_layer_must_pass_and_the_first_refusal_names_its_source() -> None:
    own = RulesInForce("repository", "prod/api", TagRules.of({"allowed": ["*"]}))
    assert decide("latest", [PROD, own]).source == "prod/*"
    strict = RulesInForce("repository", "prod/api", TagRules.of({"refused": ["v0*"]}))
    assert decide("v0.1.0", [PROD, strict]).source == "prod/api"


def test_rules_round_trip_as_written() -> None:
    document = {"allowed": ["v*", "re:^sha-[0-9a-f]{7,40}$"], "refused": ["glob:latest"]}
    assert TagRules.of(document).to_document() == document


def test_namespaces_of_a_repository_outermost_first() -> None:
    assert namespaces_of("a/b/c") == ["a", "a/b"]
    assert namespaces_of("solo") == []


@pytest.mark.parametrize(
    "pattern",
    [
        "re:(a+)+$",
        "re:^(a|aa)*$",
        "re:^(x*)*y$",
        "re:^([0-9]+\\.){1,3}$",
        "re:^(a{1,100}){1,100}$",
        "re:^[a-z]*[a-z]*[a-z]*[a-z]*[a-z]*[0-9]$",
        "re:^(a)\\1$",
        "re:^(?=v)v1$",
        "re:^(?!v)x$",
        "re:(?P<x>a)(?(x)b|c)",
        "re:[unclosed",
        "re:",
        "re:" + "a" * 257,
        "re:v\x00",
        "glob:v/1",
        "glob:[unclosed",
        "glob:v]",
        "glob:",
        "",
    ],
)
def test_invalid_and_catastrophic_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(InvalidTagRule):
        parse_pattern(pattern)


def test_the_worst_accepted_regex_still_answers_on_the_longest_tag() -> None:
    """Four open-ended repetitions over the same characters is the worst the checks allow (pytest-timeout guards)."""
    worst = parse_pattern("re:^[a-z]*[a-z]*[a-z]*[a-z]*[0-9]$")
    assert not worst.matches("a" * 128)


@pytest.mark.parametrize(
    "document",
    [[], {"allow": ["v*"]}, {"allowed": "v*"}, {"allowed": ["v*", "v*"]}, {"refused": [1]}, {"allowed": ["v*"] * 21}],
)
def test_malformed_rule_sets_are_refused(document: object) -> None:
    with pytest.raises(InvalidTagRule):
        TagRules.of(document)
