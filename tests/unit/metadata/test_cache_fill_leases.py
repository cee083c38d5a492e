"""The cache's fill leases on both databases: one holder at a time, a lease that ran out is taken over."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest

from moorage.metadata import cache_fills
from moorage.metadata.common import now
from moorage.metadata.database import Database

DIGEST = "sha256:" + "ab" * 32


@pytest.fixture
def store(empty_database_url: str) -> Iterator[Database]:
    database = Database(empty_database_url)
    database.migrate()
    try:
        yield database
    finally:
        database.dispose()


def _take(store: Database, owner: str, lease: timedelta = timedelta(seconds=30)) -> bool:
    moment = now()
    with store.write() as connection:
        return cache_fills.take(connection, "up/app", DIGEST, owner, moment, moment + lease)


def test_a_held_lease_is_refused_to_others_and_kept_by_its_owner(store: Database) -> None:
    assert _take(store, "a")
    assert not _take(store, "b")
    assert _take(store, "a")  # taking it again is renewing it
    with store.read() as connection:
        assert cache_fills.held(connection, "up/app", DIGEST, now())


def test_a_given_back_or_run_out_lease_is_taken_by_the_next(store: Database) -> None:
    assert _take(store, "a")
    with store.write() as connection:
        cache_fills.give_back(connection, "up/app", DIGEST, "a")
    assert _take(store, "b", lease=timedelta(seconds=-1))  # as if its holder died a while ago
    with store.read() as connection:
        assert not cache_fills.held(connection, "up/app", DIGEST, now())
    assert _take(store, "c")
    with store.write() as connection:
        assert not cache_fills.renew(connection, "up/app", DIGEST, "b", now())  # b lost it
        assert cache_fills.renew(connection, "up/app", DIGEST, "c", now() + timedelta(seconds=30))


def test_of_many_takers_at_once_exactly_one_gets_the_lease(store: Database) -> None:
    start = threading.Barrier(8)
    won: list[str] = []

    def take(owner: str) -> None:
        start.wait()
        if _take(store, owner):
            won.append(owner)

    threads = [threading.Thread(target=take, args=(f"owner{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(won) == 1
