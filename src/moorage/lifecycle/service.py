"""Lifecycle policies as a use case: store them, preview them, and apply them (the scheduled run).

A repository's policy is its own, else the policy of its nearest namespace (`team` applies to
`team/app` and `team/app/api`). Evaluation is the pure function of lifecycle/evaluation.py;
this module only gathers the records, and applies the result: expired manifests are deleted in short
transactions of a few each, and each is re-checked at that moment (`lifecycle_store.expire`): one
re-tagged, listed by an index, or pushed within the grace period since it was judged is left alone.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from moorage.domain.access import Actor
from moorage.domain.errors import RegistryError
from moorage.domain.references import validate_name
from moorage.lifecycle.evaluation import Decision, Evaluation, ImageRecord, evaluate
from moorage.lifecycle.in_force import REPOSITORY, PolicyInForce, in_force, namespace_in_force, policy_index
from moorage.lifecycle.policy import LifecyclePolicy, PolicyError, parse_policy, policy_text
from moorage.metadata import history, holders, lifecycle_store, maintenance, repositories
from moorage.metadata.common import now
from moorage.metadata.database import Database
from moorage.metadata.lifecycle_schema import lifecycle_runs

log = logging.getLogger("moorage.lifecycle")

LEASE = "lifecycle"


class NoPolicy(Exception):
    """The repository has no lifecycle policy of its own or from a namespace."""


class UnknownRepository(Exception):
    """No repository of that name exists."""


class LifecycleBusy(Exception):
    """Another process or node is applying lifecycle policies right now."""


@dataclass(frozen=True)
class Preview:
    repository: str
    policy_source: str
    """`repository`, `namespace:<name>` or `request` (a policy sent with the preview)."""
    policy: dict[str, Any]
    evaluation: Evaluation
    as_of: datetime
    """The moment the policy was evaluated for."""


AnnounceDeletion = Callable[[sa.Connection, str, int, str, Actor, str | None], None]
"""(connection, repository, repository id, manifest digest, actor, override): called before an expired
image goes; the override says why its tags may go even if immutable (a lifecycle rule expires them)."""

EXPIRY_BATCH = 25
"""Images expired per transaction: the run's record advances with each, and the repository lock is short."""


