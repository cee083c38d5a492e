"""Evaluating a lifecycle policy: a pure function from image records to decisions with reasons.

ECR's semantics, as its documentation states them:
- every rule is evaluated, then the rules apply in priority order (lowest `rulePriority` first);
- a rule *identifies* the images its tag selection matches, counting all of them (also those a
  higher-priority rule already expired), and marks the ones its count selects, oldest first;
- an image is expired by at most one rule, and an image identified by a higher-priority rule is
  never expired by a lower-priority one;
- `imageCountMoreThan N` keeps the N most recently pushed identified images; `sinceImagePushed N`
  selects images pushed more than N days ago; `sinceImagePulled N` images last pulled more than N
  days ago (never pulled: counted from the push).

Moorage adds what ECR leaves to chance for indexes and referrers: an image that is only a child of
an index, or a referrer (`subject`) of another image of the repository, is not judged by the rules
itself but follows its parent. A kept index keeps its children (even a tagged child a rule would
expire); an expired image takes its referrers with it; an untagged child whose every index expired
expires with them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from moorage.lifecycle.policy import (
    CountType,
    LifecyclePolicy,
    LifecycleRule,
    Selection,
    TagStatus,
)


@dataclass(frozen=True)
class ImageRecord:
    """What the policy sees of one manifest of a repository."""

    digest: str
    tags: tuple[str, ...]
    pushed_at: datetime
    last_pulled_at: datetime | None = None
    size: int = 0
    index_parents: tuple[str, ...] = ()
    """Digests of the repository's indexes that list this manifest."""
    subject: str | None = None
    """The digest this manifest refers to (its `subject`), if any."""


@dataclass(frozen=True)
class Decision:
    digest: str
    tags: tuple[str, ...]
    expired: bool
    rule_priority: int | None
    """The rule that decided (expired it, or identified it first and so protects it); None: no rule."""
    reason: str
    size: int = 0
    pushed_at: datetime | None = None
    follows: str | None = None
    """The parent (index or subject) whose fate this image shares, when it follows one."""
    last_pulled_at: datetime | None = None


@dataclass(frozen=True)
class Evaluation:
    decisions: tuple[Decision, ...] = field(default_factory=tuple)

    @property
    def expired(self) -> list[Decision]:
        return [decision for decision in self.decisions if decision.expired]

    @property
    def kept(self) -> list[Decision]:
        return [decision for decision in self.decisions if not decision.expired]


def evaluate(policy: LifecyclePolicy, images: Sequence[ImageRecord], now: datetime) -> Evaluation:
    """Decide for every image whether the policy keeps or expires it, and why."""
    by_digest = {image.digest: image for image in images}
    followers = {image.digest for image in images if _follows_a_parent(image, by_digest)}
    judged = [image for image in images if image.digest not in followers]
    own = _apply_rules(policy, judged, now)
    decisions = _resolve_followers(images, by_digest, own)
    order = sorted(images, key=lambda image: (image.pushed_at, image.digest))
    return Evaluation(tuple(decisions[image.digest] for image in order))


def _follows_a_parent(image: ImageRecord, by_digest: dict[str, ImageRecord]) -> bool:
    """Referrers of a present image, and untagged children of a present index, follow their parent."""
    if image.subject is not None and image.subject in by_digest and image.subject != image.digest:
        return True
    return not image.tags and any(parent in by_digest for parent in image.index_parents)


def _apply_rules(policy: LifecyclePolicy, images: list[ImageRecord], now: datetime) -> dict[str, Decision]:
    newest_first = sorted(images, key=lambda image: (image.pushed_at, image.digest), reverse=True)
    decisions: dict[str, Decision] = {}
    for rule in policy.rules:
        identified = [image for image in newest_first if _matches_tags(rule.selection, image.tags)]
        marked = {image.digest for image in _count_selection(rule.selection, identified, now)}
        for image in identified:
            if image.digest in decisions:
                continue  # identified by a higher-priority rule: this rule cannot expire it
            expired = image.digest in marked
            decisions[image.digest] = _decision(image, expired, rule, _reason(rule, expired))
    for image in images:
        if image.digest not in decisions:
            decisions[image.digest] = _decision(image, False, None, "no rule selects this image")
    return decisions


