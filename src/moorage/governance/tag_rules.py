"""Tag naming rules: which tag names a push may create, a pure function from a tag and rules to a decision.

A rule set has a list of *allowed* patterns and a list of *refused* patterns:
- a tag that matches a refused pattern is refused, whatever the allowed list says (refused wins);
- otherwise a tag is allowed when the allowed list is empty or one of its patterns matches;
- a pattern always matches the whole tag, case-sensitively.

A pattern is written `glob:PATTERN` (or just `PATTERN`): shell wildcards, `*` any run of characters,
`?` one character, `[0-9]` / `[!a-z]` one character of (not of) a class; or `re:REGEX`: a Python
regular expression that must match the whole tag (`^` and `$` may be written, they change nothing).
`prod/*` allowing `v[0-9]*.[0-9]*.[0-9]*` and `re:^sha-[0-9a-f]{7,40}$` and refusing `latest` keeps
`latest` out of production while semver and git-SHA tags go in.

A regular expression runs inside the push's write transaction, so one that can backtrack without end
is refused when it is set, not discovered when a push hangs: no back-references or look-arounds, no
open-ended repetition (`*`, `+`, `{n,}`, or a range wider than 16) of something that itself repeats
or alternates (`(a+)+`, `(a|ab)*`), at most four open-ended repetitions in all, and at most 256
characters. Tags are at most 128 characters, which bounds the rest.

Rules live on a repository and on a namespace (every repository under `NAMESPACE/`); a tag must
pass every set in force, the namespace's first, and a refusal names the set it came from.
"""

from __future__ import annotations

import fnmatch
import importlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

MAX_PATTERN = 256
MAX_PATTERNS = 20
"""Per list (allowed, refused) of one rule set."""
MAX_OPEN_REPEATS = 4
WIDE_REPEAT = 16
GLOB_GRAMMAR = re.compile(r"^[A-Za-z0-9_.*?\[\]!^-]{1,256}$")
GLOB_CLASS = re.compile(r"\[!?[^\[\]]+\]")

Kind = Literal["glob", "re"]


class InvalidTagRule(ValueError):
    """A pattern or rule set that cannot be used (bad syntax, or a regex that may backtrack without end)."""


@dataclass(frozen=True)
class TagPattern:
    text: str
    """As the user wrote it (`latest`, `glob:v*`, `re:^sha-[0-9a-f]{7,40}$`): how errors name it."""
    kind: Kind
    expression: str
    compiled: re.Pattern[str] = field(compare=False, repr=False)

    def matches(self, tag: str) -> bool:
        return self.compiled.fullmatch(tag) is not None


def parse_pattern(text: object) -> TagPattern:
    """A checked pattern, or InvalidTagRule saying what is wrong with it."""
    if not isinstance(text, str) or not text:
        raise InvalidTagRule("a tag pattern must be a non-empty string")
    if len(text) > MAX_PATTERN + 5:
        raise InvalidTagRule(f"tag pattern {text[:40]!r}… is longer than {MAX_PATTERN} characters")
    return _compiled(text)


@lru_cache(maxsize=1024)
def _compiled(text: str) -> TagPattern:
    if text.startswith("re:"):
        expression = text[3:]
        return TagPattern(text, "re", expression, _regex(expression))
    expression = text[5:] if text.startswith("glob:") else text
    if not GLOB_GRAMMAR.match(expression):
        raise InvalidTagRule(
            f"glob {text!r} may hold only tag characters (letters, digits, . _ -) and the wildcards * ? [ ] ! "
            "(write re:REGEX for a regular expression)"
        )
    if "[" in GLOB_CLASS.sub("", expression) or "]" in GLOB_CLASS.sub("", expression):
        raise InvalidTagRule(f"glob {text!r} has a '[' or ']' that opens or closes no character class")
    try:
        return TagPattern(text, "glob", expression, re.compile(fnmatch.translate(expression)))
    except re.error as error:
        raise InvalidTagRule(f"glob {text!r} is not valid: {error}") from None


def _regex(expression: str) -> re.Pattern[str]:
    if not expression or len(expression) > MAX_PATTERN:
        raise InvalidTagRule(f"a regular expression must have 1 to {MAX_PATTERN} characters")
    if any(ord(character) < 0x20 or ord(character) == 0x7F for character in expression):
        raise InvalidTagRule("a regular expression must not contain control characters")
    try:
        compiled = re.compile(expression)
        tree = importlib.import_module("re._parser").parse(expression)
    except (re.error, RecursionError, OverflowError) as error:
        raise InvalidTagRule(f"regular expression {expression!r} is not valid: {error}") from None
    maxrepeat = importlib.import_module("re._constants").MAXREPEAT
    open_repeats = _check(tree, maxrepeat, expression, inside_repeat=False)
    if open_repeats > MAX_OPEN_REPEATS:
        raise InvalidTagRule(
            f"regular expression {expression!r} has {open_repeats} open-ended repetitions; "
            f"at most {MAX_OPEN_REPEATS} are allowed (each can multiply the matching time)"
        )
    return compiled