class LifecycleService:
    def __init__(
        self,
        database: Database,
        lease_ttl: timedelta = timedelta(minutes=30),
        announce_deletion: AnnounceDeletion | None = None,
        grace_period: timedelta = timedelta(minutes=5),
        batch_pause: float = 0.05,
    ) -> None:
        self.database = database
        self.batch_pause = batch_pause
        """Seconds between expiry transactions, so pushes waiting for the (SQLite) write lock get it."""
        self.lease_ttl = lease_ttl
        self.grace_period = grace_period
        """Manifests pushed less than this long ago are never expired (an index may be about to list them)."""
        self.announce_deletion = announce_deletion
        """The registry's in-transaction deletion notice (tag history, audit); None in bare set-ups."""
        self.holder = holders.new_holder("lifecycle")

    # -- policies -------------------------------------------------------------------------------

    def put_policy(self, scope: str, name: str, document: Any, actor: Actor | None = None) -> dict[str, Any]:
        """Validate and store a policy; returns the document as stored. With `actor`, the change is
        audited (before and after) in the same transaction."""
        validate_name(name)
        text = policy_text(document)
        with self.database.write() as connection:
            before = lifecycle_store.get_policy(connection, scope, name)
            lifecycle_store.put_policy(connection, scope, name, text)
            if actor is not None:
                _audit_policy(connection, "lifecycle_policy.put", actor, scope, name, before, text)
        return dict(document)

    def get_policy(self, scope: str, name: str) -> dict[str, Any] | None:
        with self.database.read() as connection:
            text = lifecycle_store.get_policy(connection, scope, name)
        return json.loads(text) if text is not None else None

    def delete_policy(self, scope: str, name: str, actor: Actor | None = None) -> bool:
        with self.database.write() as connection:
            before = lifecycle_store.get_policy(connection, scope, name)
            deleted = lifecycle_store.delete_policy(connection, scope, name)
            if deleted and actor is not None:
                _audit_policy(connection, "lifecycle_policy.delete", actor, scope, name, before, None)
            return deleted

    def policy_in_force(self, scope: str, name: str) -> PolicyInForce | None:
        """The policy that governs the repository (or a namespace's repositories) and where it comes from."""
        validate_name(name)
        with self.database.read() as connection:
            policies = policy_index(lifecycle_store.all_policies(connection))
        return in_force(policies, name) if scope == REPOSITORY else namespace_in_force(policies, name)

    # -- preview --------------------------------------------------------------------------------

    def preview(self, repository: str, document: Any | None = None, as_of: datetime | None = None) -> Preview:
        """What the policy (the given one, else the effective one) would expire now, or at `as_of`.

        Changes nothing. `as_of` judges today's images as if it were that time (next week: what
        `sinceImagePushed` rules will have reached by then); the grace period is not applied.
        """
        validate_name(repository)
        if document is not None:
            source, policy_document = "request", document
        else:
            effective = self.policy_in_force(REPOSITORY, repository)
            if effective is None:
                raise NoPolicy(f"repository {repository!r} has no lifecycle policy")
            source, policy_document = effective.label, effective.document
        policy = parse_policy(policy_document)
        with self.database.read() as connection:
            repository_id = repositories.find_id(connection, repository)
            if repository_id is None:
                raise UnknownRepository(repository)
            images = _records(lifecycle_store.images(connection, repository_id))
        moment = as_of or now()
        return Preview(repository, source, policy_document, evaluate(policy, images, moment), moment)

    # -- apply ----------------------------------------------------------------------------------

    def apply_all(self, started_by: str | None = None, repository: str | None = None) -> dict[str, Any]:
        """Apply every repository's effective policy once (or only `repository`'s); the run is recorded and returned.

        `started_by` names the person who asked for the run (its trigger is then `manual`); without
        it the run is the schedule's. One repository is applied like `aws ecr start-lifecycle-policy-preview`
        then expiry, for a repository that must be cleaned now: its policy must exist and be valid.

        What it expires is added to the run's record in the very transaction that expires it, so a run
        killed midway (a crash, `kill -9`) still says truly what it expired so far.
        """
        if repository is not None:
            self._check_target(repository)
        with self.database.write() as connection:
            if not maintenance.acquire_lease(connection, LEASE, self.holder, self.lease_ttl):
                raise LifecycleBusy("lifecycle policies are being applied by another process")
            trigger = "schedule" if started_by is None else "manual"
            run_id = lifecycle_store.start_run(connection, trigger, started_by)
        expired = 0
        try:
            with self.database.read() as connection:
                policies = policy_index(lifecycle_store.all_policies(connection))
                names = lifecycle_store.repository_names(connection) if policies else []
            if repository is not None:
                names = [name for name in names if name == repository]
            for name in names:
                effective = in_force(policies, name)
                if effective is None:
                    continue
                try:
                    policy = parse_policy(effective.document)
                except PolicyError as error:  # stored by an older version, before every path validated
                    log.warning("lifecycle policy for %s (%s) is invalid, skipped: %s", name, effective.label, error)
                    continue
                expired += self._apply(run_id, name, policy)
                with self.database.write() as connection:
                    if not maintenance.acquire_lease(connection, LEASE, self.holder, self.lease_ttl):
                        raise LifecycleBusy("the lifecycle lease was lost")
                    lifecycle_store.record_progress(connection, run_id, [], 0, repositories=1)
            with self.database.write() as connection:
                lifecycle_store.finish_run(connection, run_id, status="completed")
        except BaseException:
            with self.database.write() as connection:
                lifecycle_store.finish_run(connection, run_id, status="failed")
            raise
        finally:
            with self.database.write() as connection:
                maintenance.release_lease(connection, LEASE, self.holder)
        log.info("lifecycle run %d: %d images expired", run_id, expired)
        return self.run(run_id) or {}

    def _check_target(self, repository: str) -> None:
        """A run for one repository needs the repository and a valid policy in force (else: say so, run nothing)."""
        validate_name(repository)
        with self.database.read() as connection:
            if repositories.find_id(connection, repository) is None:
                raise UnknownRepository(repository)
        effective = self.policy_in_force(REPOSITORY, repository)
        if effective is None:
            raise NoPolicy(f"repository {repository!r} has no lifecycle policy")
        parse_policy(effective.document)

    def _apply(self, run_id: int, repository: str, policy: LifecyclePolicy) -> int:
        """Expire what the policy selects, a batch per transaction; returns how many images went."""
        with self.database.read() as connection:
            repository_id = repositories.find_id(connection, repository)
            if repository_id is None:
                return 0
            images = _records(lifecycle_store.images(connection, repository_id))
        evaluation = evaluate(policy, images, now())
        subject_of = {image.digest: image.subject for image in images}
        ordered = sorted(evaluation.expired, key=lambda decision: _expiry_order(decision, subject_of))
        released: set[str] = set()  # blobs released but (so far) still referenced by another manifest
        count = 0
        for start in range(0, len(ordered), EXPIRY_BATCH):
            if start and self.batch_pause:
                time.sleep(self.batch_pause)  # SQLite's busy handler polls: without a gap the run keeps the lock
            with self.database.write() as connection:
                repositories.lock(connection, repository_id)  # the lock order of every manifest write
                pushed_before = now() - self.grace_period
                done: list[dict[str, Any]] = []
                for decision in ordered[start : start + EXPIRY_BATCH]:
                    announce = self._announcer(connection, repository, repository_id, decision)
                    try:
                        with connection.begin_nested():  # a refusal undoes this image only
                            blob_digests = lifecycle_store.expire(
                                connection, repository_id, decision.digest, decision.tags, pushed_before, announce
                            )
                    except lifecycle_store.Kept as kept:
                        log.info("lifecycle kept %s in %s: %s", decision.digest, repository, kept.reason)
                        continue
                    except RegistryError as refused:  # a hook refused: left for the next run
                        log.info("lifecycle could not expire %s in %s: %s", decision.digest, repository, refused)
                        continue
                    if blob_digests is None:
                        continue  # deleted by someone else meanwhile
                    released.update(blob_digests)
                    done.append(_expired_entry(repository, decision))
                # Bytes freed: the blobs no manifest references any more (GC removes them after its grace period).
                freed = lifecycle_store.unreferenced_sizes(connection, released)
                released -= freed.keys()
                lifecycle_store.record_progress(connection, run_id, done, sum(freed.values()))
                count += len(done)
        return count

    def _announcer(
        self, connection: sa.Connection, repository: str, repository_id: int, decision: Decision
    ) -> Callable[[], None]:
        def announce() -> None:
            if self.announce_deletion is not None:
                rule = f"rule {decision.rule_priority}" if decision.rule_priority is not None else "follows its parent"
                actor = Actor("system", "lifecycle", credential=rule)
                override = f"lifecycle expiry ({rule})"
                self.announce_deletion(connection, repository, repository_id, decision.digest, actor, override)

        return announce

    # -- runs -----------------------------------------------------------------------------------

    def interrupt_dead_runs(self) -> None:
        """Mark a run whose process is gone `interrupted` (a read unless there is one)."""
        with self.database.read() as connection:
            dead = maintenance.dead_lifecycle_runs(connection, LEASE)
        if dead:
            with self.database.write() as connection:
                maintenance.interrupt_runs(connection, lifecycle_runs, dead)

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        self.interrupt_dead_runs()
        with self.database.read() as connection:
            return lifecycle_store.runs(connection, limit)

    def run(self, run_id: int) -> dict[str, Any] | None:
        self.interrupt_dead_runs()
        with self.database.read() as connection:
            return lifecycle_store.run(connection, run_id)

    def last_run_started(self) -> datetime | None:
        """When the last run started on any node (the schedule's clock)."""
        with self.database.read() as connection:
            return lifecycle_store.last_run_started(connection)


