"""Queries about repository settings and creation templates (documents are plain JSON-able dicts)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from moorage.metadata.common import lexical, now, upsert
from moorage.metadata.governance_schema import creation_templates, repository_settings
from moorage.metadata.tables import manifests, repositories, tags

_SETTING_COLUMNS = (
    "description",
    "labels",
    "visibility",
    "tag_mutability",
    "scan_on_push",
    "lifecycle_policy",
    "tag_rules",  # tag naming rules (migration 0014)
)


@dataclass(frozen=True)
class RepositoryRow:
    id: int
    name: str
    created_at: datetime
    created_by: str | None
    settings: dict[str, Any] | None
    """None for a repository created before governance recorded settings (defaults apply)."""
    image_count: int
    tag_count: int


def settings_of(connection: sa.Connection, repository_id: int) -> dict[str, Any] | None:
    row = connection.execute(
        sa.select(repository_settings).where(repository_settings.c.repository_id == repository_id)
    ).first()
    return _document(row) if row is not None else None


def _document(row: Any) -> dict[str, Any]:
    document = {column: getattr(row, column) for column in _SETTING_COLUMNS}
    document["tag_mutability_exclusion_filters"] = list(row.mutability_filters or [])
    return document


def save(connection: sa.Connection, repository_id: int, document: dict[str, Any], created_by: str) -> None:
    """Create or replace the repository's settings (`created_by` is kept from the first save)."""
    row = {column: document[column] for column in _SETTING_COLUMNS}
    row.update(
        repository_id=repository_id,
        mutability_filters=list(document["tag_mutability_exclusion_filters"]),
        created_by=created_by,
        updated_at=now(),
    )
    upsert(
        connection,
        repository_settings,
        row,
        keys=["repository_id"],
        update=[*_SETTING_COLUMNS, "mutability_filters", "updated_at"],
    )


def _counts() -> tuple[Any, Any]:
    images = (
        sa.select(sa.func.count())
        .where(manifests.c.repository_id == repositories.c.id)
        .scalar_subquery()
        .label("image_count")
    )
    tag_count = (
        sa.select(sa.func.count()).where(tags.c.repository_id == repositories.c.id).scalar_subquery().label("tag_count")
    )
    return images, tag_count


def _select() -> sa.Select[Any]:
    images, tag_count = _counts()
    return sa.select(
        repositories.c.id, repositories.c.name, repositories.c.created_at, repository_settings, images, tag_count
    ).select_from(repositories.outerjoin(repository_settings, repository_settings.c.repository_id == repositories.c.id))


def _row(row: Any) -> RepositoryRow:
    settings = _document(row) if row.repository_id is not None else None
    return RepositoryRow(
        row.id, row.name, row.created_at, row.created_by, settings, int(row.image_count), int(row.tag_count)
    )


def describe(connection: sa.Connection, name: str) -> RepositoryRow | None:
    row = connection.execute(_select().where(repositories.c.name == name)).first()
    return _row(row) if row is not None else None


def search(
    connection: sa.Connection,
    prefix: str | None,
    visibility: str | None,
    after: str | None,
    limit: int,
) -> list[RepositoryRow]:
    """Repositories in lexical order after `after`, under `prefix` (a namespace), of one visibility."""
    name = lexical(connection, repositories.c.name)
    query = _select().order_by(name).limit(limit)
    if prefix:
        query = query.where(
            sa.or_(repositories.c.name == prefix, repositories.c.name.startswith(prefix + "/", autoescape=True))
        )
    if visibility == "private":
        query = query.where(
            sa.or_(repository_settings.c.visibility.is_(None), repository_settings.c.visibility == "private")
        )
    elif visibility is not None:
        query = query.where(repository_settings.c.visibility == visibility)
    if after is not None:
        query = query.where(name > after)
    return [_row(row) for row in connection.execute(query)]


# -- creation templates --------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateRow:
    prefix: str
    create_on_push: bool
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime


def templates(connection: sa.Connection) -> list[TemplateRow]:
    query = sa.select(creation_templates).order_by(creation_templates.c.prefix)
    return [
        TemplateRow(r.prefix, r.create_on_push, r.settings, r.created_at, r.updated_at)
        for r in connection.execute(query)
    ]


def save_template(connection: sa.Connection, prefix: str, create_on_push: bool, settings: dict[str, Any]) -> None:
    moment = now()
    row = {
        "prefix": prefix,
        "create_on_push": create_on_push,
        "settings": settings,
        "created_at": moment,
        "updated_at": moment,
    }
    upsert(connection, creation_templates, row, keys=["prefix"], update=["create_on_push", "settings", "updated_at"])


def delete_template(connection: sa.Connection, prefix: str) -> bool:
    result = connection.execute(sa.delete(creation_templates).where(creation_templates.c.prefix == prefix))
    return result.rowcount > 0
