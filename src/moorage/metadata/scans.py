"""Queries of scan results: one row per image digest, its findings as documents, cached layer summaries.

A first scan goes PENDING → IN_PROGRESS → COMPLETE (or FAILED, UNSUPPORTED_IMAGE). A re-scan of a
COMPLETE digest (on demand, after a database import) keeps the complete result readable until the
new one replaces it in one transaction, so a gate never sees a scanned image turn "not scanned".
Every change bumps `revision`, which readers use to cache reports across requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from moorage.metadata.common import insert_ignoring_duplicates, now, upsert
from moorage.metadata.governance_schema import repository_settings
from moorage.metadata.scans_schema import layer_summaries, scan_findings, scans
from moorage.metadata.tables import manifest_references, manifests, repositories

PENDING = "PENDING"
IN_PROGRESS = "IN_PROGRESS"
COMPLETE = "COMPLETE"


@dataclass(frozen=True)
class ScanRow:
    digest: str
    status: str
    reason: str | None
    database_version: str | None
    counts: dict[str, int] | None
    requested_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    revision: int
    index_of: tuple[str, ...] | None = None
    """For an index: the image manifests it lists, whose results it aggregates."""


@dataclass(frozen=True)
class FindingRow:
    id: int
    document: dict[str, Any]


def _aware(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes for timezone-aware columns; they were stored in UTC."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


_ROW_COLUMNS = (
    scans.c.digest,
    scans.c.status,
    scans.c.reason,
    scans.c.database_version,
    scans.c.counts,
    scans.c.requested_at,
    scans.c.started_at,
    scans.c.completed_at,
    scans.c.revision,
    scans.c.index_of,
)


def _scan_row(row: Any) -> ScanRow:
    return ScanRow(
        row.digest,
        row.status,
        row.reason,
        row.database_version,
        dict(row.counts) if row.counts is not None else None,
        _aware(row.requested_at),  # type: ignore[arg-type]
        _aware(row.started_at),
        _aware(row.completed_at),
        row.revision,
        tuple(row.index_of) if row.index_of is not None else None,
    )


def get(connection: sa.Connection, digest: str) -> ScanRow | None:
    row = connection.execute(sa.select(*_ROW_COLUMNS).where(scans.c.digest == digest)).first()
    return _scan_row(row) if row is not None else None


def of_digests(connection: sa.Connection, digests: Sequence[str]) -> dict[str, ScanRow]:
    if not digests:
        return {}
    query = sa.select(*_ROW_COLUMNS).where(scans.c.digest.in_(list(digests)))
    return {row.digest: _scan_row(row) for row in connection.execute(query)}


def revisions(connection: sa.Connection, digests: Sequence[str]) -> dict[str, tuple[int, tuple[str, ...] | None]]:
    """Each row's revision and index children alone: what a cached report is checked against."""
    query = sa.select(scans.c.digest, scans.c.revision, scans.c.index_of).where(scans.c.digest.in_(list(digests)))
    return {
        row.digest: (row.revision, tuple(row.index_of) if row.index_of is not None else None)
        for row in connection.execute(query)
    }


def request_index(connection: sa.Connection, digest: str, children: Sequence[str]) -> None:
    """Record an index: its result is its image manifests' (`children`), never a scan of its own."""
    moment = now()
    row: dict[str, object] = {
        "digest": digest,
        "status": PENDING,
        "requested_at": moment,
        "revision": 1,
        "index_of": list(children),
    }
    insert_ignoring_duplicates(connection, scans, [row])
    connection.execute(
        sa.update(scans).where(scans.c.digest == digest).values(index_of=list(children), revision=scans.c.revision + 1)
    )


def request(connection: sa.Connection, digest: str) -> None:
    """Record that a scan of `digest` was asked for: a new or unfinished one is PENDING again.

    A COMPLETE result stays as it is until the re-scan replaces it.
    """
    moment = now()
    insert_ignoring_duplicates(
        connection, scans, [{"digest": digest, "status": PENDING, "requested_at": moment, "revision": 1}]
    )
    connection.execute(
        sa.update(scans)
        .where(scans.c.digest == digest, scans.c.status.notin_((PENDING, COMPLETE)))
        .values(status=PENDING, reason=None, requested_at=moment, revision=scans.c.revision + 1)
    )


