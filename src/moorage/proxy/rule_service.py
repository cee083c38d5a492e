"""Managing cache rules: create, list, show, update (rotating credentials) and delete, audited.

Only registry admins manage rules (the API checks). A rule claims a namespace: creating one over a
namespace that already holds repositories, robots, grants, templates or policies someone else set
up is refused, for the same reason organisations refuse it (metadata/namespaces.py): the cache
would otherwise take over names already in use. The upstream password is stored only encrypted
with the registry's secret key (auth/secret_box.py) and is never returned.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import sqlalchemy as sa

from moorage.auth.secret_box import SecretBox, UndecryptableSecret
from moorage.domain.access import Actor
from moorage.governance.audit import AuditLog
from moorage.metadata import accounts
from moorage.metadata import cache_rules as queries
from moorage.metadata.cache_rules import CacheRuleRow as CacheRuleRow
from moorage.metadata.common import now
from moorage.metadata.database import Database
from moorage.metadata.namespaces import namespace_uses
from moorage.proxy.rules import (
    CacheRule,
    InvalidRule,
    UpstreamCredentials,
    check_prefix,
    check_upstream_prefix,
    check_upstream_url,
)

RULES_CACHED_SECONDS = 2.0
"""How long a process uses the rules it read before reading them again (another process's change)."""
BLOCKING_USES = ("repositories", "robots", "lifecycle policies", "tag naming rules")
"""What a new rule's namespace must not hold already (grants and templates may be set up first)."""


class RuleNotFound(LookupError):
    pass


class RuleExists(Exception):
    pass


class NamespaceInUse(Exception):
    pass


@dataclass(frozen=True)
class RuleChange:
    """What an update changes; None leaves a field as it is."""

    upstream_url: str | None = None
    upstream_prefix: str | None = None
    username: str | None = None
    password: str | None = None
    clear_credentials: bool = False


class CacheRules:
    def __init__(self, database: Database, box: SecretBox | None, audit: AuditLog) -> None:
        self.database = database
        self.box = box
        self.audit = audit
        self._active: tuple[float, list[CacheRule]] | None = None

    # -- reading, on the pull path ---------------------------------------------------------------

    def recent(self) -> list[CacheRule] | None:
        """The rules read less than a couple of seconds ago, or None: then `active` must read them."""
        cached = self._active
        return cached[1] if cached is not None and cached[0] > time.monotonic() else None

    def active(self) -> list[CacheRule]:
        """The rules in force, with their credentials decrypted; re-read every couple of seconds."""
        recent = self.recent()
        if recent is not None:
            return recent
        with self.database.read() as connection:
            rows = queries.all_rules(connection)
        rules = [self._rule(row) for row in rows]
        self._active = (time.monotonic() + RULES_CACHED_SECONDS, rules)
        return rules

    def forget(self) -> None:
        self._active = None

    def _rule(self, row: CacheRuleRow) -> CacheRule:
        credentials = None
        if row.username is not None and row.password_encrypted is not None and self.box is not None:
            try:
                credentials = UpstreamCredentials(row.username, self.box.decrypt(row.password_encrypted).decode())
            except UndecryptableSecret:
                credentials = None  # the upstream will refuse; the rule says so (GET shows it)
        return CacheRule(row.prefix, row.upstream_url, row.upstream_prefix, credentials)

    # -- management -------------------------------------------------------------------------------

    def list(self) -> list[CacheRuleRow]:
        with self.database.read() as connection:
            return queries.all_rules(connection)

    def get(self, prefix: str) -> CacheRuleRow:
        with self.database.read() as connection:
            row = queries.find(connection, prefix)
        if row is None:
            raise RuleNotFound(f"no cache rule for prefix {prefix!r}")
        return row

    def create(
        self,
        actor: Actor,
        prefix: str,
        upstream_url: str,
        upstream_prefix: str | None,
        username: str | None,
        password: str | None,
    ) -> CacheRuleRow:
        prefix = check_prefix(prefix)
        moment = now()
        row = CacheRuleRow(
            prefix=prefix,
            upstream_url=check_upstream_url(upstream_url),
            upstream_prefix=check_upstream_prefix(upstream_prefix),
            username=None,
            password_encrypted=None,
            created_by=actor.describe(),
            created_at=moment,
            updated_at=moment,
        )
        row = self._with_credentials(row, username, password)
        try:
            self._insert(actor, row)
        except sa.exc.IntegrityError:  # another request created it between the check and the insert
            raise RuleExists(f"a cache rule for prefix {prefix!r} exists; update or delete it") from None
        self.forget()
        return row

    def _insert(self, actor: Actor, row: CacheRuleRow) -> None:
        prefix = row.prefix
        with self.database.write() as connection:
            if queries.find(connection, prefix) is not None:
                raise RuleExists(f"a cache rule for prefix {prefix!r} exists; update or delete it")
            if prefix:
                owner = prefix.split("/", 1)[0]
                if accounts.organization_exists(connection, owner) or accounts.find_user(connection, owner):
                    raise NamespaceInUse(
                        f"{owner} is an organisation or a user: a cache rule would take over its namespace; "
                        "choose another prefix"
                    )
                uses = [use for use in namespace_uses(connection, prefix) if use in BLOCKING_USES]
                if uses:
                    raise NamespaceInUse(
                        f"{prefix} already holds {', '.join(uses)}: a cache rule would take it over; "
                        "choose another prefix"
                    )
            queries.create(connection, row)
            self.audit.record("cache_rule.create", actor, None, prefix, detail=_public(row), connection=connection)

    def update(self, actor: Actor, prefix: str, change: RuleChange) -> CacheRuleRow:
        with self.database.write() as connection:
            row = queries.find(connection, prefix)
            if row is None:
                raise RuleNotFound(f"no cache rule for prefix {prefix!r}")
            before = _public(row)
            if change.upstream_url is not None:
                row = replace(row, upstream_url=check_upstream_url(change.upstream_url))
            if change.upstream_prefix is not None:
                row = replace(row, upstream_prefix=check_upstream_prefix(change.upstream_prefix))
            if change.clear_credentials:
                row = replace(row, username=None, password_encrypted=None)
            elif change.username is not None or change.password is not None:
                row = self._with_credentials(row, change.username or row.username, change.password)
            row = replace(row, updated_at=now())
            queries.update(connection, row)
            detail = {**_public(row), "before": before, "password_changed": change.password is not None}
            self.audit.record("cache_rule.update", actor, None, prefix, detail=detail, connection=connection)
        self.forget()
        return row

    def delete(self, actor: Actor, prefix: str) -> None:
        """Remove the rule; what it cached stays as ordinary repositories (delete them to free space)."""
        with self.database.write() as connection:
            row = queries.find(connection, prefix)
            if row is None or not queries.delete(connection, prefix):
                raise RuleNotFound(f"no cache rule for prefix {prefix!r}")
            self.audit.record("cache_rule.delete", actor, None, prefix, detail=_public(row), connection=connection)
        self.forget()

    def _with_credentials(self, row: CacheRuleRow, username: str | None, password: str | None) -> CacheRuleRow:
        if username is None and password is None:
            return row
        if not username or not password:
            raise InvalidRule("upstream credentials need both a username and a password")
        if self.box is None:
            raise InvalidRule("upstream credentials need a secret key (authentication on, or secret_key set)")
        return replace(row, username=username, password_encrypted=self.box.encrypt(password.encode()))


def _public(row: CacheRuleRow) -> dict[str, object]:
    """What the audit log and the API may show of a rule: never the password."""
    return {
        "upstream_url": row.upstream_url,
        "upstream_prefix": row.upstream_prefix,
        "username": row.username,
        "has_password": row.password_encrypted is not None,
    }


def reseal_credentials(database: Database, box: SecretBox) -> int:
    """Re-encrypt upstream passwords stored under a previous secret key with the current one (at start).

    After a key rotation the previous key may be dropped from `previous_secret_keys` once every
    start has re-encrypted; a password no configured key decrypts is left as it is (its rule then
    pulls as if it had no credentials, and the upstream says so). Returns how many were re-encrypted.
    """
    count = 0
    with database.write() as connection:
        for row in queries.all_rules(connection):
            token = row.password_encrypted
            if token is None or box.is_current(token):
                continue
            try:
                queries.update(connection, replace(row, password_encrypted=box.reencrypt(token)))
            except UndecryptableSecret:
                continue
            count += 1
    return count
