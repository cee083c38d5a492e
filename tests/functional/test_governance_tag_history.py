"""Tag history: every create, move and delete with digests, actor and time; what a tag pointed to at T."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx

from tests.functional.governance_helpers import API, audit, tag_history
from tests.functional.helpers import push_image, push_manifest
from tests.support.server import RunningRegistry


def test_create_move_and_delete_are_recorded_in_order(http: httpx.Client, repo: str) -> None:
    first = push_image(http, repo, "stable")
    second = push_image(http, repo, "stable")
    assert http.delete(f"/v2/{repo}/manifests/stable").status_code == 202
    events = tag_history(http, repo, "stable")
    assert [(e["action"], e["old_digest"], e["new_digest"]) for e in events] == [
        ("create", None, first.digest),
        ("move", first.digest, second.digest),
        ("delete", second.digest, None),
    ]
    for event in events:
        assert event["actor"]["name"] == "anonymous" and event["source_address"] == "127.0.0.1"
    times = [datetime.fromisoformat(e["at"]) for e in events]
    assert times == sorted(times)


def test_what_a_tag_pointed_to_at_a_time(http: httpx.Client, repo: str) -> None:
    before = datetime.now(UTC)
    time.sleep(0.05)
    first = push_image(http, repo, "prod")
    time.sleep(0.05)
    between = datetime.now(UTC)
    time.sleep(0.05)
    second = push_image(http, repo, "prod")

    def at(moment: datetime) -> dict[str, object]:
        response = http.get(f"{API}/repositories/{repo}/-/tags/prod/at", params={"time": moment.isoformat()})
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    assert at(before)["digest"] is None
    assert at(between)["digest"] == first.digest
    assert at(datetime.now(UTC))["digest"] == second.digest


def test_history_is_paginated(http: httpx.Client, repo: str) -> None:
    for _ in range(5):
        push_image(http, repo, "moving")
    page = http.get(f"{API}/repositories/{repo}/-/tags/moving/history", params={"limit": 2}).json()
    assert len(page["events"]) == 2 and page["next"] is not None
    rest = http.get(f"{API}/repositories/{repo}/-/tags/moving/history", params={"after": page["next"]}).json()
    assert len(rest["events"]) == 3 and rest["next"] is None


def test_concurrent_tag_moves_leave_a_complete_ordered_history(registry: RunningRegistry, repo: str) -> None:
    """Sixteen clients move one tag at once: every move is recorded once, each from the digest before it."""
    with httpx.Client(base_url=registry.url, timeout=60) as client:
        manifests = [push_image(client, repo) for _ in range(16)]

        def move(position: int) -> None:
            with httpx.Client(base_url=registry.url, timeout=60) as own:
                push_manifest(own, repo, manifests[position], "contested")

        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(move, range(16)))
        events = tag_history(client, repo, "contested")
        current = client.get(f"/v2/{repo}/manifests/contested").headers["docker-content-digest"]
    assert {e["new_digest"] for e in events} == {m.digest for m in manifests}
    assert len(events) == 16
    assert events[0]["old_digest"] is None
    for previous, event in zip(events, events[1:], strict=False):
        assert event["old_digest"] == previous["new_digest"], "history lost or reordered a move"
        assert event["id"] > previous["id"]
    assert events[-1]["new_digest"] == current


def test_every_mutation_is_audited_with_actor_and_address(http: httpx.Client, repo: str) -> None:
    manifest = push_image(http, repo, "a")
    push_manifest(http, repo, manifest, "b")
    http.delete(f"/v2/{repo}/manifests/a")
    http.delete(f"/v2/{repo}/manifests/{manifest.digest}")
    entries = audit(http, repository=repo)
    actions = [e["action"] for e in entries]
    assert actions == [
        "repository.create",
        "tag.create",
        "manifest.push",
        "tag.create",  # the same manifest under a second tag: only the tag is new
        "tag.delete",
        "tag.delete",
        "manifest.delete",
    ]
    assert all(e["source_address"] == "127.0.0.1" and e["outcome"] == "success" for e in entries)
    assert audit(http, repository=repo, action="tag.") == [e for e in entries if e["action"].startswith("tag.")]


def test_audit_log_exports_as_json_lines(http: httpx.Client, repo: str) -> None:
    push_image(http, repo, "x")
    response = http.get(f"{API}/audit/export", params={"repository": repo})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/jsonl")
    import json

    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line["id"] for line in lines] == [e["id"] for e in audit(http, repository=repo)]
    assert {line["action"] for line in lines} >= {"repository.create", "manifest.push", "tag.create"}


def test_the_database_refuses_to_rewrite_history(registry: RunningRegistry, repo: str) -> None:
    """Audit log and tag history are append-only in the store itself, not only in the API."""
    import pytest
    import sqlalchemy as sa

    with httpx.Client(base_url=registry.url, timeout=60) as client:
        push_image(client, repo, "v1")
    assert registry.data_dir is not None
    url = registry.database_url or f"sqlite:///{registry.data_dir / 'metadata.db'}"
    engine = sa.create_engine(url)
    try:
        for statement in (
            "UPDATE audit_log SET actor_name = 'someone else'",
            "DELETE FROM audit_log",
            "UPDATE tag_history SET new_digest = NULL",
            "DELETE FROM tag_history",
        ):
            with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as connection:
                connection.exec_driver_sql(statement)
    finally:
        engine.dispose()
    with httpx.Client(base_url=registry.url, timeout=60) as client:
        assert tag_history(client, repo, "v1")[0]["actor"]["name"] == "anonymous"
