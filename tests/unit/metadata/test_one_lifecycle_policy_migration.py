"""Migration 0013: a policy stored in the repository settings moves to the one place policies live."""

from __future__ import annotations

import json

import sqlalchemy as sa

from moorage.metadata.database import Database
from tests.support.migrations import migrate

POLICY = {"rules": [{"rulePriority": 1, "selection": {"tagStatus": "any"}, "action": {"type": "expire"}}]}
KEPT = {"rules": []}


def test_settings_policies_move_to_the_lifecycle_table_and_a_policy_already_there_wins(empty_database_url: str) -> None:
    database = Database(empty_database_url)
    migrate(database, "0010")
    with database.engine.begin() as connection:
        for repository_id, name in ((1, "team/moved"), (2, "team/kept")):
            connection.execute(
                sa.text("INSERT INTO repositories (id, name, created_at) VALUES (:id, :name, CURRENT_TIMESTAMP)"),
                {"id": repository_id, "name": name},
            )
            connection.execute(
                sa.text(
                    "INSERT INTO repository_settings (repository_id, description, labels, visibility, tag_mutability,"
                    " mutability_filters, scan_on_push, lifecycle_policy, created_by, updated_at) VALUES (:id, '',"
                    " '{}', 'private', 'MUTABLE', '[]', false, :policy, 'test', CURRENT_TIMESTAMP)"
                ),
                {"id": repository_id, "policy": json.dumps(POLICY)},
            )
        connection.execute(
            sa.text(
                "INSERT INTO lifecycle_policies (scope, name, document, updated_at)"
                " VALUES ('repository', 'team/kept', :document, CURRENT_TIMESTAMP)"
            ),
            {"document": json.dumps(KEPT)},
        )
    database.migrate()
    with database.read() as connection:
        stored = dict(connection.execute(sa.text("SELECT name, document FROM lifecycle_policies")).all())
        left = connection.execute(
            sa.text("SELECT count(*) FROM repository_settings WHERE lifecycle_policy IS NOT NULL")
        ).scalar()
    assert {name: json.loads(text) for name, text in stored.items()} == {"team/moved": POLICY, "team/kept": KEPT}
    assert left == 0
    database.dispose()
