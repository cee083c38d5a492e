"""The audit log is a hash chain: a row edited, removed or inserted behind the server's back is named by verify.

Each test runs a private server (SQLite, then PostgreSQL), writes a few entries, then edits the
database directly as an intruder with database access would (lifting the append-only trigger first).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.functional.governance_helpers import API, audit, create_repository, unique_namespace
from tests.functional.test_governance_cli import moorage
from tests.support.server import RunningRegistry, postgres_database, start_server


@pytest.fixture(params=["sqlite", "postgres"])
def private(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningRegistry]:
    """A server of its own (its log gets tampered with), with two HTTP worker processes."""
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(postgres_database()) if request.param == "postgres" else None
        yield stack.enter_context(start_server(tmp_path / "data", database_url, workers="2"))


def _engine(registry: RunningRegistry) -> sa.Engine:
    assert registry.data_dir is not None
    return sa.create_engine(registry.database_url or f"sqlite:///{registry.data_dir / 'metadata.db'}")


@contextlib.contextmanager
def _intruder(registry: RunningRegistry) -> Iterator[sa.Connection]:
    """A direct connection to the store with the append-only triggers out of the way."""
    engine = _engine(registry)
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "sqlite":
                connection.exec_driver_sql("DROP TRIGGER IF EXISTS audit_log_no_update")
                connection.exec_driver_sql("DROP TRIGGER IF EXISTS audit_log_no_delete")
            else:
                connection.exec_driver_sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
            yield connection
    finally:
        engine.dispose()


def _write_entries(http: httpx.Client, count: int) -> list[dict[str, Any]]:
    names = [f"{unique_namespace('chain')}/app" for _ in range(count)]
    for name in names:
        create_repository(http, name)
    return [e for e in audit(http) if e["action"] == "repository.create" and e["repository"] in names]


def _verify(http: httpx.Client, **params: str) -> dict[str, Any]:
    response = http.get(f"{API}/audit/verify", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _forged_hash(row: dict[str, Any], prev_hash: str) -> str:
    """What an intruder who read docs/governance.md computes for a row of their own."""
    document = {**row, "prev_hash": prev_hash}
    return hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def test_an_untouched_log_verifies_and_its_head_is_the_newest_entry(private: RunningRegistry) -> None:
    with httpx.Client(base_url=private.url, timeout=60) as http:
        entries = _write_entries(http, 3)
        head = http.get(f"{API}/audit/head").json()
        report = _verify(http, head=head["hash"])
        newest = audit(http)[-1]
    assert report["valid"] is True and report["first_break"] is None
    assert head["id"] == newest["id"] and head["hash"] == newest["hash"] == report["head"]["hash"]
    assert [e["prev_hash"] for e in entries[1:]] == [e["hash"] for e in entries[:-1]]
    assert entries[0]["at"].endswith("Z") and len(entries[0]["at"]) == len("2026-12-05T22:01:29.123456Z")


def test_verify_names_an_entry_changed_in_the_database(private: RunningRegistry) -> None:
    with httpx.Client(base_url=private.url, timeout=60) as http:
        entries = _write_entries(http, 3)
        assert _verify(http)["valid"]
        with _intruder(private) as db:
            db.exec_driver_sql(f"UPDATE audit_log SET actor_name = 'someone else' WHERE id = {entries[1]['id']}")
        report = _verify(http)
    assert report["valid"] is False
    assert report["first_break"]["id"] == entries[1]["id"] and report["first_break"]["problem"] == "changed"


def test_verify_names_an_entry_removed_from_the_database(private: RunningRegistry) -> None:
    with httpx.Client(base_url=private.url, timeout=60) as http:
        entries = _write_entries(http, 3)
        with _intruder(private) as db:
            db.exec_driver_sql(f"DELETE FROM audit_log WHERE id = {entries[1]['id']}")
        report = _verify(http)
    assert report["valid"] is False
    assert report["first_break"] == {
        "id": entries[1]["id"],
        "problem": "removed",
        "message": f"an entry between entry {entries[0]['id']} and entry {entries[2]['id']} is missing",
    }


def test_verify_names_an_entry_inserted_with_a_forged_hash(private: RunningRegistry) -> None:
    """An intruder who read docs/governance.md appends a well-formed entry of their own: the head row betrays it."""
    with httpx.Client(base_url=private.url, timeout=60) as http:
        entries = _write_entries(http, 2)
        newest = audit(http)[-1]
        row = {
            "id": newest["id"] + 1,
            "at": "2026-01-01T00:00:00.000000Z",
            "action": "permission.grant",
            "repository": None,
            "target": "prod/*",
            "outcome": "success",
            "actor_kind": "user",
            "actor_name": "admin",
            "actor_credential": None,
            "source_address": "127.0.0.1",
            "detail": None,
        }
        with _intruder(private) as db:
            db.execute(
                sa.text(
                    "INSERT INTO audit_log (id, at, action, target, outcome, actor_kind, actor_name, source_address,"
                    " prev_hash, hash) VALUES (:id, :at, :action, :target, :outcome, :actor_kind, :actor_name,"
                    " :source_address, :prev_hash, :hash)"
                ),
                {
                    **row,
                    "at": "2026-01-01 00:00:00.000000",
                    "prev_hash": newest["hash"],
                    "hash": _forged_hash(row, newest["hash"]),
                },
            )
        report = _verify(http)
    assert entries and report["valid"] is False
    assert report["first_break"]["id"] == row["id"] and report["first_break"]["problem"] == "inserted"


def test_an_exported_head_catches_the_newest_entries_rewritten_together_with_the_head_row(
    private: RunningRegistry,
) -> None:
    with httpx.Client(base_url=private.url, timeout=60) as http:
        entries = _write_entries(http, 3)
        kept = http.get(f"{API}/audit/head").json()["hash"]
        with _intruder(private) as db:
            db.exec_driver_sql(f"DELETE FROM audit_log WHERE id >= {entries[1]['id']}")
            db.execute(
                sa.text("UPDATE audit_chain_head SET last_id = :id, hash = :hash"),
                {"id": entries[0]["id"], "hash": entries[0]["hash"]},
            )
        assert _verify(http)["valid"]  # consistent in itself...
        report = _verify(http, head=kept)  # ...but the head kept elsewhere is gone
    assert report["valid"] is False and report["first_break"]["problem"] == "head"


def test_entries_removed_from_the_end_are_named(private: RunningRegistry) -> None:
    with httpx.Client(base_url=private.url, timeout=60) as http:
        entries = _write_entries(http, 2)
        with _intruder(private) as db:
            db.exec_driver_sql(f"DELETE FROM audit_log WHERE id = {entries[-1]['id']}")
        report = _verify(http)
    assert report["valid"] is False
    assert report["first_break"]["problem"] == "removed" and report["first_break"]["id"] == entries[-1]["id"]


def test_concurrent_appends_on_two_server_workers_keep_one_chain(private: RunningRegistry) -> None:
    def create_many(prefix: str) -> None:
        with httpx.Client(base_url=private.url, timeout=120) as http:
            for number in range(15):
                create_repository(http, f"{prefix}/r{number}")

    threads = [threading.Thread(target=create_many, args=(unique_namespace("race"),)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with httpx.Client(base_url=private.url, timeout=60) as http:
        report = _verify(http)
        created = [e for e in audit(http) if e["action"] == "repository.create"]
    assert report["valid"] is True, report
    assert len(created) == 90 and report["entries"] >= 90


def test_the_cli_exports_the_head_and_verify_fails_naming_the_changed_entry(private: RunningRegistry) -> None:
    with httpx.Client(base_url=private.url, timeout=60) as http:
        entries = _write_entries(http, 2)
    head = json.loads(moorage(private, "audit", "head", "--json").stdout)
    assert head["id"] == entries[-1]["id"] and head["hash"] == entries[-1]["hash"]
    assert "audit log intact" in moorage(private, "audit", "verify", "--head", head["hash"]).stdout
    with _intruder(private) as db:
        db.exec_driver_sql(f"UPDATE audit_log SET source_address = '10.0.0.9' WHERE id = {entries[0]['id']}")
    refused = moorage(private, "audit", "verify", expect=1)
    assert f"audit log broken at entry {entries[0]['id']} (changed)" in refused.stderr