def start(connection: sa.Connection, digest: str) -> None:
    """The scan began: IN_PROGRESS, unless a complete result stands until it is replaced."""
    moment = now()
    insert_ignoring_duplicates(
        connection, scans, [{"digest": digest, "status": PENDING, "requested_at": moment, "revision": 1}]
    )
    connection.execute(
        sa.update(scans)
        .where(scans.c.digest == digest, scans.c.status != COMPLETE)
        .values(status=IN_PROGRESS, reason=None, started_at=moment, revision=scans.c.revision + 1)
    )


def finish(
    connection: sa.Connection,
    digest: str,
    status: str,
    reason: str | None,
    database_version: str | None = None,
    inventory: dict[str, Any] | None = None,
    findings: Sequence[tuple[int, str, dict[str, Any]]] = (),
    counts: dict[str, int] | None = None,
) -> None:
    """Replace the digest's result: its status and, for a complete scan, inventory and findings.

    `findings` are (severity rank, vulnerability id, document), stored in the order given.
    """
    moment = now()
    insert_ignoring_duplicates(
        connection, scans, [{"digest": digest, "status": status, "requested_at": moment, "revision": 0}]
    )
    connection.execute(sa.delete(scan_findings).where(scan_findings.c.digest == digest))
    if findings:
        connection.execute(
            sa.insert(scan_findings),
            [
                {"digest": digest, "severity_rank": rank, "vulnerability_id": vulnerability[:128], "document": doc}
                for rank, vulnerability, doc in findings
            ],
        )
    connection.execute(
        sa.update(scans)
        .where(scans.c.digest == digest)
        .values(
            status=status,
            reason=reason,
            database_version=database_version,
            inventory=inventory,
            counts=counts,
            completed_at=moment,
            revision=scans.c.revision + 1,
        )
    )


def forget(connection: sa.Connection, digest: str) -> None:
    """Drop a digest's unfinished scan (its image went before it was scanned)."""
    connection.execute(sa.delete(scans).where(scans.c.digest == digest, scans.c.status.in_((PENDING, IN_PROGRESS))))


def inventory(connection: sa.Connection, digest: str) -> dict[str, Any] | None:
    return connection.execute(sa.select(scans.c.inventory).where(scans.c.digest == digest)).scalar()


def findings(
    connection: sa.Connection, digest: str, min_rank: int = 0, after: int | None = None, limit: int | None = None
) -> list[FindingRow]:
    """Findings of the digest at or above a severity rank, worst first, after the cursor `after` (an id).

    The order is by rank, then id; the cursor is (rank, id) of the last row seen, encoded as the id alone
    because ids are unique and the rank is read back from that row.
    """
    query = (
        sa.select(scan_findings.c.id, scan_findings.c.severity_rank, scan_findings.c.document)
        .where(scan_findings.c.digest == digest, scan_findings.c.severity_rank >= min_rank)
        .order_by(scan_findings.c.severity_rank.desc(), scan_findings.c.id)
    )
    if after is not None:
        last_rank = connection.execute(
            sa.select(scan_findings.c.severity_rank).where(
                scan_findings.c.id == after, scan_findings.c.digest == digest
            )
        ).scalar()
        if last_rank is None:
            return []
        query = query.where(
            sa.or_(
                scan_findings.c.severity_rank < last_rank,
                sa.and_(scan_findings.c.severity_rank == last_rank, scan_findings.c.id > after),
            )
        )
    if limit is not None:
        query = query.limit(limit)
    return [FindingRow(row.id, dict(row.document)) for row in connection.execute(query)]


def finding_count(connection: sa.Connection, digest: str, min_rank: int = 0) -> int:
    query = sa.select(sa.func.count()).where(
        scan_findings.c.digest == digest, scan_findings.c.severity_rank >= min_rank
    )
    return int(connection.execute(query).scalar_one())


