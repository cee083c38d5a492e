"""Users, organisations, teams and role bindings: the use cases behind the management API.

User, organisation and robot names share the namespace grammar (a repository path component),
and users and organisations share one namespace: `alice/app` belongs to user alice, `acme/app` to
organisation acme.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from moorage.auth.access_tokens import Conflict, NotFound
from moorage.auth.credentials import CredentialRevoked
from moorage.auth.grants import Role, validate_pattern
from moorage.auth.passwords import hash_password
from moorage.metadata import accounts, namespaces
from moorage.metadata.accounts import BindingRow
from moorage.metadata.database import Database

NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
SUBJECT_KINDS = ("user", "team", "anonymous")


class InvalidName(ValueError):
    pass


class NamespaceInUse(Exception):
    """An organisation's name already holds things its creator would become admin of."""


def check_name(name: str, what: str) -> str:
    if len(name) > 64 or not NAME.match(name):
        raise InvalidName(f"invalid {what} name {name!r}: lowercase letters, digits and . _ - between them")
    return name


@dataclass(frozen=True)
class User:
    name: str
    is_admin: bool
    disabled: bool
    created_at: datetime


@dataclass(frozen=True)
class Binding:
    subject_kind: str
    subject: str
    pattern: str
    role: Role
    created_at: datetime

    @classmethod
    def of(cls, row: BindingRow) -> Binding:
        return cls(row.subject_kind, row.subject, row.pattern, Role(row.role), row.created_at)


