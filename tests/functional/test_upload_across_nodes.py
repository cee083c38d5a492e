"""One upload, two nodes: the hash continues on whichever node takes the next chunk, and two requests
never write into (or commit) the same upload at once.

Both nodes share one PostgreSQL and one S3 bucket, as in a cluster. The upload's row is read from the
database to see what each append left: the saved hash state must be the SHA-256 of exactly the bytes
staged so far.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from moorage.domain.running_hash import RunningSha256
from tests.functional.helpers import digest_of, patch_chunk, random_bytes, start_upload, with_query
from tests.support.object_store import ObjectStoreServer
from tests.support.server import RunningRegistry, postgres_database, start_server

MIB = 1 << 20


@dataclass
class Nodes:
    a: RunningRegistry
    b: RunningRegistry
    database: sa.Engine

    def upload_row(self, location: str) -> sa.Row[tuple[str | None, int | None, bytes | None]]:
        upload_id = location.rstrip("/").split("/")[-1].split("?")[0]
        with self.database.connect() as connection:
            row = connection.execute(
                sa.text("SELECT writer, hash_offset, hash_state FROM uploads WHERE id = :id"), {"id": upload_id}
            ).one()
        return row

    def set_lease(self, location: str, writer: str | None, until: datetime | None) -> None:
        upload_id = location.rstrip("/").split("/")[-1].split("?")[0]
        with self.database.begin() as connection:
            connection.execute(
                sa.text("UPDATE uploads SET writer = :writer, writer_until = :until WHERE id = :id"),
                {"writer": writer, "until": until, "id": upload_id},
            )


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory, s3_server: ObjectStoreServer) -> Iterator[Nodes]:
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(postgres_database())
        settings = {**s3_server.registry_settings(s3_server.new_bucket()), "auth_enabled": "false"}
        a, b = (
            stack.enter_context(start_server(tmp_path_factory.mktemp(f"node-{name}"), database_url, **settings))
            for name in "ab"
        )
        engine = sa.create_engine(database_url)
        stack.callback(engine.dispose)
        yield Nodes(a, b, engine)


def open_upload(node: RunningRegistry, repository: str) -> str:
    with httpx.Client(base_url=node.url, timeout=60) as client:
        return start_upload(client, repository)


def on(node: RunningRegistry, location: str) -> str:
    """The same upload URL, on another node."""
    path = httpx.URL(location).raw_path.decode()
    return f"{node.url}{path}"


def saved_digest(row: sa.Row[tuple[str | None, int | None, bytes | None]]) -> str:
    assert row.hash_state is not None
    return "sha256:" + RunningSha256.resume(bytes(row.hash_state)).hexdigest()


def test_the_hash_continues_on_the_node_that_takes_the_next_chunk(nodes: Nodes) -> None:
    chunks = [random_bytes(MIB + 7), random_bytes(2 * MIB), random_bytes(333)]
    with httpx.Client(timeout=60) as client:
        location = open_upload(nodes.a, "cross/hash")
        offset = 0
        for index, chunk in enumerate(chunks):
            node = (nodes.a, nodes.b)[index % 2]
            response = patch_chunk(client, on(node, location), chunk, offset)
            assert response.status_code == 202, response.text
            offset += len(chunk)
            row = nodes.upload_row(location)
            assert row.writer is None, "the append gave its claim back"
            assert row.hash_offset == offset
            assert saved_digest(row) == digest_of(b"".join(chunks[: index + 1]))
        data = b"".join(chunks)
        finished = client.put(with_query(on(nodes.b, location), digest=digest_of(data)))
        assert finished.status_code == 201, finished.text
        pulled = client.get(f"{nodes.a.url}/v2/cross/hash/blobs/{digest_of(data)}")
        assert pulled.status_code == 200 and pulled.content == data


def test_a_chunk_commit_or_cancel_racing_an_append_on_the_other_node_is_refused(nodes: Nodes) -> None:
    first, rest = random_bytes(MIB), random_bytes(MIB)
    data = first + rest
    go_on = threading.Event()

    def slow_body() -> Iterator[bytes]:
        yield first
        go_on.wait(60)
        yield rest

    with httpx.Client(timeout=60) as client:
        location = open_upload(nodes.a, "cross/race")
        outcome: list[httpx.Response] = []
        slow = threading.Thread(
            target=lambda: outcome.append(
                client.patch(
                    on(nodes.a, location), content=slow_body(), headers={"Content-Type": "application/octet-stream"}
                )
            )
        )
        slow.start()
        try:
            deadline = time.monotonic() + 30
            while nodes.upload_row(location).writer is None:
                assert time.monotonic() < deadline, "the slow append never claimed the upload"
                time.sleep(0.05)
            # Another chunk, and a commit of only the bytes sent so far, on the other node: both refused.
            racing = patch_chunk(client, on(nodes.b, location), random_bytes(1000), 0)
            assert racing.status_code == 409, racing.text
            assert racing.json()["errors"][0]["code"] == "BLOB_UPLOAD_INVALID"
            early = client.put(with_query(on(nodes.b, location), digest=digest_of(first)))
            assert early.status_code == 409, early.text
            assert client.head(f"{nodes.b.url}/v2/cross/race/blobs/{digest_of(first)}").status_code == 404
            # Nor may the other node cancel it under the append (whose parts would be orphaned).
            cancelled = client.delete(on(nodes.b, location))
            assert cancelled.status_code == 409, cancelled.text
        finally:
            go_on.set()
            slow.join(60)
        assert outcome and outcome[0].status_code == 202, outcome
        finished = client.put(with_query(on(nodes.b, location), digest=digest_of(data)))
        assert finished.status_code == 201, finished.text
        assert client.get(f"{nodes.a.url}/v2/cross/race/blobs/{digest_of(data)}").content == data


def test_a_claim_left_by_a_dead_writer_is_taken_over_once_it_runs_out(nodes: Nodes) -> None:
    first, rest = random_bytes(MIB + 1), random_bytes(4096)
    data = first + rest
    with httpx.Client(timeout=60) as client:
        location = open_upload(nodes.a, "cross/dead")
        assert patch_chunk(client, on(nodes.a, location), first, 0).status_code == 202
        # A node died in the middle of an append: its claim is still there, not yet run out.
        nodes.set_lease(location, "dead-writer", datetime.now(UTC) + timedelta(minutes=5))
        assert patch_chunk(client, on(nodes.b, location), rest, len(first)).status_code == 409
        nodes.set_lease(location, "dead-writer", datetime.now(UTC) - timedelta(seconds=1))
        assert patch_chunk(client, on(nodes.b, location), rest, len(first)).status_code == 202
        row = nodes.upload_row(location)
        assert row.hash_state is None, "the dead writer's hash is not trusted: the commit hashes the bytes"
        finished = client.put(with_query(on(nodes.a, location), digest=digest_of(data)))
        assert finished.status_code == 201, finished.text
        assert client.get(f"{nodes.b.url}/v2/cross/dead/blobs/{digest_of(data)}").content == data


def test_a_garbled_saved_state_falls_back_to_hashing_the_bytes(nodes: Nodes) -> None:
    data = random_bytes(MIB + 3)
    with httpx.Client(timeout=60) as client:
        location = open_upload(nodes.a, "cross/garbled")
        assert patch_chunk(client, on(nodes.a, location), data, 0).status_code == 202
        upload_id = location.rstrip("/").split("/")[-1].split("?")[0]
        with nodes.database.begin() as connection:
            connection.execute(
                sa.text("UPDATE uploads SET hash_state = :junk WHERE id = :id"),
                {"junk": b"S256\x01junk", "id": upload_id},
            )
        finished = client.put(with_query(on(nodes.b, location), digest=digest_of(data)))
        assert finished.status_code == 201, finished.text
        wrong = open_upload(nodes.a, "cross/garbled")
        assert patch_chunk(client, on(nodes.a, wrong), data, 0).status_code == 202
        refused = client.put(with_query(on(nodes.b, wrong), digest=digest_of(data + b"x")))
        assert refused.status_code == 400 and refused.json()["errors"][0]["code"] == "DIGEST_INVALID"