def _check(tree: Iterable[Any], maxrepeat: int, expression: str, inside_repeat: bool) -> int:
    """The number of open-ended repetitions in `tree`; refuses what can backtrack without end."""
    count = 0
    for op, argument in tree:
        name = op.name
        if name in ("GROUPREF", "GROUPREF_EXISTS", "ASSERT", "ASSERT_NOT"):
            raise InvalidTagRule(
                f"regular expression {expression!r} uses back-references or look-arounds, which are not allowed"
            )
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, body = argument
            wide = high == maxrepeat or high - low > WIDE_REPEAT
            repeats = high > 1
            if inside_repeat and wide:
                raise _nested(expression)
            if wide and _repeats_or_alternates(body):
                raise _nested(expression)
            count += int(wide) + _check(body, maxrepeat, expression, inside_repeat or repeats)
        elif name == "SUBPATTERN":
            count += _check(argument[3], maxrepeat, expression, inside_repeat)
        elif name == "ATOMIC_GROUP":
            count += _check(argument, maxrepeat, expression, inside_repeat)
        elif name == "BRANCH":
            count += sum(_check(branch, maxrepeat, expression, inside_repeat) for branch in argument[1])
    return count


def _repeats_or_alternates(tree: Iterable[Any]) -> bool:
    for op, argument in tree:
        name = op.name
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") and argument[1] > 1:
            return True
        if name == "BRANCH":
            return True
        if name == "SUBPATTERN" and _repeats_or_alternates(argument[3]):
            return True
    return False


def _nested(expression: str) -> InvalidTagRule:
    return InvalidTagRule(
        f"regular expression {expression!r} repeats something that itself repeats or alternates "
        "(like (a+)+ or (a|ab)*), which can take exponential time; write it without the nesting"
    )


@dataclass(frozen=True)
class TagRules:
    """One rule set: allowed and refused patterns (refused wins; an empty allowed list allows all)."""

    allowed: tuple[TagPattern, ...] = ()
    refused: tuple[TagPattern, ...] = ()

    @classmethod
    def of(cls, document: object) -> TagRules:
        """Rules from their JSON form `{"allowed": [...], "refused": [...]}`, or InvalidTagRule."""
        if not isinstance(document, dict):
            raise InvalidTagRule('tag rules must be an object {"allowed": [patterns], "refused": [patterns]}')
        unknown = set(document) - {"allowed", "refused"}
        if unknown:
            raise InvalidTagRule(f"tag rules take only 'allowed' and 'refused', not {sorted(unknown)}")
        return cls(_patterns(document, "allowed"), _patterns(document, "refused"))

    def to_document(self) -> dict[str, list[str]]:
        return {"allowed": [p.text for p in self.allowed], "refused": [p.text for p in self.refused]}


def _patterns(document: dict[str, Any], key: str) -> tuple[TagPattern, ...]:
    given = document.get(key) or []
    if not isinstance(given, list):
        raise InvalidTagRule(f"tag rules' {key!r} must be a list of patterns")
    if len(given) > MAX_PATTERNS:
        raise InvalidTagRule(f"at most {MAX_PATTERNS} {key} patterns are allowed")
    if len(set(map(str, given))) != len(given):
        raise InvalidTagRule(f"tag rules' {key!r} lists a pattern twice")
    return tuple(parse_pattern(text) for text in given)


@dataclass(frozen=True)
class RulesInForce:
    """A rule set and where it comes from: `scope` "namespace" (name `prod`) or "repository"."""

    scope: Literal["namespace", "repository"]
    name: str
    rules: TagRules

    @property
    def source(self) -> str:
        """How messages name it: `prod/*` for a namespace, `prod/api` for a repository."""
        return f"{self.name}/*" if self.scope == "namespace" else self.name


@dataclass(frozen=True)
class TagNamingDecision:
    allowed: bool
    reason: str
    rule: str | None = None
    """The pattern that refused the tag (None: allowed, or refused because no allowed pattern matched)."""
    source: str | None = None


def decide(tag: str, layers: Sequence[RulesInForce]) -> TagNamingDecision:
    """Whether a push may create or move `tag` under every rule set in force, and why."""
    for layer in layers:
        refusing = next((p for p in layer.rules.refused if p.matches(tag)), None)
        if refusing is not None:
            return TagNamingDecision(
                False, f"tag '{tag}' is refused by {layer.source}'s rule '{refusing.text}'", refusing.text, layer.source
            )
        allowed = layer.rules.allowed
        if allowed and not any(p.matches(tag) for p in allowed):
            listed = ", ".join(f"'{p.text}'" for p in allowed)
            return TagNamingDecision(
                False, f"tag '{tag}' matches none of {layer.source}'s allowed patterns ({listed})", None, layer.source
            )
    if not layers:
        return TagNamingDecision(True, "no tag naming rules apply")
    return TagNamingDecision(True, f"tag '{tag}' follows " + ", ".join(layer.source for layer in layers))


def namespaces_of(repository: str) -> list[str]:
    """The namespaces a repository lies under, outermost first (`a/b/c`: `a`, `a/b`)."""
    parts = repository.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]