# -- layer summaries (the inventory's cache: each layer is read once across images) ----------------


def layer_summary(connection: sa.Connection, digest: str, schema_version: int) -> str | None:
    query = sa.select(layer_summaries.c.summary).where(
        layer_summaries.c.digest == digest, layer_summaries.c.schema_version == schema_version
    )
    return connection.execute(query).scalar()


def save_layer_summary(connection: sa.Connection, digest: str, schema_version: int, summary: str) -> None:
    row: dict[str, object] = {
        "digest": digest,
        "schema_version": schema_version,
        "summary": summary,
        "created_at": now(),
    }
    upsert(connection, layer_summaries, row, keys=["digest"], update=["schema_version", "summary", "created_at"])


# -- what the scan hook and job read about manifests ---------------------------------------------


def scan_on_push(connection: sa.Connection, repository_id: int) -> bool:
    """The repository's own `scan_on_push` setting (set from its creation template, or by its admins)."""
    query = sa.select(repository_settings.c.scan_on_push).where(repository_settings.c.repository_id == repository_id)
    return bool(connection.execute(query).scalar())


@dataclass(frozen=True)
class ManifestFacts:
    media_type: str
    artifact_type: str | None
    children: tuple[str, ...]


def manifest_facts(connection: sa.Connection, repository_id: int, digest: str) -> ManifestFacts | None:
    """A manifest's media type, artifact type (artifactType or config type) and listed manifests."""
    row = connection.execute(
        sa.select(manifests.c.id, manifests.c.media_type, manifests.c.artifact_type).where(
            manifests.c.repository_id == repository_id, manifests.c.digest == digest
        )
    ).first()
    if row is None:
        return None
    children = connection.execute(
        sa.select(manifest_references.c.digest)
        .where(manifest_references.c.manifest_id == row.id, manifest_references.c.kind == "manifest")
        .order_by(manifest_references.c.digest)
    ).scalars()
    return ManifestFacts(row.media_type, row.artifact_type, tuple(children))


def holders_of(connection: sa.Connection, digest: str) -> list[str]:
    """Names of the repositories holding the manifest `digest`, oldest repository first."""
    query = (
        sa.select(repositories.c.name)
        .join(manifests, manifests.c.repository_id == repositories.c.id)
        .where(manifests.c.digest == digest)
        .order_by(repositories.c.id)
    )
    return list(connection.execute(query).scalars())


def image_manifests(
    connection: sa.Connection, media_types: Sequence[str], config_types: Sequence[str], after: str | None, limit: int
) -> list[tuple[str, str]]:
    """(digest, a repository holding it) of distinct manifests of `media_types` whose artifact type is one
    of `config_types` (images, not artifacts), in digest order after `after`."""
    query = (
        sa.select(manifests.c.digest, sa.func.min(repositories.c.name))
        .join(repositories, repositories.c.id == manifests.c.repository_id)
        .where(manifests.c.media_type.in_(list(media_types)), manifests.c.artifact_type.in_(list(config_types)))
        .group_by(manifests.c.digest)
        .order_by(manifests.c.digest)
        .limit(limit)
    )
    if after is not None:
        query = query.where(manifests.c.digest > after)
    return [(digest, repository) for digest, repository in connection.execute(query)]


def has_referrer(connection: sa.Connection, repository_id: int, subject: str, artifact_type: str) -> bool:
    """Whether the repository holds a referrer of `subject` of that artifact type (an SBOM already pushed)."""
    query = (
        sa.select(manifests.c.id)
        .where(
            manifests.c.repository_id == repository_id,
            manifests.c.subject_digest == subject,
            manifests.c.artifact_type == artifact_type,
        )
        .limit(1)
    )
    return connection.execute(query).first() is not None


def statuses(connection: sa.Connection, digests: Sequence[str]) -> dict[str, str]:
    if not digests:
        return {}
    query = sa.select(scans.c.digest, scans.c.status).where(scans.c.digest.in_(list(digests)))
    return {digest: status for digest, status in connection.execute(query)}
