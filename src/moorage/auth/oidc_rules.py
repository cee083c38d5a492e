"""Claim rules: which CI identities get which rights, decided by a pure function over an ID token's claims.

A trusted issuer such as GitHub Actions signs tokens for every repository on GitHub, so trusting
the issuer alone would let anyone's workflow push. Rules narrow it: each rule lists claim
conditions (`repository: acme/api`, `ref: refs/heads/*`, `environment: production`) that must all
hold, and the repository patterns and actions it grants when they do. A repository pattern may
name claims in braces (`ci/{repository}`), so one rule gives every CI job exactly its own
repository ("one repository per service, granted to exactly the identity that builds it").

`evaluate` returns what it decided and why, so the management API can preview a rule set
against sample claims and an exchange refusal can say which conditions failed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from moorage.auth.grants import Grant, expand_actions, validate_pattern
from moorage.domain.access import Action

RULE_ACTIONS = frozenset({Action.PULL, Action.PUSH, Action.DELETE})
"""What a CI identity may be granted; administering the registry is for people."""

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.:-]*)\}")
_NAME_COMPONENTS = re.compile(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$")
_CLAIM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]*$")


class InvalidRule(ValueError):
    """A rule that cannot be stored: it would match too much, or names an impossible grant."""


def claim_pattern_matches(pattern: str, value: str) -> bool:
    """Whether a claim value matches a condition: exact, or a glob where `*` is any run and `?` one character.

    `*` also crosses `/` (as in AWS trust policies' `StringLike`), so `refs/heads/*` covers
    `refs/heads/feature/x`. No other character is special.
    """
    if "*" not in pattern and "?" not in pattern:
        return pattern == value
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def claim_as_text(value: Any) -> str | None:
    """A claim value as the text conditions compare with; lists, objects and missing values match nothing."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int)):
        return str(value)
    return None


@dataclass(frozen=True)
class ClaimRule:
    """If every claim condition holds, grant `actions` on the repositories `repositories` name."""

    name: str
    claims: Mapping[str, str]
    repositories: tuple[str, ...]
    actions: frozenset[Action]
    id: int | None = None

    def __post_init__(self) -> None:
        validate_rule(self)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "claims": dict(self.claims),
            "repositories": list(self.repositories),
            "actions": sorted(self.actions),
        }


def validate_rule(rule: ClaimRule) -> None:
    """Refuse rules that match every token of the issuer, grant admin, or name impossible repositories."""
    if not rule.name or len(rule.name) > 100:
        raise InvalidRule("a rule needs a name of 1 to 100 characters")
    if not rule.claims:
        raise InvalidRule(
            "a rule needs at least one claim condition (e.g. repository or sub): "
            "an issuer such as GitHub Actions signs tokens for everyone's workflows"
        )
    for claim, pattern in rule.claims.items():
        if not _CLAIM_NAME.match(claim):
            raise InvalidRule(f"invalid claim name {claim!r}")
        if not isinstance(pattern, str) or not pattern.strip("*?"):
            raise InvalidRule(f"the condition on {claim!r} must contain more than wildcards")
    if not rule.repositories:
        raise InvalidRule("a rule needs at least one repository pattern")
    for repository in rule.repositories:
        template_check = _PLACEHOLDER.sub("x", repository)
        try:
            validate_pattern(template_check)
        except ValueError as error:
            raise InvalidRule(str(error)) from None
        body = template_check.removesuffix("/*")
        if template_check != "*" and not _NAME_COMPONENTS.match(body):
            raise InvalidRule(f"invalid repository pattern {repository!r}")
    if not rule.actions:
        raise InvalidRule("a rule needs at least one action")
    extra = set(rule.actions) - RULE_ACTIONS
    if extra:
        raise InvalidRule(f"a rule may grant only pull, push and delete, not {', '.join(sorted(extra))}")


@dataclass(frozen=True)
class RuleOutcome:
    """Why one rule did or did not apply to a token."""

    rule: str
    matched: bool
    reasons: tuple[str, ...] = ()
    grants: tuple[Grant, ...] = ()


@dataclass(frozen=True)
class RuleDecision:
    """The grants a token earns, and every rule's outcome (for previews and refusal messages)."""

    grants: tuple[Grant, ...]
    outcomes: tuple[RuleOutcome, ...] = field(default=())

    @property
    def matched_rules(self) -> tuple[str, ...]:
        return tuple(outcome.rule for outcome in self.outcomes if outcome.matched and outcome.grants)

    def explain(self) -> str:
        """One line per rule, for a refusal message: which conditions failed."""
        if not self.outcomes:
            return "the issuer has no rules"
        return "; ".join(f"rule {o.rule!r}: {', '.join(o.reasons) or 'no grant'}" for o in self.outcomes)


def _expand_repository(template: str, claims: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """Fill `{claim}` placeholders (lower-cased); refuse values that are not repository name components."""
    problem: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        claim = match.group(1)
        value = claim_as_text(claims.get(claim))
        if value is None:
            problem.append(f"claim {claim!r} is missing")
            return ""
        value = value.lower()
        if not _NAME_COMPONENTS.match(value):
            problem.append(f"claim {claim!r} is not usable in a repository name")
            return ""
        return value

    expanded = _PLACEHOLDER.sub(substitute, template)
    if problem:
        return None, problem[0]
    return expanded, None


def evaluate_rule(rule: ClaimRule, claims: Mapping[str, Any]) -> RuleOutcome:
    reasons = []
    for claim, pattern in rule.claims.items():
        value = claim_as_text(claims.get(claim))
        if value is None:
            reasons.append(f"claim {claim!r} is missing")
        elif not claim_pattern_matches(pattern, value):
            reasons.append(f"{claim} does not match {pattern!r}")
    if reasons:
        return RuleOutcome(rule.name, False, tuple(reasons))
    actions = expand_actions(rule.actions)
    grants = []
    for template in rule.repositories:
        repository, problem = _expand_repository(template, claims)
        if repository is None:
            reasons.append(f"{template!r}: {problem}")
            continue
        grants.append(Grant(repository, actions))
    return RuleOutcome(rule.name, True, tuple(reasons), tuple(grants))


def evaluate(rules: Iterable[ClaimRule], claims: Mapping[str, Any]) -> RuleDecision:
    """The grants of every rule whose conditions all hold (rules add up; none subtracts)."""
    outcomes = tuple(evaluate_rule(rule, claims) for rule in rules)
    grants: list[Grant] = []
    for outcome in outcomes:
        for grant in outcome.grants:
            if grant not in grants:
                grants.append(grant)
    return RuleDecision(tuple(grants), outcomes)
