"""The examples of ECR's lifecycle policy documentation, ported: same images, same policy, same result.

Source: the "Examples of lifecycle policies in Amazon ECR" page of the ECR user guide.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from moorage.lifecycle.evaluation import ImageRecord, evaluate
from moorage.lifecycle.policy import parse_policy

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def image(name: str, tags: list[str], days_ago: float, **extra: Any) -> ImageRecord:
    return ImageRecord(digest=name, tags=tuple(tags), pushed_at=NOW - timedelta(days=days_ago), **extra)


def rule(priority: int, status: str, count_type: str, number: int, **selection: Any) -> dict[str, Any]:
    document: dict[str, Any] = {"tagStatus": status, "countType": count_type, "countNumber": number, **selection}
    if count_type != "imageCountMoreThan":
        document["countUnit"] = "days"
    return {
        "rulePriority": priority,
        "description": f"Rule {priority}",
        "selection": document,
        "action": {"type": "expire"},
    }


def expired(rules: list[dict[str, Any]], images: list[ImageRecord]) -> list[str]:
    policy = parse_policy({"rules": rules})
    return sorted(decision.digest for decision in evaluate(policy, images, NOW).expired)


MULTIPLE_RULES_REPOSITORY = [
    image("A", ["beta-1", "prod-1"], 10),
    image("B", ["beta-2", "prod-2"], 9),
    image("C", ["beta-3"], 8),
]


def test_filtering_on_image_age_expires_prod_images_older_than_14_days() -> None:
    images = [image("old-prod", ["prod-1"], 20), image("new-prod", ["prod-2"], 3), image("old-dev", ["dev"], 30)]
    rules = [rule(1, "tagged", "sinceImagePushed", 14, tagPatternList=["prod*"])]
    assert expired(rules, images) == ["old-prod"]


def test_filtering_on_image_count_keeps_only_one_untagged_image() -> None:
    images = [image("u1", [], 3), image("u2", [], 2), image("u3", [], 1), image("t", ["latest"], 5)]
    rules = [rule(1, "untagged", "imageCountMoreThan", 1)]
    assert expired(rules, images) == ["u1", "u2"]


def test_multiple_rules_example_a_an_image_seen_by_rule_1_is_not_expired_by_rule_2() -> None:
    rules = [
        rule(1, "tagged", "imageCountMoreThan", 1, tagPatternList=["prod*"]),
        rule(2, "tagged", "imageCountMoreThan", 1, tagPatternList=["beta*"]),
    ]
    assert expired(rules, MULTIPLE_RULES_REPOSITORY) == ["A"]


def test_multiple_rules_example_b_swapping_priorities_expires_a_and_b() -> None:
    rules = [
        rule(1, "tagged", "imageCountMoreThan", 1, tagPatternList=["beta*"]),
        rule(2, "tagged", "imageCountMoreThan", 1, tagPatternList=["prod*"]),
    ]
    assert expired(rules, MULTIPLE_RULES_REPOSITORY) == ["A", "B"]


def test_multiple_tags_in_a_single_rule_example_a_images_must_match_every_pattern() -> None:
    images = [
        image("A", ["alpha-1"], 12),
        image("B", ["beta-1"], 11),
        image("C", ["alpha-2", "beta-2"], 10),
        image("D", ["alpha-3"], 4),
        image("E", ["beta-3"], 3),
        image("F", ["alpha-4", "beta-4"], 2),
    ]
    rules = [rule(1, "tagged", "sinceImagePushed", 5, tagPatternList=["alpha*", "beta*"])]
    assert expired(rules, images) == ["C"]


def test_multiple_tags_in_a_single_rule_example_b_tags_are_not_exclusive() -> None:
    images = [
        image("A", ["alpha-1", "beta-1", "gamma-1"], 10),
        image("B", ["alpha-2", "beta-2"], 9),
        image("C", ["alpha-3", "beta-3", "gamma-2"], 8),
    ]
    rules = [rule(1, "tagged", "imageCountMoreThan", 1, tagPatternList=["alpha*", "beta*"])]
    assert expired(rules, images) == ["A", "B"]


def test_all_images_example_a_any_rule_keeps_only_the_newest_image() -> None:
    images = [image("A", ["alpha-1"], 4), image("B", ["beta-1"], 3), image("C", [], 2), image("D", ["alpha-2"], 1)]
    rules = [rule(1, "any", "imageCountMoreThan", 1)]
    assert expired(rules, images) == ["A", "B", "C"]


def test_all_images_example_b_combines_every_rule_type() -> None:
    images = [
        image("A", ["alpha-1", "beta-1"], 4),
        image("B", [], 3),
        image("C", ["alpha-2"], 2),
        image("D", ["git hash"], 1),
        image("E", [], 1 - 1 / 86400),  # pushed "1 day ago", a second after D
    ]
    rules = [
        rule(1, "tagged", "imageCountMoreThan", 1, tagPatternList=["alpha*"]),
        rule(2, "untagged", "sinceImagePushed", 1),
        rule(3, "any", "imageCountMoreThan", 1),
    ]
    assert expired(rules, images) == ["A", "B", "D"]


def test_prefix_list_behaves_like_the_pattern_list_of_the_same_prefixes() -> None:
    rules = [
        rule(1, "tagged", "imageCountMoreThan", 1, tagPrefixList=["prod"]),
        rule(2, "tagged", "imageCountMoreThan", 1, tagPrefixList=["beta"]),
    ]
    assert expired(rules, MULTIPLE_RULES_REPOSITORY) == ["A"]
