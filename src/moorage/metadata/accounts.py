"""Queries about users, organisations, teams and role bindings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from moorage.metadata.accounts_schema import organizations, role_bindings, team_members, teams, users
from moorage.metadata.common import now


def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class UserRow:
    id: int
    name: str
    password_hash: str | None
    is_admin: bool
    disabled: bool
    created_at: datetime
    credential_generation: int = 0


@dataclass(frozen=True)
class BindingRow:
    id: int
    subject_kind: str
    subject: str
    pattern: str
    role: str
    created_at: datetime


def _user(row: Any) -> UserRow:
    return UserRow(
        row.id,
        row.name,
        row.password_hash,
        bool(row.is_admin),
        bool(row.disabled),
        aware(row.created_at),  # type: ignore[arg-type]
        int(row.credential_generation or 0),
    )


def _binding(row: Any) -> BindingRow:
    return BindingRow(row.id, row.subject_kind, row.subject, row.pattern, row.role, aware(row.created_at))  # type: ignore[arg-type]


# --- users -----------------------------------------------------------------------------------


def find_user(connection: sa.Connection, name: str) -> UserRow | None:
    row = connection.execute(sa.select(users).where(users.c.name == name)).first()
    return _user(row) if row else None


def list_users(connection: sa.Connection) -> list[UserRow]:
    return [_user(row) for row in connection.execute(sa.select(users).order_by(users.c.name))]


def count_users(connection: sa.Connection) -> int:
    return int(connection.execute(sa.select(sa.func.count()).select_from(users)).scalar_one())


def insert_user(connection: sa.Connection, name: str, password_hash: str | None, is_admin: bool) -> int:
    result = connection.execute(
        users.insert().values(
            name=name, password_hash=password_hash, is_admin=is_admin, disabled=False, created_at=now()
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def update_user(connection: sa.Connection, name: str, **values: Any) -> bool:
    return connection.execute(users.update().where(users.c.name == name).values(**values)).rowcount > 0


def bump_credential_generation(connection: sa.Connection, name: str) -> bool:
    """Revoke every login password and refresh token of the user (they carry the old generation)."""
    query = users.update().where(users.c.name == name)
    return connection.execute(query.values(credential_generation=users.c.credential_generation + 1)).rowcount > 0


def delete_user(connection: sa.Connection, name: str) -> bool:
    connection.execute(
        role_bindings.delete().where(role_bindings.c.subject_kind == "user", role_bindings.c.subject == name)
    )
    return connection.execute(users.delete().where(users.c.name == name)).rowcount > 0


# --- organisations and teams -------------------------------------------------------------------


def organization_exists(connection: sa.Connection, name: str) -> bool:
    return connection.execute(sa.select(organizations.c.name).where(organizations.c.name == name)).first() is not None


def list_organizations(connection: sa.Connection) -> list[tuple[str, datetime]]:
    rows = connection.execute(sa.select(organizations).order_by(organizations.c.name))
    return [(row.name, aware(row.created_at)) for row in rows]  # type: ignore[misc]


def insert_organization(connection: sa.Connection, name: str) -> None:
    connection.execute(organizations.insert().values(name=name, created_at=now()))


def delete_organization(connection: sa.Connection, name: str) -> bool:
    team_subjects = sa.select(teams.c.name).where(teams.c.organization == name)
    for team in list(connection.execute(team_subjects).scalars()):
        delete_bindings_of(connection, "team", f"{name}/{team}")
    return connection.execute(organizations.delete().where(organizations.c.name == name)).rowcount > 0


def find_team_id(connection: sa.Connection, organization: str, name: str) -> int | None:
    query = sa.select(teams.c.id).where(teams.c.organization == organization, teams.c.name == name)
    return connection.execute(query).scalar()


def list_teams(connection: sa.Connection, organization: str) -> list[tuple[str, list[str]]]:
    """Teams of an organisation with their members' names."""
    result = []
    for team_id, name in connection.execute(
        sa.select(teams.c.id, teams.c.name).where(teams.c.organization == organization).order_by(teams.c.name)
    ):
        members = sa.select(users.c.name).join(team_members, team_members.c.user_id == users.c.id)
        names = list(
            connection.execute(members.where(team_members.c.team_id == team_id).order_by(users.c.name)).scalars()
        )
        result.append((name, names))
    return result


