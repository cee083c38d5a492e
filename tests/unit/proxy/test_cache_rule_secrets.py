"""Upstream passwords at rest: encrypted with the secret key, re-encrypted after a key rotation."""

from __future__ import annotations

from pathlib import Path

import pytest

from moorage.auth.secret_box import SecretBox
from moorage.domain.access import Actor, AllowAll
from moorage.governance.audit import AuditLog
from moorage.metadata.database import Database
from moorage.proxy.rule_service import CacheRules, NamespaceInUse, reseal_credentials
from moorage.proxy.rules import InvalidRule

KEY_A = "a" * 40
KEY_B = "b" * 40
ADMIN = Actor("user", "admin")


@pytest.fixture
def database(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'metadata.db'}")
    database.migrate()
    return database


def test_a_rotated_secret_key_re_encrypts_upstream_passwords_at_start(database: Database) -> None:
    rules = CacheRules(database, SecretBox(KEY_A), AuditLog(database, AllowAll()))
    rules.create(ADMIN, "hub", "https://registry-1.docker.io", None, "bot", "s3cret-upstream")
    stored = rules.get("hub").password_encrypted
    assert stored is not None and "s3cret" not in stored

    rotated = SecretBox(KEY_B, [KEY_A])
    assert reseal_credentials(database, rotated) == 1
    assert reseal_credentials(database, rotated) == 0
    after = CacheRules(database, SecretBox(KEY_B), AuditLog(database, AllowAll()))
    (rule,) = after.active()
    assert rule.credentials is not None and rule.credentials.password == "s3cret-upstream"


def test_credentials_need_both_a_username_and_a_password(database: Database) -> None:
    rules = CacheRules(database, SecretBox(KEY_A), AuditLog(database, AllowAll()))
    with pytest.raises(InvalidRule):
        rules.create(ADMIN, "hub", "https://registry-1.docker.io", None, "bot", None)
    with pytest.raises(InvalidRule):
        rules.create(ADMIN, "hub", "https://registry-1.docker.io", None, None, "pw")


def test_a_prefix_over_a_namespace_in_use_is_refused(database: Database) -> None:
    from moorage.metadata import repositories

    with database.write() as connection:
        repositories.ensure(connection, "team/app")
    rules = CacheRules(database, SecretBox(KEY_A), AuditLog(database, AllowAll()))
    with pytest.raises(NamespaceInUse):
        rules.create(ADMIN, "team", "https://quay.io", None, None, None)
    rules.create(ADMIN, "quay", "https://quay.io", None, None, None)


def test_a_prefix_in_an_organisations_or_users_namespace_is_refused(database: Database) -> None:
    from moorage.metadata import accounts

    with database.write() as connection:
        accounts.insert_organization(connection, "acme")
    rules = CacheRules(database, SecretBox(KEY_A), AuditLog(database, AllowAll()))
    with pytest.raises(NamespaceInUse):
        rules.create(ADMIN, "acme", "https://quay.io", None, None, None)
    with pytest.raises(NamespaceInUse):
        rules.create(ADMIN, "acme/mirror", "https://quay.io", None, None, None)
