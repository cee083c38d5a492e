"""What already lives under a namespace (the first path component), whoever owns it.

An organisation's creator becomes admin of everything under its name, so a name that already
holds repositories, grants, robots, templates, lifecycle policies or audit entries must not be
handed to whoever asks for it first.
"""

from __future__ import annotations

import sqlalchemy as sa

from moorage.metadata.accounts_schema import robots, role_bindings
from moorage.metadata.governance_schema import audit_log, creation_templates, namespace_tag_rules
from moorage.metadata.lifecycle_schema import lifecycle_policies
from moorage.metadata.tables import repositories


def _under(column: sa.ColumnElement[str], namespace: str) -> sa.ColumnElement[bool]:
    return sa.or_(column == namespace, column.startswith(namespace + "/", autoescape=True))


def namespace_uses(connection: sa.Connection, namespace: str) -> list[str]:
    """The kinds of things found under the namespace (empty when it is unused)."""
    checks = [
        ("repositories", sa.select(repositories.c.id).where(_under(repositories.c.name, namespace))),
        ("grants", sa.select(role_bindings.c.id).where(_under(role_bindings.c.pattern, namespace))),
        ("robots", sa.select(robots.c.name).where(robots.c.namespace == namespace)),
        (
            "creation templates",
            sa.select(creation_templates.c.prefix).where(_under(creation_templates.c.prefix, namespace)),
        ),
        (
            "lifecycle policies",
            sa.select(lifecycle_policies.c.name).where(_under(lifecycle_policies.c.name, namespace)),
        ),
        (
            "tag naming rules",
            sa.select(namespace_tag_rules.c.namespace).where(_under(namespace_tag_rules.c.namespace, namespace)),
        ),
        (
            "audit entries",
            sa.select(audit_log.c.id).where(
                sa.or_(_under(audit_log.c.repository, namespace), _under(audit_log.c.target, namespace))
            ),
        ),
    ]
    return [what for what, query in checks if connection.execute(query.limit(1)).first() is not None]


def release_namespace(connection: sa.Connection, namespace: str) -> None:
    """Remove the grants and robots an owner left under a namespace (its organisation is deleted)."""
    connection.execute(role_bindings.delete().where(_under(role_bindings.c.pattern, namespace)))
    connection.execute(robots.delete().where(robots.c.namespace == namespace))
