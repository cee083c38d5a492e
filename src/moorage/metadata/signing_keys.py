"""Queries about token signing keys and rate-limit counters (shared by every node)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from moorage.metadata.accounts import aware
from moorage.metadata.accounts_schema import rate_limit_counters, signing_keys
from moorage.metadata.common import now, upsert


@dataclass(frozen=True)
class SigningKeyRow:
    kid: str
    algorithm: str
    private_pem: str
    public_pem: str
    created_at: datetime
    signs_until: datetime
    verifies_until: datetime


def usable_keys(connection: sa.Connection, at: datetime) -> list[SigningKeyRow]:
    """Keys that still verify at `at`, newest first."""
    query = sa.select(signing_keys).where(signing_keys.c.verifies_until > at).order_by(signing_keys.c.created_at.desc())
    return [
        SigningKeyRow(
            row.kid,
            row.algorithm,
            row.private_pem,
            row.public_pem,
            aware(row.created_at),  # type: ignore[arg-type]
            aware(row.signs_until),  # type: ignore[arg-type]
            aware(row.verifies_until),  # type: ignore[arg-type]
        )
        for row in connection.execute(query)
    ]


def insert_key(connection: sa.Connection, row: SigningKeyRow) -> None:
    connection.execute(
        signing_keys.insert().values(
            kid=row.kid,
            algorithm=row.algorithm,
            private_pem=row.private_pem,
            public_pem=row.public_pem,
            created_at=row.created_at,
            signs_until=row.signs_until,
            verifies_until=row.verifies_until,
        )
    )


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