def _count_selection(selection: Selection, newest_first: list[ImageRecord], now: datetime) -> Iterable[ImageRecord]:
    if selection.count_type is CountType.IMAGE_COUNT_MORE_THAN:
        return newest_first[selection.count_number :]
    limit = now - timedelta(days=selection.count_number)
    if selection.count_type is CountType.SINCE_IMAGE_PUSHED:
        return [image for image in newest_first if image.pushed_at < limit]
    return [image for image in newest_first if (image.last_pulled_at or image.pushed_at) < limit]


def _matches_tags(selection: Selection, tags: tuple[str, ...]) -> bool:
    if selection.tag_status is TagStatus.ANY:
        return True
    if selection.tag_status is TagStatus.UNTAGGED:
        return not tags
    if not tags:
        return False
    if selection.tag_prefixes:
        return all(any(tag.startswith(prefix) for tag in tags) for prefix in selection.tag_prefixes)
    return all(any(_pattern(pattern).fullmatch(tag) for tag in tags) for pattern in selection.tag_patterns)


@lru_cache(maxsize=1024)
def _pattern(pattern: str) -> re.Pattern[str]:
    """A tag pattern where `*` matches any run of characters and everything else is literal."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


def _reason(rule: LifecycleRule, expired: bool) -> str:
    selection = rule.selection
    label = f"rule {rule.priority}" + (f" ({rule.description})" if rule.description else "")
    if selection.count_type is CountType.IMAGE_COUNT_MORE_THAN:
        detail = (
            f"more than {selection.count_number} matching images, this is older"
            if expired
            else f"among the {selection.count_number} newest matching images"
        )
    else:
        what = "pushed" if selection.count_type is CountType.SINCE_IMAGE_PUSHED else "last pulled"
        older = "more" if expired else "not more"
        detail = f"{what} {older} than {selection.count_number} days ago"
    return f"{'expired' if expired else 'kept'} by {label}: {detail}"


def _decision(image: ImageRecord, expired: bool, rule: LifecycleRule | None, reason: str) -> Decision:
    return Decision(
        image.digest,
        image.tags,
        expired,
        rule.priority if rule else None,
        reason,
        image.size,
        image.pushed_at,
        last_pulled_at=image.last_pulled_at,
    )


def _resolve_followers(
    images: Sequence[ImageRecord], by_digest: dict[str, ImageRecord], own: dict[str, Decision]
) -> dict[str, Decision]:
    """Give followers their parent's fate, and let kept indexes protect the images they list."""
    resolved: dict[str, Decision] = {}
    visiting: set[str] = set()

    def resolve(digest: str) -> Decision:
        if digest in resolved:
            return resolved[digest]
        image = by_digest[digest]
        if digest in visiting:  # a reference cycle (not possible with honest digests): keep
            return _decision(image, False, None, "kept: reference cycle")
        visiting.add(digest)
        decision = _with_parents(image, own.get(digest), by_digest, resolve)
        visiting.discard(digest)
        resolved[digest] = decision
        return decision

    for image in images:
        resolve(image.digest)
    return resolved


def _with_parents(
    image: ImageRecord,
    own: Decision | None,
    by_digest: dict[str, ImageRecord],
    resolve: Callable[[str], Decision],
) -> Decision:
    if image.subject is not None and image.subject in by_digest and image.subject != image.digest:
        parent = resolve(image.subject)
        verb = "expired with" if parent.expired else "kept with"
        return _follow(image, parent, f"{verb} its subject {image.subject}")
    parents = [resolve(digest) for digest in image.index_parents if digest in by_digest]
    kept_parent = next((parent for parent in parents if not parent.expired), None)
    if kept_parent is not None:
        return _follow(image, kept_parent, f"kept: listed by the kept index {kept_parent.digest}", expired=False)
    if own is not None:
        return own
    # An untagged child whose every index expired.
    return _follow(image, parents[0], f"expired with its index {parents[0].digest}", expired=True)


def _follow(image: ImageRecord, parent: Decision, reason: str, expired: bool | None = None) -> Decision:
    return Decision(
        image.digest,
        image.tags,
        parent.expired if expired is None else expired,
        parent.rule_priority,
        reason,
        image.size,
        image.pushed_at,
        parent.digest,
        image.last_pulled_at,
    )
