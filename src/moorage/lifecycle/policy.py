"""The lifecycle policy grammar: ECR's JSON document, parsed and validated.

A policy written for `aws ecr put-lifecycle-policy` is accepted unchanged, as long as it only
expires images: moorage has no archive storage class, so `transition` actions, `storageClass:
archive` and `sinceImageTransitioned` are refused with a clear error. One extension: ECR accepts
`sinceImagePulled` only with `transition`; moorage also accepts it with `expire` (an image never
pulled counts from its push time). Every error names the rule (by its priority or position) and
the field, as `rules[1].selection.countUnit`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeGuard

MAX_WILDCARDS = 4
"""ECR: at most four `*` in one tag pattern."""
MAX_DOCUMENT = 30720
"""ECR: a lifecycle policy text is at most 30,720 characters."""


class TagStatus(StrEnum):
    TAGGED = "tagged"
    UNTAGGED = "untagged"
    ANY = "any"


class CountType(StrEnum):
    IMAGE_COUNT_MORE_THAN = "imageCountMoreThan"
    SINCE_IMAGE_PUSHED = "sinceImagePushed"
    SINCE_IMAGE_PULLED = "sinceImagePulled"


class PolicyError(ValueError):
    """A policy document that ECR's grammar refuses.

    `field` is the JSON path of the culprit (`rules[1].selection.countUnit`) and `rule_priority`
    the priority of its rule when known, so the message names both.
    """

    def __init__(self, field: str, message: str, rule_priority: int | None = None) -> None:
        rule = f" (the rule with rulePriority {rule_priority})" if rule_priority is not None else ""
        super().__init__(f"{field}{rule}: {message}")
        self.field = field
        self.message = message
        self.rule_priority = rule_priority


@dataclass(frozen=True)
class Selection:
    tag_status: TagStatus
    count_type: CountType
    count_number: int
    tag_prefixes: tuple[str, ...] = ()
    tag_patterns: tuple[str, ...] = ()


@dataclass(frozen=True)
class LifecycleRule:
    priority: int
    description: str
    selection: Selection


@dataclass(frozen=True)
class LifecyclePolicy:
    rules: tuple[LifecycleRule, ...]
    """Sorted by priority: the order in which they apply."""

    @classmethod
    def from_json(cls, text: str | bytes) -> LifecyclePolicy:
        if len(text) > MAX_DOCUMENT:
            raise PolicyError("$", f"a lifecycle policy is at most {MAX_DOCUMENT} characters")
        try:
            document = json.loads(text)
        except (ValueError, UnicodeDecodeError) as error:
            raise PolicyError("$", f"not valid JSON: {error}") from None
        return parse_policy(document)


def policy_text(document: Any) -> str:
    """The stored form of a policy document, after the one check every way of setting a policy goes through.

    The lifecycle API, repository settings and creation templates all call this, so a policy is
    refused with the same error wherever it is set.
    """
    try:
        text = json.dumps(document, sort_keys=True)
    except (TypeError, ValueError):
        raise PolicyError("$", "a lifecycle policy is a JSON object with a `rules` list") from None
    if len(text) > MAX_DOCUMENT:
        raise PolicyError("$", f"a lifecycle policy is at most {MAX_DOCUMENT} characters")
    parse_policy(document)
    return text


_RULE_FIELDS = {"rulePriority", "description", "selection", "action"}
_SELECTION_FIELDS = {
    "tagStatus",
    "tagPrefixList",
    "tagPatternList",
    "storageClass",
    "countType",
    "countUnit",
    "countNumber",
}
_TIME_COUNT_TYPES = {CountType.SINCE_IMAGE_PUSHED, CountType.SINCE_IMAGE_PULLED}


def parse_policy(document: Any) -> LifecyclePolicy:
    """Validate a decoded policy document against ECR's rules and return it as values."""
    if not isinstance(document, dict):
        raise PolicyError("$", "a lifecycle policy is a JSON object with a `rules` list")
    unknown = set(document) - {"rules"}
    if unknown:
        raise PolicyError(min(unknown), "unknown field (a policy has only `rules`)")
    rules_document = document.get("rules")
    if not isinstance(rules_document, list) or not rules_document:
        raise PolicyError("rules", "must be a non-empty list of rules")
    rules = [_parse_rule(position, rule) for position, rule in enumerate(rules_document)]
    _check_rule_set(rules)
    return LifecyclePolicy(tuple(sorted(rules, key=lambda rule: rule.priority)))


def _parse_rule(position: int, rule: Any) -> LifecycleRule:
    where = f"rules[{position}]"
    if not isinstance(rule, dict):
        raise PolicyError(where, "a rule is a JSON object")
    unknown = set(rule) - _RULE_FIELDS
    if unknown:
        raise PolicyError(f"{where}.{min(unknown)}", "unknown field")
    priority = rule.get("rulePriority")
    if not _is_int(priority) or priority < 1:
        raise PolicyError(f"{where}.rulePriority", "is required and must be a positive integer")
    description = rule.get("description", "")
    if not isinstance(description, str):
        raise PolicyError(f"{where}.description", "must be a string", priority)
    selection = _parse_selection(where, priority, rule.get("selection"))
    _check_action(where, priority, rule.get("action"))
    return LifecycleRule(priority, description, selection)