class Accounts:
    def __init__(self, database: Database) -> None:
        self.database = database

    # --- users ---------------------------------------------------------------------------------

    def create_user(self, name: str, password: str | None, is_admin: bool = False) -> User:
        check_name(name, "user")
        password_hash = hash_password(password) if password is not None else None
        with self.database.write() as connection:
            if accounts.find_user(connection, name) or accounts.organization_exists(connection, name):
                raise Conflict(f"the name {name!r} is taken")
            accounts.insert_user(connection, name, password_hash, is_admin)
            row = accounts.find_user(connection, name)
        assert row is not None
        return User(row.name, row.is_admin, row.disabled, row.created_at)

    def ensure_first_admin(self, name: str, password: str | None) -> str | None:
        """Create the admin when there are no users; returns the generated password if one was made."""
        with self.database.read() as connection:
            if accounts.count_users(connection) > 0:
                return None
        generated = None
        if not password:
            password = generated = secrets.token_urlsafe(18)
        try:
            self.create_user(name, password, is_admin=True)
        except (Conflict, sa.exc.IntegrityError):
            return None  # another node created it first
        return generated

    def get_user(self, name: str) -> User:
        with self.database.read() as connection:
            row = accounts.find_user(connection, name)
        if row is None:
            raise NotFound(f"no user {name!r}")
        return User(row.name, row.is_admin, row.disabled, row.created_at)

    def list_users(self) -> list[User]:
        with self.database.read() as connection:
            return [User(r.name, r.is_admin, r.disabled, r.created_at) for r in accounts.list_users(connection)]

    def update_user(
        self, name: str, password: str | None = None, is_admin: bool | None = None, disabled: bool | None = None
    ) -> User:
        """Change a user; a new password or disabling also ends their sessions (`revoke_sessions`)."""
        values: dict[str, object] = {}
        if password is not None:
            values["password_hash"] = hash_password(password)
        if is_admin is not None:
            values["is_admin"] = is_admin
        if disabled is not None:
            values["disabled"] = disabled
        with self.database.write() as connection:
            found = accounts.update_user(connection, name, **values) if values else accounts.find_user(connection, name)
            if not found:
                raise NotFound(f"no user {name!r}")
            if password is not None or disabled:
                accounts.bump_credential_generation(connection, name)
        return self.get_user(name)

    def revoke_sessions(self, name: str) -> None:
        """End every login password and refresh token issued to the user until now.

        They are signed, stateless JWTs: each carries the user's credential generation, and
        bumping it makes every earlier one fail at its next use (`check_session`). Access tokens
        are not touched (revoke those one by one); re-enabling a user does not revive anything.
        """
        with self.database.write() as connection:
            if not accounts.bump_credential_generation(connection, name):
                raise NotFound(f"no user {name!r}")

    def credential_generation(self, name: str) -> int | None:
        with self.database.read() as connection:
            row = accounts.find_user(connection, name)
        return None if row is None else row.credential_generation

    def check_session(self, name: str, generation: int, kind: str) -> None:
        """Raise `CredentialRevoked` unless a `kind` issued to the user under `generation` may still act."""
        with self.database.read() as connection:
            row = accounts.find_user(connection, name)
        if row is None:
            raise CredentialRevoked(f"this {kind} was revoked: its user {name} no longer exists")
        if row.disabled:
            raise CredentialRevoked(f"this {kind} was revoked: user {name} is disabled")
        if row.credential_generation != generation:
            raise CredentialRevoked(
                f"this {kind} was revoked: {name}'s sessions were ended (password change, disabled account "
                "or revoke-sessions); log in again"
            )

    def delete_user(self, name: str) -> None:
        with self.database.write() as connection:
            if not accounts.delete_user(connection, name):
                raise NotFound(f"no user {name!r}")

    # --- organisations and teams ---------------------------------------------------------------

    def create_organization(self, name: str, creator: str | None, take_used_namespace: bool = False) -> None:
        """Create an organisation; its creator (if a user) becomes its admin.

        Unless `take_used_namespace` (a registry admin's call), a name that already holds
        repositories, grants, robots, templates or audit entries is refused (`NamespaceInUse`),
        checked in the same transaction as the insert.
        """
        check_name(name, "organisation")
        with self.database.write() as connection:
            if accounts.find_user(connection, name) or accounts.organization_exists(connection, name):
                raise Conflict(f"the name {name!r} is taken")
            uses = [] if take_used_namespace else namespaces.namespace_uses(connection, name)
            if uses:
                raise NamespaceInUse(
                    f"the namespace {name!r} already holds {', '.join(uses)}; only a registry administrator "
                    "may create an organisation over it"
                )
            accounts.insert_organization(connection, name)
            if creator is not None and accounts.find_user(connection, creator) is not None:
                accounts.put_binding(connection, "user", creator, f"{name}/*", Role.ADMIN.value)

    def list_organizations(self) -> list[tuple[str, datetime]]:
        with self.database.read() as connection:
            return accounts.list_organizations(connection)

    def delete_organization(self, name: str) -> None:
        with self.database.write() as connection:
            if not accounts.delete_organization(connection, name):
                raise NotFound(f"no organisation {name!r}")
            namespaces.release_namespace(connection, name)

    def organization_exists(self, name: str) -> bool:
        with self.database.read() as connection:
            return accounts.organization_exists(connection, name)

    def create_team(self, organization: str, name: str) -> None:
        check_name(name, "team")
        with self.database.write() as connection:
            if not accounts.organization_exists(connection, organization):
                raise NotFound(f"no organisation {organization!r}")
            if accounts.find_team_id(connection, organization, name) is not None:
                raise Conflict(f"team {organization}/{name} exists")
            accounts.insert_team(connection, organization, name)

    def list_teams(self, organization: str) -> list[tuple[str, list[str]]]:
        with self.database.read() as connection:
            if not accounts.organization_exists(connection, organization):
                raise NotFound(f"no organisation {organization!r}")
            return accounts.list_teams(connection, organization)

    def delete_team(self, organization: str, name: str) -> None:
        with self.database.write() as connection:
            if not accounts.delete_team(connection, organization, name):
                raise NotFound(f"no team {organization}/{name}")

    def set_membership(self, organization: str, team: str, user: str, member: bool) -> None:
        with self.database.write() as connection:
            team_id = accounts.find_team_id(connection, organization, team)
            row = accounts.find_user(connection, user)
            if team_id is None or row is None:
                raise NotFound(f"no team {organization}/{team} or no user {user!r}")
            if member:
                accounts.add_member(connection, team_id, row.id)
            elif not accounts.remove_member(connection, team_id, row.id):
                raise NotFound(f"{user} is not a member of {organization}/{team}")

    # --- role bindings -------------------------------------------------------------------------

    def bind(self, subject_kind: str, subject: str, pattern: str, role: Role) -> Binding:
        """Give a subject a role on a repository pattern (replacing its earlier role there)."""
        validate_pattern(pattern)
        if subject_kind not in SUBJECT_KINDS:
            raise InvalidName(f"subject kind must be one of {', '.join(SUBJECT_KINDS)}")
        if subject_kind == "anonymous":
            if role is not Role.READ:
                raise InvalidName("anonymous access (public repositories) is read-only")
            subject = "*"
        with self.database.write() as connection:
            if subject_kind == "user" and accounts.find_user(connection, subject) is None:
                raise NotFound(f"no user {subject!r}")
            if subject_kind == "team":
                organization, _, team = subject.partition("/")
                if accounts.find_team_id(connection, organization, team) is None:
                    raise NotFound(f"no team {subject!r}")
            accounts.put_binding(connection, subject_kind, subject, pattern, role.value)
            rows = accounts.bindings_for(connection, [(subject_kind, subject)])
        return next(Binding.of(row) for row in rows if row.pattern == pattern)

    def unbind(self, subject_kind: str, subject: str, pattern: str) -> None:
        subject = "*" if subject_kind == "anonymous" else subject
        with self.database.write() as connection:
            if not accounts.delete_binding(connection, subject_kind, subject, pattern):
                raise NotFound(f"{subject_kind} {subject} holds no role on {pattern}")

    def list_bindings(self, namespace: str | None = None) -> list[Binding]:
        with self.database.read() as connection:
            return [Binding.of(row) for row in accounts.list_bindings(connection, namespace)]