def _expiry_order(decision: Decision, subject_of: dict[str, str | None]) -> int:
    """Referrers before their subject, indexes before the children they list (a listed child is kept)."""
    if decision.follows is None:
        return 1
    return 0 if subject_of.get(decision.digest) == decision.follows else 2


def _records(rows: list[lifecycle_store.ImageRow]) -> list[ImageRecord]:
    return [
        ImageRecord(row.digest, row.tags, row.pushed_at, row.last_pulled_at, row.size, row.index_parents, row.subject)
        for row in rows
    ]


def _expired_entry(repository: str, decision: Decision) -> dict[str, Any]:
    return {
        "repository": repository,
        "digest": decision.digest,
        "tags": list(decision.tags),
        "rulePriority": decision.rule_priority,
        "reason": decision.reason,
        "size": decision.size,
    }


def _audit_policy(
    connection: sa.Connection, action: str, actor: Actor, scope: str, name: str, before: str | None, after: str | None
) -> None:
    """A policy change in the audit log: the documents before and after (null: none)."""
    detail = {"scope": scope, "before": _loaded(before), "after": _loaded(after)}
    repository, target = (name, name) if scope == REPOSITORY else (None, f"{name}/*")
    history.append_audit(connection, action, actor, repository, target, "success", detail)


def _loaded(text: str | None) -> Any:
    return None if text is None else json.loads(text)
