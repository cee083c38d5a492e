"""The audit log: an append-only record of every mutation, with who did it and from where.

Registry writes are recorded by the governance hook inside their own transaction. Other modules
(authentication: permission changes, login failures) call `AuditLog.record`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from moorage.domain.access import AccessPolicy, Action, Actor
from moorage.domain.audit_chain import ChainReport, rfc3339
from moorage.governance.errors import PermissionDenied
from moorage.metadata import audit_chain, history
from moorage.metadata.database import Database
from moorage.metadata.history import AuditEntry as AuditEntry
from moorage.metadata.history import AuditQuery as AuditQuery

EVERYTHING = "*"
"""The resource name registry-wide permissions are asked for (audit, templates)."""
EXPORT_PAGE = 1000


def utc(moment: datetime | None) -> datetime | None:
    """Timestamps come back naive from SQLite; every stored time is UTC."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def entry_document(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": rfc3339(entry.at),
        "action": entry.action,
        "repository": entry.repository,
        "target": entry.target,
        "outcome": entry.outcome,
        "actor": {"kind": entry.actor.kind, "name": entry.actor.name, "credential": entry.actor.credential},
        "source_address": entry.actor.source_address,
        "detail": entry.detail,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


@dataclass(frozen=True)
class ChainHead:
    """The newest entry of the chain: keep `hash` elsewhere and give it to `verify` later."""

    id: int | None
    hash: str
    entries: int


class AuditLog:
    def __init__(self, database: Database, policy: AccessPolicy) -> None:
        self.database = database
        self.policy = policy

    def record(
        self,
        action: str,
        actor: Actor,
        repository: str | None = None,
        target: str | None = None,
        outcome: str = "success",
        detail: dict[str, Any] | None = None,
        connection: sa.Connection | None = None,
    ) -> None:
        """Append one entry; pass `connection` to commit it with the change it describes.

        `action` is `<resource>.<verb>` (`manifest.push`, `tag.move`, `auth.login`...); `outcome` is
        `success`, `denied` or `failure`. Never put a secret in `detail`.
        """
        if connection is not None:
            history.append_audit(connection, action, actor, repository, target, outcome, detail)
            return
        with self.database.write() as own:
            history.append_audit(own, action, actor, repository, target, outcome, detail)

    def require(self, actor: Actor, repository: str, action: Action, what: str) -> None:
        """Raise PermissionDenied (and record the refusal) unless the policy allows the action."""
        if self.policy.allows(actor, repository, action):
            return
        self.record(
            what,
            actor,
            None if repository == EVERYTHING else repository,
            outcome="denied",
            detail={"required": action.value},
        )
        raise PermissionDenied(f"{actor.name} may not {action.value} {repository}")

    def require_reader(self, actor: Actor, repository: str | None) -> None:
        """Reading the audit log of a repository needs ADMIN on it; of everything, ADMIN on `*`."""
        self.require(actor, repository or EVERYTHING, Action.ADMIN, "audit.read")

    def query(self, actor: Actor, query: AuditQuery) -> list[AuditEntry]:
        self.require_reader(actor, query.repository)
        with self.database.read() as connection:
            return history.audit_entries(connection, query)

    def head(self, actor: Actor) -> ChainHead:
        self.require_reader(actor, None)
        with self.database.read() as connection:
            return ChainHead(*audit_chain.chain_head(connection))

    def verify(self, actor: Actor, expected_head: str | None = None) -> ChainReport:
        """Re-compute the whole chain (and check it still holds `expected_head`, when given)."""
        self.require_reader(actor, None)
        with self.database.read() as connection:
            return audit_chain.verify(connection, expected_head)

    def export(self, query: AuditQuery) -> Iterator[str]:
        """Every matching entry as JSON lines, read page by page so memory stays flat (check `require_reader` first)."""
        after = query.after_id
        remaining = query.limit
        while remaining > 0:
            page_query = AuditQuery(**{**query.__dict__, "after_id": after, "limit": min(EXPORT_PAGE, remaining)})
            with self.database.read() as connection:
                page = history.audit_entries(connection, page_query)
            for entry in page:
                yield json.dumps(entry_document(entry), separators=(",", ":")) + "\n"
            if len(page) < page_query.limit:
                return
            after = page[-1].id
            remaining -= len(page)
