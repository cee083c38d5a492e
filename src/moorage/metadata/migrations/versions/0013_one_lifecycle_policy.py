"""One place for a repository's lifecycle policy (issue 12).

Policies set through the repository settings lived in `repository_settings.lifecycle_policy`,
invisible to `GET …/lifecycle-policy` yet used by runs. They move to `lifecycle_policies`, the one
place every API now reads and writes; a policy already there (set through the lifecycle API) wins,
as it did in runs. The old column stays, always NULL, for downgrades.

Revision ID: 0013
Revises: 0012
"""

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _document(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str | bytes) else value


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT r.name, s.lifecycle_policy FROM repository_settings s"
            " JOIN repositories r ON r.id = s.repository_id WHERE s.lifecycle_policy IS NOT NULL"
        )
    ).all()
    existing = {
        name
        for (name,) in connection.execute(sa.text("SELECT name FROM lifecycle_policies WHERE scope = 'repository'"))
    }
    for name, value in rows:
        document = _document(value)
        if document is None or name in existing:
            continue
        connection.execute(
            sa.text(
                "INSERT INTO lifecycle_policies (scope, name, document, updated_at)"
                " VALUES ('repository', :name, :document, CURRENT_TIMESTAMP)"
            ),
            {"name": name, "document": json.dumps(document, sort_keys=True)},
        )
    connection.execute(sa.text("UPDATE repository_settings SET lifecycle_policy = NULL"))


def downgrade() -> None:
    """Policies stay in `lifecycle_policies`, which older versions read too."""
