"""GC queries on a real (SQLite) metadata store: releasing a repository restarts its blobs' grace clock."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from moorage.metadata import blobs, collection, manifests, repositories
from moorage.metadata.common import now
from moorage.metadata.database import Database
from moorage.metadata.manifests import NewManifest
from moorage.metadata.tables import blobs as blobs_table
from moorage.metadata.tables import repositories as repositories_table
from moorage.metadata.tables import repository_blobs


def test_releasing_a_repository_keeps_its_blobs_for_a_grace_period_after_its_deletion(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'metadata.db'}")
    database.migrate()
    layer, stray = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    with database.write() as connection:
        repository_id = repositories.ensure(connection, "team/app")
        for digest in (layer, stray):
            blobs.record(connection, digest, 10)
            blobs.link(connection, repository_id, digest)
        manifest = NewManifest(
            "sha256:" + "c" * 64,
            "application/vnd.oci.image.manifest.v1+json",
            None,
            None,
            None,
            b"{}",
            frozenset({layer}),
            frozenset(),
        )
        manifests.record(connection, repository_id, manifest)
    with database.write() as connection:  # pushed two days ago
        past = now() - timedelta(days=2)
        connection.execute(sa.update(blobs_table).values(created_at=past))
        connection.execute(sa.update(repository_blobs).values(created_at=past))
    grace_ago = now() - timedelta(days=1)
    with database.read() as connection:
        assert collection.scan(connection, grace_ago, "", 100)[0] == [(stray, 10)]  # the layer is referenced

    with database.write() as connection:
        collection.release_repository(connection, repository_id)
        connection.execute(sa.delete(repositories_table).where(repositories_table.c.id == repository_id))
    with database.read() as connection:
        # Unreferenced now, but released just now: kept for the grace period...
        assert collection.scan(connection, grace_ago, "", 100)[0] == [(stray, 10)]
        # ...and collectable once it has passed.
        a_grace_period_later = now() + timedelta(seconds=1)
        assert collection.scan(connection, a_grace_period_later, "", 100)[0] == [(layer, 10), (stray, 10)]
    database.dispose()
