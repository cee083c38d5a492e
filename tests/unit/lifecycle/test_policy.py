"""Validation of lifecycle policy documents: ECR's rules, errors naming the rule and the field."""

from __future__ import annotations

from typing import Any

import pytest

from moorage.lifecycle.policy import (
    CountType,
    LifecyclePolicy,
    PolicyError,
    TagStatus,
    parse_policy,
)


def rule(priority: Any = 1, action: Any = None, **selection: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1}
    base.update(selection)
    return {
        "rulePriority": priority,
        "selection": {k: v for k, v in base.items() if v is not None},
        "action": action or {"type": "expire"},
    }


def refused(document: Any) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        parse_policy(document)
    return caught.value


def test_an_aws_cli_policy_file_is_accepted_unchanged_and_rules_sorted_by_priority() -> None:
    text = """{"rules": [
      {"rulePriority": 20, "description": "any old", "selection": {"tagStatus": "any",
       "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 90}, "action": {"type": "expire"}},
      {"rulePriority": 1, "description": "keep 5 prod", "selection": {"tagStatus": "tagged",
       "tagPrefixList": ["prod"], "countType": "imageCountMoreThan", "countNumber": 5}, "action": {"type": "expire"}}
    ]}"""
    policy = LifecyclePolicy.from_json(text)
    assert [r.priority for r in policy.rules] == [1, 20]
    assert policy.rules[0].selection.tag_prefixes == ("prod",)
    assert policy.rules[1].selection.tag_status is TagStatus.ANY
    assert policy.rules[1].selection.count_type is CountType.SINCE_IMAGE_PUSHED


@pytest.mark.parametrize(
    ("document", "field", "words"),
    [
        ("not json", "$", "JSON"),
        ({"rules": []}, "rules", "non-empty"),
        ({"rules": [rule()], "extra": 1}, "extra", "unknown"),
        ({"rules": [rule(priority=0)]}, "rules[0].rulePriority", "positive"),
        ({"rules": [rule(priority="1")]}, "rules[0].rulePriority", "positive"),
        ({"rules": [rule(tagStatus="some")]}, "rules[0].selection.tagStatus", "tagged"),
        ({"rules": [rule(tagStatus="tagged")]}, "rules[0].selection.tagPatternList", "needs"),
        (
            {"rules": [rule(tagStatus="tagged", tagPrefixList=["a"], tagPatternList=["b*"])]},
            "rules[0].selection.tagPrefixList",
            "not both",
        ),
        ({"rules": [rule(tagPrefixList=["a"])]}, "rules[0].selection.tagPrefixList", "omitted"),
        ({"rules": [rule(tagStatus="any", tagPatternList=["a*"])]}, "rules[0].selection.tagPatternList", "omitted"),
        (
            {"rules": [rule(tagStatus="tagged", tagPatternList=["test*1*2*3*4*5*6"])]},
            "rules[0].selection.tagPatternList",
            "wildcards",
        ),
        ({"rules": [rule(tagStatus="tagged", tagPatternList=[])]}, "rules[0].selection.tagPatternList", "non-empty"),
        ({"rules": [rule(countType="sinceImagePushed")]}, "rules[0].selection.countUnit", "days"),
        ({"rules": [rule(countType="sinceImagePushed", countUnit="hours")]}, "rules[0].selection.countUnit", "days"),
        ({"rules": [rule(countUnit="days")]}, "rules[0].selection.countUnit", "omitted"),
        ({"rules": [rule(countNumber=0)]}, "rules[0].selection.countNumber", "not 0"),
        ({"rules": [rule(countNumber=None)]}, "rules[0].selection.countNumber", "required"),
        ({"rules": [rule(countType="forever")]}, "rules[0].selection.countType", "imageCountMoreThan"),
        (
            {"rules": [rule(countType="sinceImageTransitioned", countUnit="days")]},
            "rules[0].selection.countType",
            "archive",
        ),
        ({"rules": [rule(storageClass="archive")]}, "rules[0].selection.storageClass", "archive"),
        ({"rules": [rule(action={"type": "delete"})]}, "rules[0].action.type", "expire"),
        (
            {"rules": [rule(action={"type": "transition", "targetStorageClass": "archive"})]},
            "rules[0].action.type",
            "transition",
        ),
        ({"rules": [{"rulePriority": 1, "selection": rule()["selection"]}]}, "rules[0].action", "required"),
        ({"rules": [rule(1), rule(1, tagStatus="any")]}, "rules[1].rulePriority", "unique"),
        ({"rules": [rule(1), rule(2)]}, "rules[1].selection.tagStatus", "only one rule"),
        (
            {"rules": [rule(3, tagStatus="any"), rule(5, tagStatus="tagged", tagPrefixList=["p"])]},
            "rules[0].rulePriority",
            "highest",
        ),
    ],
)
def test_invalid_policies_are_refused_naming_the_rule_and_the_field(document: Any, field: str, words: str) -> None:
    error = refused(document) if not isinstance(document, str) else _refused_text(document)
    assert error.field == field
    assert words in error.message


def _refused_text(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        LifecyclePolicy.from_json(text)
    return caught.value


def test_since_image_pulled_is_accepted_with_expire() -> None:
    policy = parse_policy({"rules": [rule(countType="sinceImagePulled", countUnit="days", countNumber=30)]})
    assert policy.rules[0].selection.count_type is CountType.SINCE_IMAGE_PULLED


def test_priorities_need_not_be_sequential_and_storage_class_standard_is_allowed() -> None:
    policy = parse_policy({"rules": [rule(10, storageClass="standard"), rule(99, tagStatus="any")]})
    assert [r.priority for r in policy.rules] == [10, 99]


def test_the_message_names_the_field_and_the_rule_priority() -> None:
    error = refused({"rules": [rule(42, countNumber=-3)]})
    assert str(error).startswith("rules[0].selection.countNumber (the rule with rulePriority 42):")
    assert error.rule_priority == 42
