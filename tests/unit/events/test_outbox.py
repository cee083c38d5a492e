"""The delivery queue on a real metadata store: events commit with their change, and wait their turn."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from moorage.domain.access import Actor
from moorage.events import Event, EventType, emit
from moorage.metadata import webhooks as queries
from moorage.metadata.common import now
from moorage.metadata.database import Database

ALICE = Actor("token", "alice", credential="tok_123", source_address="10.0.0.9")


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    found = Database(f"sqlite:///{tmp_path / 'metadata.db'}")
    found.migrate()
    yield found
    found.dispose()


def subscribe(database: Database, kind: str, scope: str, enabled: bool = True, events: list[str] | None = None) -> int:
    moment = now()
    values = {
        "scope_kind": kind,
        "scope": scope,
        "url": "https://93.184.215.14/",
        "events": events or [kind.value for kind in EventType],
        "enabled": enabled,
        "description": "",
        "secret_encrypted": "sealed",
        "created_by": "test",
        "created_at": moment,
        "updated_at": moment,
    }
    with database.write() as connection:
        return queries.insert_subscription(connection, values)


def pushed(repository: str, digest: str = "sha256:" + "a" * 64) -> Event:
    return Event(EventType.MANIFEST_PUSH, repository, ALICE, digest, "v1", "application/vnd.oci.image.manifest.v1+json")


def test_an_event_goes_to_each_subscription_that_hears_it_and_the_body_names_no_credential(database: Database) -> None:
    on_repo = subscribe(database, "repository", "team/app")
    on_namespace = subscribe(database, "namespace", "team")
    subscribe(database, "namespace", "teamwork")
    subscribe(database, "namespace", "team", enabled=False)
    subscribe(database, "namespace", "team", events=["tag.delete"])
    with database.write() as connection:
        ids = emit(connection, pushed("team/app"))
    assert len(ids) == 2
    with database.read() as connection:
        rows = [queries.delivery(connection, delivery_id) for delivery_id in ids]
    assert sorted(row["subscription_id"] for row in rows if row) == sorted([on_repo, on_namespace])
    body = rows[0]["body"] if rows[0] else ""
    assert '"actor":{"kind":"token","name":"alice"}' in body
    assert "tok_123" not in body and "10.0.0.9" not in body


def test_an_event_of_a_rolled_back_change_is_never_queued(database: Database) -> None:
    subscribe(database, "namespace", "team")
    with pytest.raises(RuntimeError), database.write() as connection:
        emit(connection, pushed("team/app"))
        raise RuntimeError("the push is refused after the hook ran")
    with database.read() as connection:
        assert queries.queue_depth(connection) == 0


def test_a_later_event_of_a_repository_waits_for_the_earlier_one_and_a_lease_is_held_once(database: Database) -> None:
    subscribe(database, "namespace", "team")
    with database.write() as connection:
        first, second = emit(connection, pushed("team/app", "sha256:" + "1" * 64)) + emit(
            connection, pushed("team/app", "sha256:" + "2" * 64)
        )
        (other,) = emit(connection, pushed("team/other"))
    moment = now()
    until = moment + timedelta(minutes=1)
    with database.write() as connection:
        claimed = [row["id"] for row in queries.claim(connection, "worker-a", moment, until, 10)]
    assert claimed == [first, other]  # the second event of team/app waits for the first
    with database.write() as connection:
        assert queries.claim(connection, "worker-b", moment, until, 10) == []  # leased
        retry = {"next_attempt_at": moment + timedelta(seconds=30)}
        assert queries.record_attempt(connection, first, "worker-a", _attempt(500), retry)
    with database.write() as connection:
        assert queries.claim(connection, "worker-b", now(), until, 10) == []  # still waits behind the retry
        assert not queries.record_attempt(connection, other, "worker-b", _attempt(200), {"state": "delivered"})
        assert queries.record_attempt(connection, other, "worker-a", _attempt(200), {"state": "delivered"})
    with database.write() as connection:
        later = now() + timedelta(seconds=31)
        (row,) = queries.claim(connection, "worker-b", later, later + timedelta(minutes=1), 10)
        assert row["id"] == first and row["attempts"] == 1
        assert queries.record_attempt(connection, first, "worker-b", _attempt(200), {"state": "delivered"})
    with database.write() as connection:
        assert [row["id"] for row in queries.claim(connection, "worker-b", now(), until, 10)] == [second]


def test_leases_of_a_dead_holder_are_released(database: Database) -> None:
    subscribe(database, "namespace", "team")
    with database.write() as connection:
        (delivery,) = emit(connection, pushed("team/app"))
        moment = now()
        queries.claim(connection, "dead-holder", moment, moment + timedelta(hours=1), 1)
    with database.write() as connection:
        assert queries.lease_holders(connection, now()) == ["dead-holder"]
        assert queries.release_leases(connection, ["dead-holder"]) == 1
        assert [row["id"] for row in queries.claim(connection, "me", now(), now() + timedelta(minutes=1), 1)] == [
            delivery
        ]


def _attempt(status: int) -> dict[str, object]:
    return {
        "attempted_at": now(),
        "status_code": status,
        "error": None if status < 300 else f"HTTP {status}",
        "duration_ms": 1.0,
    }


def test_finished_deliveries_older_than_the_retention_are_pruned_pending_ones_never(database: Database) -> None:
    subscribe(database, "namespace", "team")
    with database.write() as connection:
        done, waiting = emit(connection, pushed("team/app")) + emit(connection, pushed("team/other"))
        moment = now()
        queries.claim(connection, "me", moment, moment + timedelta(minutes=1), 10)
        queries.record_attempt(connection, done, "me", _attempt(200), {"state": "delivered", "finished_at": moment})
    with database.write() as connection:
        assert queries.prune(connection, moment) == 0  # not older than the cut-off
        assert queries.prune(connection, moment + timedelta(seconds=1)) == 1
    with database.read() as connection:
        assert queries.delivery(connection, done) is None
        assert queries.delivery(connection, waiting) is not None
