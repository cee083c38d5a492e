"""Robot accounts for CI (like Harbor's robots): owned by a namespace, scoped within it, expiring.

A robot logs in as `<namespace>+<name>` with a `moorage_robot_…` secret; rotating the secret
invalidates the old one at once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from moorage.auth.access_tokens import Conflict, NotFound
from moorage.auth.credentials import CredentialExpired, CredentialRevoked
from moorage.auth.grants import Grant, Principal, grants_from_json, grants_to_json
from moorage.auth.lifetimes import LifetimeCap
from moorage.auth.secret_values import matches, new_secret, secret_hash
from moorage.domain.access import Action, Actor
from moorage.metadata import credentials
from moorage.metadata.common import now
from moorage.metadata.credentials import RobotRow
from moorage.metadata.database import Database

SEPARATOR = "+"


class OutsideNamespace(ValueError):
    """A robot's grant reaches beyond the namespace that owns it."""


@dataclass(frozen=True)
class Robot:
    namespace: str
    name: str
    description: str | None
    grants: tuple[Grant, ...]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None

    @property
    def username(self) -> str:
        return f"{self.namespace}{SEPARATOR}{self.name}"

    @classmethod
    def of(cls, row: RobotRow) -> Robot:
        return cls(
            row.namespace,
            row.name,
            row.description,
            grants_from_json(row.grants),
            row.created_at,
            row.expires_at,
            row.last_used_at,
        )


def check_within(namespace: str, grants: tuple[Grant, ...]) -> None:
    for grant in grants:
        pattern = grant.repository_pattern
        if not pattern.startswith(namespace + "/"):
            raise OutsideNamespace(f"robot grants must stay within {namespace}/: {pattern!r} does not")


def _generation(row: RobotRow) -> int:
    """32 bits derived from the stored secret hash: new with every secret, telling nothing about it."""
    return int(hashlib.sha256(f"generation:{row.secret_hash}".encode()).hexdigest()[:8], 16)


class Robots:
    def __init__(self, database: Database, cap: LifetimeCap | None = None) -> None:
        self.database = database
        self.cap = cap
        """The admin's cap on robot secret lifetimes (`robot_secret_max_days`); None: uncapped."""

    def create(
        self,
        namespace: str,
        name: str,
        grants: tuple[Grant, ...],
        expires_at: datetime | None,
        description: str | None = None,
    ) -> tuple[Robot, str]:
        check_within(namespace, grants)
        if self.cap is not None:
            self.cap.check(expires_at)
        secret = new_secret("robot")
        with self.database.write() as connection:
            if credentials.find_robot(connection, namespace, name) is not None:
                raise Conflict(f"robot {namespace}{SEPARATOR}{name} exists")
            credentials.insert_robot(
                connection,
                namespace=namespace,
                name=name,
                description=description,
                secret_hash=secret_hash(secret),
                grants=grants_to_json(grants),
                expires_at=expires_at,
            )
            row = credentials.find_robot(connection, namespace, name)
        assert row is not None
        return Robot.of(row), secret

    def rotate_secret(self, namespace: str, name: str) -> str:
        secret = new_secret("robot")
        with self.database.write() as connection:
            if not credentials.update_robot(connection, namespace, name, secret_hash=secret_hash(secret)):
                raise NotFound(f"no robot {namespace}{SEPARATOR}{name}")
        return secret

    def set_grants(self, namespace: str, name: str, grants: tuple[Grant, ...]) -> Robot:
        """Replace what the robot may do; its secret stays. Login passwords made from it narrow at once."""
        check_within(namespace, grants)
        with self.database.write() as connection:
            if not credentials.update_robot(connection, namespace, name, grants=grants_to_json(grants)):
                raise NotFound(f"no robot {namespace}{SEPARATOR}{name}")
            row = credentials.find_robot(connection, namespace, name)
        assert row is not None
        return Robot.of(row)

    def change_grant(self, username: str, pattern: str, actions: frozenset[Action] | None) -> Robot:
        """Set the robot's actions on one pattern (None: remove its grant there), as a role binding would."""
        namespace, _, name = username.partition(SEPARATOR)
        with self.database.write() as connection:
            row = credentials.find_robot(connection, namespace, name)
            if row is None:
                raise NotFound(f"no robot {username}")
            current = grants_from_json(row.grants)
            if actions is None and not any(g.repository_pattern == pattern for g in current):
                raise NotFound(f"robot {username} holds no grant on {pattern}")
            kept = tuple(g for g in current if g.repository_pattern != pattern)
            grants = kept if actions is None else (*kept, Grant(pattern, actions))
            check_within(namespace, grants)
            credentials.update_robot(connection, namespace, name, grants=grants_to_json(grants))
            row = credentials.find_robot(connection, namespace, name)
        assert row is not None
        return Robot.of(row)

    def list(self, namespace: str) -> list[Robot]:
        with self.database.read() as connection:
            return [Robot.of(row) for row in credentials.list_robots(connection, namespace)]

    def delete(self, namespace: str, name: str) -> None:
        with self.database.write() as connection:
            if not credentials.delete_robot(connection, namespace, name):
                raise NotFound(f"no robot {namespace}{SEPARATOR}{name}")

    def secret_generation(self, username: str) -> int | None:
        """A number that changes whenever the robot's secret is replaced (None: no such robot)."""
        namespace, _, name = username.partition(SEPARATOR)
        with self.database.read() as connection:
            row = credentials.find_robot(connection, namespace, name)
        return None if row is None else _generation(row)

    def check_source(self, username: str, kind: str, generation: int | None = None) -> None:
        """Raise unless the robot a `kind` (login password, refresh token) was made from is still usable:
        it exists, has not expired, and (given the `generation` it was issued under) kept its secret."""
        namespace, _, name = username.partition(SEPARATOR)
        with self.database.read() as connection:
            row = credentials.find_robot(connection, namespace, name)
        if row is None:
            raise CredentialRevoked(f"the robot account {username} this {kind} was made from no longer exists")
        if row.expires_at is not None and row.expires_at <= now():
            raise CredentialExpired(f"robot account {username} this {kind} was made from", row.expires_at)
        if generation is not None and generation != _generation(row):
            raise CredentialRevoked(
                f"this {kind} was revoked: the secret of robot account {username} it was made from was replaced"
            )

    def grants_of(self, username: str) -> tuple[Grant, ...]:
        """The grants of an existing, unexpired robot; none otherwise."""
        namespace, _, name = username.partition(SEPARATOR)
        with self.database.read() as connection:
            row = credentials.find_robot(connection, namespace, name)
        if row is None or (row.expires_at is not None and row.expires_at <= now()):
            return ()
        return grants_from_json(row.grants)

    def verify(self, username: str, secret: str, source_address: str | None) -> Principal | None:
        namespace, separator, name = username.partition(SEPARATOR)
        if not separator or not secret.startswith("moorage_robot_"):
            return None
        with self.database.read() as connection:
            row = credentials.find_robot(connection, namespace, name)
        if row is None or not matches(secret, row.secret_hash):
            return None
        if row.expires_at is not None and row.expires_at <= now():
            raise CredentialExpired(f"robot account {username}", row.expires_at)
        with self.database.write() as connection:
            credentials.update_robot(connection, namespace, name, last_used_at=now())
        actor = Actor("robot", username, username, source_address)
        # Bounded by the robot's current grants (StoredRoles), so a login password made from it
        # narrows when the robot's grants are changed.
        return Principal(actor, grants_from_json(row.grants), bounded_by_roles=True, expires_at=row.expires_at)
