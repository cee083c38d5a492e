"""Queries of namespace tag naming rules (a repository's own live in its settings row)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from moorage.metadata.common import now, upsert
from moorage.metadata.governance_schema import namespace_tag_rules, repository_settings


def of_namespaces(connection: sa.Connection, namespaces: list[str]) -> dict[str, dict[str, Any]]:
    """The stored rules of each of these namespaces that has some."""
    if not namespaces:
        return {}
    query = sa.select(namespace_tag_rules.c.namespace, namespace_tag_rules.c.rules).where(
        namespace_tag_rules.c.namespace.in_(namespaces)
    )
    return {row.namespace: row.rules for row in connection.execute(query)}


def of_repository(connection: sa.Connection, repository_id: int) -> dict[str, Any] | None:
    """The repository's own rules (one column: a tagged push reads it inside its write transaction)."""
    query = sa.select(repository_settings.c.tag_rules).where(repository_settings.c.repository_id == repository_id)
    found: dict[str, Any] | None = connection.execute(query).scalar()
    return found


def all_namespaces(connection: sa.Connection) -> list[tuple[str, dict[str, Any], str, Any]]:
    """Every namespace's rules as (namespace, rules, updated_by, updated_at), by namespace."""
    query = sa.select(namespace_tag_rules).order_by(namespace_tag_rules.c.namespace)
    return [(row.namespace, row.rules, row.updated_by, row.updated_at) for row in connection.execute(query)]


def put_namespace(connection: sa.Connection, namespace: str, rules: dict[str, Any], updated_by: str) -> None:
    row = {"namespace": namespace, "rules": rules, "updated_by": updated_by, "updated_at": now()}
    upsert(connection, namespace_tag_rules, row, keys=["namespace"], update=["rules", "updated_by", "updated_at"])


def delete_namespace(connection: sa.Connection, namespace: str) -> bool:
    result = connection.execute(sa.delete(namespace_tag_rules).where(namespace_tag_rules.c.namespace == namespace))
    return result.rowcount > 0
