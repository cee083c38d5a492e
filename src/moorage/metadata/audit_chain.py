"""Appending to the audit log's hash chain without forks, and walking it to verify it.

An append locks the chain-head row (`SELECT … FOR UPDATE` on PostgreSQL; SQLite write
transactions already start with BEGIN IMMEDIATE), takes the next id and the previous hash from
it, inserts the entry with its hash and moves the head, all in the caller's transaction: two
processes or nodes appending at once queue on the head row, so every entry has exactly one
successor. The encoding is `moorage.domain.audit_chain`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from moorage.domain.audit_chain import GENESIS, ChainBreak, ChainReport, entry_hash
from moorage.metadata.governance_schema import audit_chain_head, audit_log

HEAD_ROW = 1
PAGE = 2000


def append_chained(connection: sa.Connection, row: dict[str, Any]) -> int:
    """Insert `row` (an audit_log row without id and hashes) as the chain's next entry; its id."""
    head = connection.execute(
        sa.select(audit_chain_head.c.last_id, audit_chain_head.c.hash)
        .where(audit_chain_head.c.id == HEAD_ROW)
        .with_for_update()
    ).first()
    if head is None:  # a store created without migration 0012's seed row (never in practice)
        connection.execute(sa.insert(audit_chain_head), [{"id": HEAD_ROW, "last_id": 0, "hash": GENESIS}])
        last_id, previous = 0, GENESIS
    else:
        last_id, previous = int(head.last_id), str(head.hash)
    entry_id = last_id + 1
    fields = {**row, "id": entry_id, "prev_hash": previous}
    digest = entry_hash(fields)
    connection.execute(sa.insert(audit_log), [{**fields, "hash": digest}])
    connection.execute(
        sa.update(audit_chain_head).where(audit_chain_head.c.id == HEAD_ROW).values(last_id=entry_id, hash=digest)
    )
    return entry_id


def chain_existing(connection: sa.Connection) -> None:
    """Hash every entry in id order and seed the head row (migration 0012: entries from before the chain)."""
    previous, last_id, after = GENESIS, 0, 0
    while True:
        page = list(
            connection.execute(
                sa.select(audit_log).where(audit_log.c.id > after).order_by(audit_log.c.id).limit(PAGE)
            ).mappings()
        )
        for row in page:
            digest = entry_hash({**row, "prev_hash": previous})
            connection.execute(
                sa.update(audit_log).where(audit_log.c.id == row["id"]).values(prev_hash=previous, hash=digest)
            )
            previous, last_id = digest, int(row["id"])
        if len(page) < PAGE:
            break
        after = last_id
    connection.execute(sa.insert(audit_chain_head), [{"id": HEAD_ROW, "last_id": last_id, "hash": previous}])


def chain_head(connection: sa.Connection) -> tuple[int | None, str, int]:
    """The newest entry's id (None when the log is empty), its hash, and how many entries there are."""
    head = connection.execute(sa.select(audit_chain_head).where(audit_chain_head.c.id == HEAD_ROW)).first()
    count = int(connection.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar_one())
    if head is None or int(head.last_id) == 0:
        return None, GENESIS if head is None else str(head.hash), count
    return int(head.last_id), str(head.hash), count


def _entries(connection: sa.Connection) -> Iterator[dict[str, Any]]:
    after = -1
    while True:
        page = list(
            connection.execute(
                sa.select(audit_log).where(audit_log.c.id > after).order_by(audit_log.c.id).limit(PAGE)
            ).mappings()
        )
        yield from (dict(row) for row in page)
        if len(page) < PAGE:
            return
        after = int(page[-1]["id"])


def _id_with_hash(connection: sa.Connection, digest: str) -> int | None:
    found = connection.execute(sa.select(sa.func.min(audit_log.c.id)).where(audit_log.c.hash == digest)).scalar()
    return None if found is None else int(found)


def _next_id(connection: sa.Connection, after: int) -> int | None:
    found = connection.execute(sa.select(sa.func.min(audit_log.c.id)).where(audit_log.c.id > after)).scalar()
    return None if found is None else int(found)


def verify(connection: sa.Connection, expected_head: str | None = None) -> ChainReport:
    """Re-compute the chain from the first entry; name the first entry changed, removed or inserted.

    `expected_head` is a hash exported earlier (`audit/head`): it must still be in the chain,
    which catches a rewrite of the newest entries together with the head row.
    """
    previous, previous_id, count, seen_expected = GENESIS, None, 0, expected_head is None
    for row in _entries(connection):
        count += 1
        entry_id = int(row["id"])
        if row["hash"] is None:
            return _broken(count, previous_id, previous, entry_id, "inserted", "an entry without a hash")
        if entry_hash(row) != row["hash"]:
            return _broken(count, previous_id, previous, entry_id, "changed", "its content does not match its hash")
        if row["prev_hash"] != previous:
            return _broken(count, previous_id, previous, *_link(connection, row, previous_id))
        previous, previous_id = str(row["hash"]), entry_id
        seen_expected = seen_expected or previous == expected_head
    head_id, head_hash, _ = chain_head(connection)
    if head_hash != previous:
        earlier = _id_with_hash(connection, head_hash)
        if earlier is not None:
            first = _next_id(connection, earlier)
            return _broken(count, previous_id, previous, first, "inserted", f"the chain head is entry {earlier}")
        return _broken(count, previous_id, previous, head_id, "removed", "the newest entries are missing")
    if not seen_expected:
        message = "the given head is not in the chain: entries up to it were changed or removed"
        return _broken(count, previous_id, previous, None, "head", message)
    return ChainReport(count, previous_id, previous, None)


def _link(connection: sa.Connection, row: dict[str, Any], previous_id: int | None) -> tuple[int | None, Any, str]:
    """Why an entry's `prev_hash` is not the previous entry's hash."""
    entry_id = int(row["id"])
    earlier = _id_with_hash(connection, str(row["prev_hash"]))
    if earlier is not None and (previous_id is None or earlier < previous_id):
        return _next_id(connection, earlier), "inserted", f"entry {entry_id} follows entry {earlier}"
    if previous_id is not None and entry_id == previous_id + 1:
        return previous_id, "changed", f"entry {previous_id} was rewritten with a new hash"
    since = "the start" if previous_id is None else f"entry {previous_id}"
    missing = entry_id if previous_id is None else previous_id + 1
    return missing, "removed", f"an entry between {since} and entry {entry_id} is missing"


def _broken(
    count: int, head_id: int | None, head_hash: str, entry_id: int | None, problem: Any, message: str
) -> ChainReport:
    return ChainReport(count, head_id, head_hash, ChainBreak(entry_id, problem, message))