def _parse_selection(where: str, priority: int, selection: Any) -> Selection:
    field = f"{where}.selection"
    if not isinstance(selection, dict):
        raise PolicyError(field, "is required and must be an object", priority)
    unknown = set(selection) - _SELECTION_FIELDS
    if unknown:
        raise PolicyError(f"{field}.{min(unknown)}", "unknown field", priority)
    try:
        tag_status = TagStatus(str(selection.get("tagStatus")))
    except ValueError:
        raise PolicyError(f"{field}.tagStatus", "is required: `tagged`, `untagged` or `any`", priority) from None
    prefixes = _string_list(f"{field}.tagPrefixList", priority, selection.get("tagPrefixList"))
    patterns = _string_list(f"{field}.tagPatternList", priority, selection.get("tagPatternList"))
    if tag_status is TagStatus.TAGGED:
        if prefixes is None and patterns is None:
            raise PolicyError(
                f"{field}.tagPatternList", "a `tagged` rule needs `tagPatternList` or `tagPrefixList`", priority
            )
        if prefixes is not None and patterns is not None:
            raise PolicyError(
                f"{field}.tagPrefixList", "use either `tagPrefixList` or `tagPatternList`, not both", priority
            )
    else:
        for name, value in (("tagPrefixList", prefixes), ("tagPatternList", patterns)):
            if value is not None:
                raise PolicyError(f"{field}.{name}", f"must be omitted when tagStatus is `{tag_status}`", priority)
    for pattern in patterns or ():
        if pattern.count("*") > MAX_WILDCARDS:
            raise PolicyError(
                f"{field}.tagPatternList", f"{pattern!r} has more than {MAX_WILDCARDS} wildcards (*)", priority
            )
    storage_class = selection.get("storageClass", "standard")
    if storage_class != "standard":
        raise PolicyError(f"{field}.storageClass", "only `standard` is supported (no archive storage)", priority)
    count_type_value = selection.get("countType")
    if count_type_value == "sinceImageTransitioned":
        raise PolicyError(f"{field}.countType", "`sinceImageTransitioned` needs archive storage, unsupported", priority)
    try:
        count_type = CountType(str(count_type_value))
    except ValueError:
        raise PolicyError(
            f"{field}.countType",
            "is required: `imageCountMoreThan`, `sinceImagePushed` or `sinceImagePulled`",
            priority,
        ) from None
    count_unit = selection.get("countUnit")
    if count_type in _TIME_COUNT_TYPES:
        if count_unit != "days":
            raise PolicyError(f"{field}.countUnit", f"is required with `{count_type}` and must be `days`", priority)
    elif count_unit is not None:
        raise PolicyError(f"{field}.countUnit", f"must be omitted with `{count_type}`", priority)
    count_number = selection.get("countNumber")
    if not _is_int(count_number) or count_number < 1:
        raise PolicyError(f"{field}.countNumber", "is required and must be a positive integer (not 0)", priority)
    return Selection(tag_status, count_type, count_number, tuple(prefixes or ()), tuple(patterns or ()))


def _check_action(where: str, priority: int, action: Any) -> None:
    field = f"{where}.action"
    if not isinstance(action, dict):
        raise PolicyError(field, 'is required: {"type": "expire"}', priority)
    unknown = set(action) - {"type", "targetStorageClass"}
    if unknown:
        raise PolicyError(f"{field}.{min(unknown)}", "unknown field", priority)
    if action.get("type") == "transition":
        raise PolicyError(f"{field}.type", "`transition` needs archive storage, unsupported: use `expire`", priority)
    if action.get("type") != "expire":
        raise PolicyError(f"{field}.type", "is required and must be `expire`", priority)
    if "targetStorageClass" in action:
        raise PolicyError(f"{field}.targetStorageClass", "only allowed with `transition`", priority)


def _check_rule_set(rules: list[LifecycleRule]) -> None:
    seen: dict[int, int] = {}
    for position, rule in enumerate(rules):
        if rule.priority in seen:
            raise PolicyError(
                f"rules[{position}].rulePriority",
                f"{rule.priority} is also the priority of rules[{seen[rule.priority]}]; priorities must be unique",
                rule.priority,
            )
        seen[rule.priority] = position
    untagged = [position for position, rule in enumerate(rules) if rule.selection.tag_status is TagStatus.UNTAGGED]
    if len(untagged) > 1:
        position = untagged[1]
        raise PolicyError(
            f"rules[{position}].selection.tagStatus",
            f"only one rule may select `untagged` images (rules[{untagged[0]}] already does)",
            rules[position].priority,
        )
    highest = max(rule.priority for rule in rules)
    for position, rule in enumerate(rules):
        if rule.selection.tag_status is TagStatus.ANY and rule.priority != highest:
            raise PolicyError(
                f"rules[{position}].rulePriority",
                f"a rule with tagStatus `any` must have the highest rulePriority ({highest} is higher)",
                rule.priority,
            )


def _string_list(field: str, priority: int, value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(item, str) and item for item in value):
        raise PolicyError(field, "must be a non-empty list of non-empty strings", priority)
    return value


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
