"""Repository settings as plain values, checked once when they come in.

The lifecycle policy is the repository's own (the lifecycle API sets the same one); `check_input`
puts it through the lifecycle grammar, as every way of setting a policy does. Stored values are read
back without that check, so a policy stored before it existed stays readable (runs skip it, loudly).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from moorage.domain.errors import RegistryError
from moorage.domain.references import validate_name
from moorage.domain.tag_mutability import InvalidMutabilityRule, MutabilityRule, TagMutability, unique_filters
from moorage.governance.errors import InvalidSettings
from moorage.governance.tag_rules import InvalidTagRule, TagRules
from moorage.lifecycle.policy import policy_text

LABEL_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")
MAX_LABELS = 50
MAX_LABEL_VALUE = 256
MAX_DESCRIPTION = 2048
ROOT_PREFIX = "ROOT"
"""The creation template prefix that applies to every repository without a more specific one (ECR)."""


class Visibility(StrEnum):
    PRIVATE = "private"
    PUBLIC = "public"


@dataclass(frozen=True)
class RepositorySettings:
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    visibility: Visibility = Visibility.PRIVATE
    mutability: MutabilityRule = MutabilityRule()
    scan_on_push: bool = False
    lifecycle_policy: dict[str, Any] | None = None
    tag_rules: TagRules | None = None
    """The repository's own tag naming rules (None: none; its namespaces' rules apply all the same)."""

    def updated(self, changes: dict[str, Any]) -> RepositorySettings:
        """These settings with `changes` (keys as in `settings_from`) applied and checked.

        A new mutability mode that takes no exclusion filters drops the old ones (switching to
        `MUTABLE` under an `IMMUTABLE_WITH_EXCLUSION` template just works); filters given
        explicitly are taken as given, so a contradiction is still refused.
        """
        merged = {**to_document(self), **changes}
        if "tag_mutability" in changes and "tag_mutability_exclusion_filters" not in changes:
            mode = changes["tag_mutability"]
            if mode in set(TagMutability) and not TagMutability(mode).takes_filters:
                merged["tag_mutability_exclusion_filters"] = []
        return settings_from(merged)


def check_input(changes: dict[str, Any]) -> None:
    """Checks for settings a client sends, beyond what stored settings must pass.

    The lifecycle policy goes through the lifecycle grammar (PolicyError, the same error the
    lifecycle API gives); exclusion filters must not repeat.
    """
    if changes.get("lifecycle_policy") is not None:
        policy_text(changes["lifecycle_policy"])
    try:
        unique_filters(changes.get("tag_mutability_exclusion_filters") or ())
    except InvalidMutabilityRule as error:
        raise InvalidSettings(str(error)) from None


def settings_from(document: dict[str, Any]) -> RepositorySettings:
    """Settings from their JSON form (the API's and the tables'), or InvalidSettings saying what is wrong."""
    description = document.get("description") or ""
    if len(description) > MAX_DESCRIPTION:
        raise InvalidSettings(f"description is longer than {MAX_DESCRIPTION} characters")
    if "\x00" in description:
        raise InvalidSettings("description must not contain NUL characters")
    labels = dict(document.get("labels") or {})
    if len(labels) > MAX_LABELS:
        raise InvalidSettings(f"at most {MAX_LABELS} labels are allowed")
    for key, value in labels.items():
        if not LABEL_KEY.match(key):
            raise InvalidSettings(f"label key {key!r} must match {LABEL_KEY.pattern}")
        if not isinstance(value, str) or len(value) > MAX_LABEL_VALUE or "\x00" in value:
            raise InvalidSettings(f"label {key!r} must be a string of at most {MAX_LABEL_VALUE} characters")
    try:
        visibility = Visibility(document.get("visibility") or Visibility.PRIVATE)
        mutability = MutabilityRule(
            TagMutability(document.get("tag_mutability") or TagMutability.MUTABLE),
            tuple(document.get("tag_mutability_exclusion_filters") or ()),
        )
    except (ValueError, InvalidMutabilityRule) as error:
        raise InvalidSettings(str(error)) from None
    policy = document.get("lifecycle_policy")
    if policy is not None and not isinstance(policy, dict):
        raise InvalidSettings("lifecycle_policy must be a JSON object")
    try:
        tag_rules = TagRules.of(document["tag_rules"]) if document.get("tag_rules") is not None else None
    except InvalidTagRule as error:
        raise InvalidSettings(f"tag_rules: {error}") from None
    return RepositorySettings(
        description=description,
        labels=labels,
        visibility=visibility,
        mutability=mutability,
        scan_on_push=bool(document.get("scan_on_push", False)),
        lifecycle_policy=policy,
        tag_rules=tag_rules,
    )


def to_document(settings: RepositorySettings) -> dict[str, Any]:
    return {
        "description": settings.description,
        "labels": dict(settings.labels),
        "visibility": settings.visibility.value,
        "tag_mutability": settings.mutability.mutability.value,
        "tag_mutability_exclusion_filters": list(settings.mutability.filters),
        "scan_on_push": settings.scan_on_push,
        "lifecycle_policy": settings.lifecycle_policy,
        "tag_rules": settings.tag_rules.to_document() if settings.tag_rules is not None else None,
    }


@dataclass(frozen=True)
class CreationTemplate:
    """Settings for new repositories under `prefix` (`ROOT`: every repository); may a push create them?"""

    prefix: str
    create_on_push: bool
    settings: RepositorySettings

    def applies_to(self, repository: str) -> bool:
        return self.prefix == ROOT_PREFIX or repository.startswith(self.prefix + "/")


def validate_prefix(prefix: str) -> str:
    if prefix == ROOT_PREFIX:
        return prefix
    try:
        return validate_name(prefix)
    except RegistryError as error:
        raise InvalidSettings(f"template prefix: {error.message} (or {ROOT_PREFIX} for every repository)") from None


def most_specific(templates: list[CreationTemplate], repository: str) -> CreationTemplate | None:
    """The template with the longest prefix that applies to the repository (ECR's rule)."""
    matching = [t for t in templates if t.applies_to(repository)]
    return max(matching, key=lambda t: -1 if t.prefix == ROOT_PREFIX else len(t.prefix), default=None)
