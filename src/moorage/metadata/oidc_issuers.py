"""Queries about trusted OIDC issuers, their claim rules, and credentials exchanged for ID tokens.

Rows come back as plain mappings; the OIDC federation service turns them into its value types.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from moorage.metadata.common import now
from moorage.metadata.oidc_schema import oidc_credentials, oidc_issuers, oidc_rules

Row = Mapping[str, Any]


class DuplicateName(Exception):
    """An issuer (by name or URL) or a rule (by name within its issuer) already exists."""


def list_issuers(connection: sa.Connection) -> list[Row]:
    return [dict(r) for r in connection.execute(sa.select(oidc_issuers).order_by(oidc_issuers.c.name)).mappings()]


def find_issuer(connection: sa.Connection, *, name: str | None = None, issuer: str | None = None) -> Row | None:
    column, value = (oidc_issuers.c.name, name) if name is not None else (oidc_issuers.c.issuer, issuer)
    row = connection.execute(sa.select(oidc_issuers).where(column == value)).mappings().first()
    return dict(row) if row else None


def create_issuer(connection: sa.Connection, values: Mapping[str, Any]) -> int:
    existing = connection.execute(
        sa.select(oidc_issuers.c.id).where(
            (oidc_issuers.c.name == values["name"]) | (oidc_issuers.c.issuer == values["issuer"])
        )
    ).first()
    if existing:
        raise DuplicateName("an issuer with this name or URL is already trusted")
    timestamp = now()
    try:
        result = connection.execute(
            sa.insert(oidc_issuers).values(**values, created_at=timestamp, updated_at=timestamp)
        )
    except sa.exc.IntegrityError:
        raise DuplicateName("an issuer with this name or URL is already trusted") from None
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def update_issuer(connection: sa.Connection, issuer_id: int, values: Mapping[str, Any]) -> None:
    connection.execute(sa.update(oidc_issuers).where(oidc_issuers.c.id == issuer_id).values(**values, updated_at=now()))


def delete_issuer(connection: sa.Connection, issuer_id: int) -> None:
    # Explicit deletes: SQLite enforces ON DELETE CASCADE, but not every store is configured to.
    connection.execute(sa.delete(oidc_credentials).where(oidc_credentials.c.issuer_id == issuer_id))
    connection.execute(sa.delete(oidc_rules).where(oidc_rules.c.issuer_id == issuer_id))
    connection.execute(sa.delete(oidc_issuers).where(oidc_issuers.c.id == issuer_id))


def list_rules(connection: sa.Connection, issuer_id: int) -> list[Row]:
    query = sa.select(oidc_rules).where(oidc_rules.c.issuer_id == issuer_id).order_by(oidc_rules.c.name)
    return [dict(r) for r in connection.execute(query).mappings()]


def create_rule(connection: sa.Connection, issuer_id: int, values: Mapping[str, Any]) -> int:
    existing = connection.execute(
        sa.select(oidc_rules.c.id).where((oidc_rules.c.issuer_id == issuer_id) & (oidc_rules.c.name == values["name"]))
    ).first()
    if existing:
        raise DuplicateName(f"the issuer already has a rule named {values['name']!r}")
    try:
        result = connection.execute(sa.insert(oidc_rules).values(**values, issuer_id=issuer_id, created_at=now()))
    except sa.exc.IntegrityError:
        raise DuplicateName(f"the issuer already has a rule named {values['name']!r}") from None
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def delete_rule(connection: sa.Connection, issuer_id: int, name: str) -> bool:
    result = connection.execute(
        sa.delete(oidc_rules).where((oidc_rules.c.issuer_id == issuer_id) & (oidc_rules.c.name == name))
    )
    return bool(result.rowcount)


def record_credential(connection: sa.Connection, values: Mapping[str, Any]) -> None:
    connection.execute(sa.insert(oidc_credentials).values(**values, created_at=now()))


def find_credential(connection: sa.Connection, secret_hash: str) -> Row | None:
    query = (
        sa.select(oidc_credentials, oidc_issuers.c.name.label("issuer_name"))
        .join(oidc_issuers, oidc_issuers.c.id == oidc_credentials.c.issuer_id)
        .where(oidc_credentials.c.secret_hash == secret_hash)
    )
    row = connection.execute(query).mappings().first()
    return dict(row) if row else None


def credential_expiry(connection: sa.Connection, credential_id: str) -> datetime | None:
    """When an exchanged credential expires; None if it does not exist (or was revoked)."""
    query = sa.select(oidc_credentials.c.expires_at).where(oidc_credentials.c.id == credential_id)
    value: datetime | None = connection.execute(query).scalar()
    return value


def purge_credentials(connection: sa.Connection, expired_before: datetime) -> int:
    """Forget credentials that expired before the given time (kept a while to say "expired", not "invalid")."""
    result = connection.execute(sa.delete(oidc_credentials).where(oidc_credentials.c.expires_at < expired_before))
    return int(result.rowcount)