def insert_team(connection: sa.Connection, organization: str, name: str) -> None:
    connection.execute(teams.insert().values(organization=organization, name=name, created_at=now()))


def delete_team(connection: sa.Connection, organization: str, name: str) -> bool:
    delete_bindings_of(connection, "team", f"{organization}/{name}")
    query = teams.delete().where(teams.c.organization == organization, teams.c.name == name)
    return connection.execute(query).rowcount > 0


def add_member(connection: sa.Connection, team_id: int, user_id: int) -> None:
    exists = sa.select(team_members).where(team_members.c.team_id == team_id, team_members.c.user_id == user_id)
    if connection.execute(exists).first() is None:
        connection.execute(team_members.insert().values(team_id=team_id, user_id=user_id))


def remove_member(connection: sa.Connection, team_id: int, user_id: int) -> bool:
    query = team_members.delete().where(team_members.c.team_id == team_id, team_members.c.user_id == user_id)
    return connection.execute(query).rowcount > 0


def teams_of(connection: sa.Connection, user_id: int) -> list[str]:
    """The teams a user belongs to, as `org/team`."""
    query = (
        sa.select(teams.c.organization, teams.c.name)
        .join(team_members, team_members.c.team_id == teams.c.id)
        .where(team_members.c.user_id == user_id)
    )
    return [f"{org}/{name}" for org, name in connection.execute(query)]


# --- role bindings -----------------------------------------------------------------------------


def bindings_for(connection: sa.Connection, subjects: list[tuple[str, str]]) -> list[BindingRow]:
    """Every binding held by any of the (kind, subject) pairs."""
    if not subjects:
        return []
    condition = sa.or_(
        *[
            sa.and_(role_bindings.c.subject_kind == kind, role_bindings.c.subject == subject)
            for kind, subject in subjects
        ]
    )
    return [_binding(row) for row in connection.execute(sa.select(role_bindings).where(condition))]


def list_bindings(connection: sa.Connection, pattern_prefix: str | None = None) -> list[BindingRow]:
    query = sa.select(role_bindings).order_by(role_bindings.c.pattern, role_bindings.c.subject)
    if pattern_prefix is not None:
        query = query.where(
            sa.or_(role_bindings.c.pattern == pattern_prefix, role_bindings.c.pattern.startswith(pattern_prefix + "/"))
        )
    return [_binding(row) for row in connection.execute(query)]


def put_binding(connection: sa.Connection, subject_kind: str, subject: str, pattern: str, role: str) -> None:
    """Set the role of a subject on a pattern (replacing an earlier role on the same pattern)."""
    key = sa.and_(
        role_bindings.c.subject_kind == subject_kind,
        role_bindings.c.subject == subject,
        role_bindings.c.pattern == pattern,
    )
    if connection.execute(role_bindings.update().where(key).values(role=role)).rowcount == 0:
        connection.execute(
            role_bindings.insert().values(
                subject_kind=subject_kind, subject=subject, pattern=pattern, role=role, created_at=now()
            )
        )


def delete_binding(connection: sa.Connection, subject_kind: str, subject: str, pattern: str) -> bool:
    query = role_bindings.delete().where(
        role_bindings.c.subject_kind == subject_kind,
        role_bindings.c.subject == subject,
        role_bindings.c.pattern == pattern,
    )
    return connection.execute(query).rowcount > 0


def delete_bindings_of(connection: sa.Connection, subject_kind: str, subject: str) -> None:
    connection.execute(
        role_bindings.delete().where(role_bindings.c.subject_kind == subject_kind, role_bindings.c.subject == subject)
    )


def delete_bindings_on(connection: sa.Connection, pattern: str) -> None:
    connection.execute(role_bindings.delete().where(role_bindings.c.pattern == pattern))
