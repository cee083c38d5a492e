"""`moorage migrate` and schema versions in a cluster: migrate once, then roll nodes; older nodes keep running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from moorage.metadata.database import Database
from tests.conftest import StartRegistry


def moorage(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("MOORAGE_")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "moorage", *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=120
    )


def test_migrate_check_reports_pending_migrations_then_migrate_applies_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'metadata.db'}"
    check = moorage("migrate", "--check", "--json", "--database-url", url, cwd=tmp_path)
    assert check.returncode == 1, check.stderr
    assert "0001" in json.loads(check.stdout)["pending"]
    applied = moorage("migrate", "--json", "--database-url", url, cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    report = json.loads(applied.stdout)
    assert report["pending"] == [] and "0001" in report["migrated_now"]
    assert moorage("migrate", "--check", "--database-url", url, cwd=tmp_path).returncode == 0


def stamp_newer_schema(url: str) -> None:
    """Pretend a newer moorage added a migration this version does not know."""
    database = Database(url)
    database.migrate()
    with database.engine.begin() as connection:
        head = max(database.schema_state().applied)
        connection.execute(
            sa.text("UPDATE alembic_version SET version_num = 'from-a-newer-version' WHERE version_num = :head"),
            {"head": head},
        )
    database.dispose()


def test_an_older_node_starts_and_serves_on_a_schema_a_newer_version_migrated(
    tmp_path: Path, start_registry: StartRegistry
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    stamp_newer_schema(f"sqlite:///{data_dir / 'metadata.db'}")
    node = start_registry(data_dir=data_dir)
    assert httpx.get(f"{node.url}/v2/").status_code == 200
    report = moorage("migrate", "--json", "--database-url", f"sqlite:///{data_dir / 'metadata.db'}", cwd=tmp_path)
    assert report.returncode == 0
    assert json.loads(report.stdout)["newer_than_this_version"] == ["from-a-newer-version"]


def test_with_migrate_on_start_off_a_node_refuses_a_schema_behind_it(
    tmp_path: Path, start_registry: StartRegistry
) -> None:
    with pytest.raises(RuntimeError) as refused:
        start_registry(migrate_on_start="false")
    assert "run `moorage migrate`" in str(refused.value)
