"""Queries of the pull-through cache: its rules, the repositories it created, its tag checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from moorage.metadata.cache_rules_schema import cache_rules, cached_repositories, cached_tags
from moorage.metadata.common import insert_ignoring_duplicates, now, upsert


@dataclass(frozen=True)
class CacheRuleRow:
    prefix: str
    upstream_url: str
    upstream_prefix: str | None
    username: str | None
    password_encrypted: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class TagCheck:
    upstream_digest: str
    checked_at: datetime


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _row(row: sa.Row[tuple[object, ...]]) -> CacheRuleRow:
    values = row._mapping
    return CacheRuleRow(
        prefix=str(values["prefix"]),
        upstream_url=str(values["upstream_url"]),
        upstream_prefix=values["upstream_prefix"],
        username=values["username"],
        password_encrypted=values["password_encrypted"],
        created_by=str(values["created_by"]),
        created_at=_utc(values["created_at"]),
        updated_at=_utc(values["updated_at"]),
    )


def all_rules(connection: sa.Connection) -> list[CacheRuleRow]:
    return [_row(row) for row in connection.execute(sa.select(cache_rules).order_by(cache_rules.c.prefix))]


def find(connection: sa.Connection, prefix: str) -> CacheRuleRow | None:
    row = connection.execute(sa.select(cache_rules).where(cache_rules.c.prefix == prefix)).first()
    return _row(row) if row is not None else None


def create(connection: sa.Connection, rule: CacheRuleRow) -> bool:
    """Insert a rule; False when one with the prefix exists (nothing is written then)."""
    if find(connection, rule.prefix) is not None:
        return False
    connection.execute(cache_rules.insert().values(**rule.__dict__))
    return True


def update(connection: sa.Connection, rule: CacheRuleRow) -> None:
    values = {key: value for key, value in rule.__dict__.items() if key not in ("prefix", "created_by", "created_at")}
    connection.execute(cache_rules.update().where(cache_rules.c.prefix == rule.prefix).values(**values))


def delete(connection: sa.Connection, prefix: str) -> bool:
    return connection.execute(cache_rules.delete().where(cache_rules.c.prefix == prefix)).rowcount > 0


def mark_cached(connection: sa.Connection, repository_id: int, rule_prefix: str, upstream_name: str) -> None:
    row: dict[str, object] = {
        "repository_id": repository_id,
        "rule_prefix": rule_prefix,
        "upstream_name": upstream_name,
    }
    insert_ignoring_duplicates(connection, cached_repositories, [row])


def is_cached_repository(connection: sa.Connection, repository_id: int) -> bool:
    query = sa.select(cached_repositories.c.repository_id).where(cached_repositories.c.repository_id == repository_id)
    return connection.execute(query).first() is not None


def tag_check(connection: sa.Connection, repository_id: int, tag: str) -> TagCheck | None:
    query = sa.select(cached_tags.c.upstream_digest, cached_tags.c.checked_at).where(
        cached_tags.c.repository_id == repository_id, cached_tags.c.tag == tag
    )
    row = connection.execute(query).first()
    return TagCheck(row.upstream_digest, _utc(row.checked_at)) if row is not None else None


def record_tag_check(connection: sa.Connection, repository_id: int, tag: str, digest: str) -> None:
    row: dict[str, object] = {
        "repository_id": repository_id,
        "tag": tag,
        "upstream_digest": digest,
        "checked_at": now(),
    }
    upsert(connection, cached_tags, row, ["repository_id", "tag"], ["upstream_digest", "checked_at"])
