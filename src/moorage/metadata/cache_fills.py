"""Queries of the cache's fill leases: take, renew and give back the right to copy one blob.

Taking is one statement that cannot race: an insert that does nothing on a conflict, or else an
update that only matches a lease that has run out. Both databases lock the row for the statement,
so of two processes taking the same lease at once exactly one succeeds.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from moorage.metadata.cache_rules_schema import cache_fill_leases as leases
from moorage.metadata.common import insert_ignoring_duplicates


def _key(repository: str, digest: str) -> sa.ColumnElement[bool]:
    return sa.and_(leases.c.repository == repository, leases.c.digest == digest)


def take(connection: sa.Connection, repository: str, digest: str, owner: str, at: datetime, until: datetime) -> bool:
    """Whether `owner` holds the lease now: it was free, had run out (before `at`), or was its own."""
    row: dict[str, object] = {"repository": repository, "digest": digest, "owner": owner, "lease_until": until}
    insert_ignoring_duplicates(connection, leases, [row])
    taken = connection.execute(
        leases.update()
        .where(_key(repository, digest), sa.or_(leases.c.owner == owner, leases.c.lease_until < at))
        .values(owner=owner, lease_until=until)
    )
    return taken.rowcount == 1


def held(connection: sa.Connection, repository: str, digest: str, at: datetime) -> bool:
    """Whether a lease that has not run out is held on the blob (by anyone)."""
    query = sa.select(leases.c.owner).where(_key(repository, digest), leases.c.lease_until >= at)
    return connection.execute(query).first() is not None


def renew(connection: sa.Connection, repository: str, digest: str, owner: str, until: datetime) -> bool:
    """Extend `owner`'s lease; False when it no longer holds it (it ran out and was taken over)."""
    renewed = connection.execute(
        leases.update().where(_key(repository, digest), leases.c.owner == owner).values(lease_until=until)
    )
    return renewed.rowcount == 1


def give_back(connection: sa.Connection, repository: str, digest: str, owner: str) -> None:
    connection.execute(leases.delete().where(_key(repository, digest), leases.c.owner == owner))
