"""Storage usage of a repository or a namespace, computed from the blob links themselves.

Nothing is counted incrementally: every figure is one query over the rows that decide what the
blob store keeps, so it cannot drift from them after pushes, mounts, deletes or crashes.
"""

from __future__ import annotations

from moorage.governance.errors import RepositoryNotFound
from moorage.governance.repositories import checked_name
from moorage.metadata import images, repositories
from moorage.metadata.database import Database
from moorage.metadata.images import Usage as Usage


class UsageService:
    def __init__(self, database: Database) -> None:
        self.database = database

    def repository(self, name: str) -> Usage:
        checked_name(name)
        with self.database.read() as connection:
            if repositories.find_id(connection, name) is None:
                raise RepositoryNotFound(f"repository {name} does not exist")
            return images.usage(connection, name, is_namespace=False)

    def namespace(self, prefix: str) -> Usage:
        """Every repository named `prefix` or under `prefix/` (blobs shared between them counted once)."""
        checked_name(prefix)
        with self.database.read() as connection:
            return images.usage(connection, prefix, is_namespace=True)
