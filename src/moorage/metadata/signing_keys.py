"""Queries about token signing keys and rate-limit counters (shared by every node)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from moorage.metadata.accounts import aware
from moorage.metadata.accounts_schema import rate_limit_counters, signing_keys
from moorage.metadata.common import now, upsert


@dataclass(frozen=True)
class SigningKeyRow:
    kid: str
    algorithm: str
    private_key_encrypted: str | None
    """The private key's PKCS#8 PEM, encrypted with the secret box (auth/secret_box.py)."""
    public_pem: str
    created_at: datetime
    signs_until: datetime
    verifies_until: datetime
    retired_at: datetime | None = None
    private_pem: str | None = None
    """Plaintext, only in rows written before revision 0005 and not yet sealed at start-up."""


def _row(row: sa.Row[Any]) -> SigningKeyRow:
    return SigningKeyRow(
        kid=row.kid,
        algorithm=row.algorithm,
        private_key_encrypted=row.private_key_encrypted,
        public_pem=row.public_pem,
        created_at=aware(row.created_at),  # type: ignore[arg-type]
        signs_until=aware(row.signs_until),  # type: ignore[arg-type]
        verifies_until=aware(row.verifies_until),  # type: ignore[arg-type]
        retired_at=aware(row.retired_at) if row.retired_at is not None else None,
        private_pem=row.private_pem,
    )


def usable_keys(connection: sa.Connection, at: datetime) -> list[SigningKeyRow]:
    """Keys that still verify at `at` (not retired), newest first."""
    query = (
        sa.select(signing_keys)
        .where(signing_keys.c.verifies_until > at, signing_keys.c.retired_at.is_(None))
        .order_by(signing_keys.c.created_at.desc())
    )
    return [_row(row) for row in connection.execute(query)]


def all_keys(connection: sa.Connection) -> list[SigningKeyRow]:
    """Every stored key, retired and expired ones included, newest first."""
    query = sa.select(signing_keys).order_by(signing_keys.c.created_at.desc())
    return [_row(row) for row in connection.execute(query)]


def insert_key(connection: sa.Connection, row: SigningKeyRow) -> None:
    connection.execute(
        signing_keys.insert().values(
            kid=row.kid,
            algorithm=row.algorithm,
            private_pem=None,
            private_key_encrypted=row.private_key_encrypted,
            public_pem=row.public_pem,
            created_at=row.created_at,
            signs_until=row.signs_until,
            verifies_until=row.verifies_until,
            retired_at=row.retired_at,
        )
    )


def store_encrypted_private_key(connection: sa.Connection, kid: str, encrypted: str) -> None:
    """Replace a key's stored private key with this ciphertext (and drop any plaintext)."""
    connection.execute(
        signing_keys.update().where(signing_keys.c.kid == kid).values(private_key_encrypted=encrypted, private_pem=None)
    )


def retire_key(connection: sa.Connection, kid: str, at: datetime) -> None:
    """The key neither signs nor verifies from `at` on; the row stays for listing until it is purged."""
    connection.execute(
        signing_keys.update()
        .where(signing_keys.c.kid == kid)
        .values(
            retired_at=at,
            signs_until=sa.case((signing_keys.c.signs_until > at, at), else_=signing_keys.c.signs_until),
            verifies_until=sa.case((signing_keys.c.verifies_until > at, at), else_=signing_keys.c.verifies_until),
        )
    )


def scrub_freed_space(connection: sa.Connection) -> None:
    """SQLite: rewrite the database file and empty the WAL, so that no freed page keeps old row contents.

    Run outside a transaction (VACUUM refuses one), when nothing else writes (start-up).
    """
    connection.exec_driver_sql("VACUUM")
    connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def delete_expired_keys(connection: sa.Connection, at: datetime) -> None:
    connection.execute(signing_keys.delete().where(signing_keys.c.verifies_until <= at))


def count_in_window(connection: sa.Connection, key: str, window: timedelta) -> tuple[int, datetime]:
    """The counter's value and window start (a fresh window when the old one has passed)."""
    row = connection.execute(sa.select(rate_limit_counters).where(rate_limit_counters.c.key == key)).first()
    current = now()
    if row is None or aware(row.window_start) + window <= current:  # type: ignore[operator]
        return 0, current
    return int(row._mapping["count"]), aware(row.window_start)  # type: ignore[return-value]


def increment(connection: sa.Connection, key: str, window: timedelta) -> None:
    """Add one to the counter, starting a new window when the old one has passed."""
    count, start = count_in_window(connection, key, window)
    row = {"key": key, "count": count + 1, "window_start": start}
    upsert(connection, rate_limit_counters, row, keys=["key"], update=["count", "window_start"])


def reset(connection: sa.Connection, key: str) -> None:
    connection.execute(rate_limit_counters.delete().where(rate_limit_counters.c.key == key))


def retire_signing(connection: sa.Connection, at: datetime, verify_margin: timedelta) -> None:
    """Stop every key signing at `at`; each keeps verifying for `verify_margin` after that."""
    connection.execute(
        signing_keys.update()
        .where(signing_keys.c.signs_until > at)
        .values(signs_until=at, verifies_until=at + verify_margin)
    )
