"""Queries about repository settings and creation templates (documents are plain JSON-able dicts).

A repository's own lifecycle policy lives in `lifecycle_policies` (one place, whichever API set it): the
settings document shows it, read from there; `save` leaves it alone (the service sets it through
lifecycle_store). The old `repository_settings.lifecycle_policy` column stays NULL (migration 0013).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from moorage.metadata.common import lexical, now, upsert
from moorage.metadata.governance_schema import creation_templates, repository_settings
from moorage.metadata.lifecycle_schema import lifecycle_policies
from moorage.metadata.tables import manifests, repositories, tags

_SETTING_COLUMNS = (
    "description",
    "labels",
    "visibility",
    "tag_mutability",
    "scan_on_push",
    "tag_rules",  # tag naming rules (migration 0014)
)
_own_policy = lifecycle_policies.alias("own_policy")


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


def _policy_join(table: Any) -> Any:
    """`table` (holding repositories' rows) with the repository's own lifecycle policy, if any."""
    return table.outerjoin(
        _own_policy, sa.and_(_own_policy.c.scope == "repository", _own_policy.c.name == repositories.c.name)
    )


def settings_of(connection: sa.Connection, repository_id: int) -> dict[str, Any] | None:
    query = (
        sa.select(repository_settings, _own_policy.c.document.label("own_policy"))
        .select_from(
            _policy_join(
                repository_settings.join(repositories, repositories.c.id == repository_settings.c.repository_id)
            )
        )
        .where(repository_settings.c.repository_id == repository_id)
    )
    row = connection.execute(query).first()
    return _document(row) if row is not None else None


def _document(row: Any) -> dict[str, Any]:
    document = {column: getattr(row, column) for column in _SETTING_COLUMNS}
    document["tag_mutability_exclusion_filters"] = list(row.mutability_filters or [])
    document["lifecycle_policy"] = json.loads(row.own_policy) if row.own_policy is not None else None
    return document


def save(connection: sa.Connection, repository_id: int, document: dict[str, Any], created_by: str) -> None:
    """Create or replace the repository's settings (`created_by` is kept from the first save)."""
    row = {column: document[column] for column in _SETTING_COLUMNS}
    row.update(
        lifecycle_policy=None,
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
        repositories.c.id,
        repositories.c.name,
        repositories.c.created_at,
        repository_settings,
        _own_policy.c.document.label("own_policy"),
        images,
        tag_count,
    ).select_from(
        _policy_join(
            repositories.outerjoin(repository_settings, repository_settings.c.repository_id == repositories.c.id)
        )
    )


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
