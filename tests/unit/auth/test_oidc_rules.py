"""Claim rules: which claims earn which grants, and which rules are refused outright."""

from __future__ import annotations

import pytest

from moorage.auth.grants import Grant
from moorage.auth.oidc_rules import ClaimRule, InvalidRule, claim_pattern_matches, evaluate
from moorage.domain.access import Action

PULL = frozenset({Action.PULL})
PUSH = frozenset({Action.PULL, Action.PUSH})


def rule(
    claims: dict[str, str], repositories: tuple[str, ...] = ("acme/api",), actions=PUSH, name: str = "r"
) -> ClaimRule:
    return ClaimRule(name, claims, repositories, frozenset(actions))


GITHUB_CLAIMS = {
    "sub": "repo:acme/api:ref:refs/heads/main",
    "repository": "acme/api",
    "repository_owner": "acme",
    "ref": "refs/heads/main",
    "environment": "production",
    "run_attempt": 1,
    "pull_request": False,
    "aud": ["a", "b"],
}


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("acme/api", "acme/api", True),
        ("acme/api", "acme/api2", False),
        ("acme/*", "acme/api", True),
        ("refs/heads/*", "refs/heads/feature/x", True),
        ("refs/heads/*", "refs/tags/v1", False),
        ("repo:acme/*:ref:refs/heads/main", "repo:acme/api:ref:refs/heads/main", True),
        ("repo:acme/*:ref:refs/heads/main", "repo:acme/api:ref:refs/heads/dev", False),
        ("v?", "v1", True),
        ("v?", "v10", False),
        ("a.b", "axb", False),
        ("[ab]", "a", False),
        ("ACME", "acme", False),
    ],
)
def test_claim_patterns_are_exact_or_glob(pattern: str, value: str, expected: bool) -> None:
    assert claim_pattern_matches(pattern, value) is expected


def test_a_rule_whose_conditions_all_hold_grants_its_repositories() -> None:
    decision = evaluate([rule({"repository": "acme/api", "ref": "refs/heads/*"})], GITHUB_CLAIMS)
    assert decision.grants == (Grant("acme/api", PUSH),)
    assert decision.matched_rules == ("r",)


def test_one_failing_condition_means_no_grant_and_says_which() -> None:
    decision = evaluate([rule({"repository": "acme/api", "ref": "refs/tags/*"})], GITHUB_CLAIMS)
    assert decision.grants == ()
    assert "ref does not match 'refs/tags/*'" in decision.explain()


def test_a_missing_claim_never_matches_not_even_a_wildcard() -> None:
    decision = evaluate([rule({"environment": "prod*", "repository": "acme/api"})], {"repository": "acme/api"})
    assert decision.grants == ()
    assert "claim 'environment' is missing" in decision.explain()


def test_numbers_and_booleans_compare_as_text_lists_match_nothing() -> None:
    assert evaluate([rule({"run_attempt": "1"})], GITHUB_CLAIMS).grants
    assert evaluate([rule({"pull_request": "false"})], GITHUB_CLAIMS).grants
    assert not evaluate([rule({"aud": "a"})], GITHUB_CLAIMS).grants


def test_repository_templates_give_each_ci_repository_its_own_registry_repository() -> None:
    decision = evaluate([rule({"repository_owner": "acme"}, ("ci/{repository}",))], GITHUB_CLAIMS)
    assert decision.grants == (Grant("ci/acme/api", PUSH),)
    other = evaluate(
        [rule({"repository_owner": "acme"}, ("ci/{repository}",))], {**GITHUB_CLAIMS, "repository": "acme/web"}
    )
    assert other.grants == (Grant("ci/acme/web", PUSH),)


def test_template_values_are_lower_cased_and_must_be_repository_name_components() -> None:
    mixed = {**GITHUB_CLAIMS, "repository": "Acme/API"}
    assert evaluate([rule({"repository_owner": "acme"}, ("{repository}",))], mixed).grants == (Grant("acme/api", PUSH),)
    for hostile in ("acme/../x", "acme/*", "acme api", "acme//api", ""):
        decision = evaluate(
            [rule({"repository_owner": "acme"}, ("{repository}",))], {**GITHUB_CLAIMS, "repository": hostile}
        )
        assert decision.grants == (), hostile


def test_grants_of_several_matching_rules_add_up() -> None:
    rules = [
        rule({"repository": "acme/api"}, ("acme/api",), PUSH, "push-own"),
        rule({"repository_owner": "acme"}, ("acme/base-images",), PULL, "pull-base"),
        rule({"repository_owner": "other"}, ("other/*",), PUSH, "other"),
    ]
    decision = evaluate(rules, GITHUB_CLAIMS)
    assert set(decision.grants) == {Grant("acme/api", PUSH), Grant("acme/base-images", PULL)}
    assert set(decision.matched_rules) == {"push-own", "pull-base"}


def test_push_and_delete_imply_pull() -> None:
    decision = evaluate([rule({"repository": "acme/api"}, actions={Action.DELETE})], GITHUB_CLAIMS)
    assert decision.grants[0].actions == frozenset({Action.PULL, Action.DELETE})


@pytest.mark.parametrize(
    ("claims", "repositories", "actions"),
    [
        ({}, ("acme/api",), PUSH),  # no condition: every workflow on GitHub would match
        ({"repository": "*"}, ("acme/api",), PUSH),  # only wildcards: the same
        ({"repository": "**?"}, ("acme/api",), PUSH),
        ({"repository": "acme/api"}, (), PUSH),
        ({"repository": "acme/api"}, ("acme/*/x",), PUSH),
        ({"repository": "acme/api"}, ("Acme/API",), PUSH),
        ({"repository": "acme/api"}, ("acme/api",), frozenset()),
        ({"repository": "acme/api"}, ("acme/api",), frozenset({Action.ADMIN})),
        ({"bad claim": "x"}, ("acme/api",), PUSH),
    ],
)
def test_rules_that_match_too_much_or_grant_the_impossible_are_refused(claims, repositories, actions) -> None:
    with pytest.raises(InvalidRule):
        ClaimRule("r", claims, repositories, frozenset(actions))


def test_a_rule_may_grant_a_namespace_or_everything() -> None:
    assert evaluate([rule({"repository_owner": "acme"}, ("acme/*",))], GITHUB_CLAIMS).grants == (Grant("acme/*", PUSH),)
    assert evaluate([rule({"repository_owner": "acme"}, ("*",), PULL)], GITHUB_CLAIMS).grants == (Grant("*", PULL),)
