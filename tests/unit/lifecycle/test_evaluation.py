"""Edge cases of lifecycle evaluation beyond ECR's examples: reasons, pulls, indexes and referrers."""

from __future__ import annotations

from datetime import timedelta

from moorage.lifecycle.evaluation import evaluate
from moorage.lifecycle.policy import parse_policy
from tests.unit.lifecycle.test_ecr_examples import NOW, expired, image, rule


def test_every_image_gets_a_decision_naming_the_rule_that_decided() -> None:
    images = [image("old", ["v1"], 3), image("new", ["v2"], 1), image("other", ["x"], 9)]
    policy = parse_policy({"rules": [rule(7, "tagged", "imageCountMoreThan", 1, tagPrefixList=["v"])]})
    decisions = {d.digest: d for d in evaluate(policy, images, NOW).decisions}
    assert decisions["old"].expired and decisions["old"].rule_priority == 7
    assert "expired by rule 7" in decisions["old"].reason
    assert not decisions["new"].expired and decisions["new"].rule_priority == 7
    assert not decisions["other"].expired and decisions["other"].rule_priority is None


def test_since_image_pulled_counts_from_the_last_pull_or_from_the_push_if_never_pulled() -> None:
    images = [
        image("pulled-recently", [], 100, last_pulled_at=NOW - timedelta(days=2)),
        image("pulled-long-ago", [], 100, last_pulled_at=NOW - timedelta(days=40)),
        image("never-pulled-old", [], 40),
        image("never-pulled-new", [], 5),
    ]
    assert expired([rule(1, "any", "sinceImagePulled", 30)], images) == ["never-pulled-old", "pulled-long-ago"]


def test_an_image_exactly_at_the_age_limit_is_not_older_than_it() -> None:
    assert expired([rule(1, "any", "sinceImagePushed", 3)], [image("edge", [], 3), image("older", [], 3.01)]) == [
        "older"
    ]


def test_wildcards_match_in_the_middle_and_everything_else_is_literal() -> None:
    images = [image("a", ["release-1.0-rc"], 9), image("b", ["release-2.0"], 9), image("c", ["release.x-rc"], 9)]
    rules = [rule(1, "tagged", "sinceImagePushed", 1, tagPatternList=["release-*-rc"])]
    assert expired(rules, images) == ["a"]


def test_a_kept_index_keeps_its_untagged_and_tagged_children() -> None:
    images = [
        image("index", ["latest"], 5),
        image("amd64", [], 5, index_parents=("index",)),
        image("arm64", ["arm"], 5, index_parents=("index",)),
        image("stray", [], 5),
    ]
    rules = [rule(1, "untagged", "sinceImagePushed", 1), rule(2, "any", "sinceImagePushed", 2)]
    # Rule 2 would expire everything old; the index is kept only if no rule expires it: here it is expired.
    assert expired(rules, images) == ["amd64", "arm64", "index", "stray"]
    rules = [
        rule(1, "untagged", "sinceImagePushed", 1),
        rule(2, "tagged", "sinceImagePushed", 2, tagPrefixList=["arm"]),
    ]
    assert expired(rules, images) == ["stray"]


def test_an_untagged_child_expires_with_its_index_and_says_so() -> None:
    images = [image("index", ["old"], 9), image("child", [], 9, index_parents=("index",))]
    policy = parse_policy({"rules": [rule(1, "tagged", "sinceImagePushed", 1, tagPatternList=["*"])]})
    decisions = {d.digest: d for d in evaluate(policy, images, NOW).decisions}
    assert decisions["child"].expired and decisions["child"].follows == "index"
    assert "with its index" in decisions["child"].reason


def test_a_child_listed_by_one_kept_and_one_expired_index_is_kept() -> None:
    images = [
        image("old-index", ["v1"], 9),
        image("new-index", ["v2"], 1),
        image("shared", [], 9, index_parents=("old-index", "new-index")),
    ]
    assert expired([rule(1, "tagged", "imageCountMoreThan", 1, tagPrefixList=["v"])], images) == ["old-index"]


def test_referrers_follow_their_subject_whatever_their_own_age_or_tags() -> None:
    images = [
        image("old", ["v1"], 9),
        image("new", ["v2"], 1),
        image("sig-old", [], 0.1, subject="old"),
        image("sbom-new", [], 30, subject="new"),
        image("sig-of-sig", [], 0.1, subject="sig-old"),
        image("orphan-referrer", [], 30, subject="gone"),
    ]
    rules = [
        rule(1, "tagged", "imageCountMoreThan", 1, tagPrefixList=["v"]),
        rule(2, "untagged", "sinceImagePushed", 7),
    ]
    assert expired(rules, images) == ["old", "orphan-referrer", "sig-of-sig", "sig-old"]


def test_untagged_rule_counts_only_images_that_do_not_follow_a_parent() -> None:
    images = [
        image("index", ["latest"], 3),
        image("c1", [], 3, index_parents=("index",)),
        image("c2", [], 3, index_parents=("index",)),
        image("u-old", [], 2),
        image("u-new", [], 1),
    ]
    assert expired([rule(1, "untagged", "imageCountMoreThan", 1)], images) == ["u-old"]


def test_no_images_and_no_matches_expire_nothing() -> None:
    assert expired([rule(1, "any", "imageCountMoreThan", 1)], []) == []
    assert expired([rule(1, "tagged", "sinceImagePushed", 1, tagPrefixList=["zzz"])], [image("a", ["v"], 99)]) == []
