"""Pulls are in the audit log, aggregated per identity, image and window so a pull storm does not flood it."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import httpx

from tests.conftest import StartRegistry
from tests.functional.governance_helpers import audit, eventually, unique_namespace
from tests.functional.helpers import MANIFEST_ACCEPT, push_image

FAST = {"pull_flush_interval": "0.2"}


def _pull(http: httpx.Client, repo: str, reference: str, times: int) -> None:
    for _ in range(times):
        response = http.get(f"/v2/{repo}/manifests/{reference}", headers={"Accept": MANIFEST_ACCEPT})
        assert response.status_code == 200, response.text


def _pull_entries(http: httpx.Client, repo: str, total: int) -> list[dict[str, Any]]:
    """The manifest.pull entries of `repo`, once they account for `total` pulls."""

    def counted() -> list[dict[str, Any]] | None:
        entries = audit(http, repository=repo, action="manifest.pull")
        return entries if sum(e["detail"]["count"] for e in entries) >= total else None

    return eventually(counted, timeout=30)


def _second(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_a_pull_storm_becomes_one_entry_per_identity_image_and_window(start_registry: StartRegistry) -> None:
    registry = start_registry(**FAST, audit_pull_window_seconds="2")
    repo = f"{unique_namespace('pulls')}/app"
    with httpx.Client(base_url=registry.url, timeout=60) as http:
        image = push_image(http, repo, "v1")
        _pull(http, repo, "v1", 120)
        entries = _pull_entries(http, repo, 120)
    assert sum(e["detail"]["count"] for e in entries) == 120
    assert len(entries) < 120
    windows = Counter(
        (e["actor"]["name"], e["source_address"], e["target"], _second(e["detail"]["first"]) // 2) for e in entries
    )
    assert set(windows.values()) == {1}  # never two entries for one identity, image and window
    for entry in entries:
        assert entry["target"] == image.digest and entry["detail"]["window_seconds"] == 2
        assert _second(entry["detail"]["first"]) // 2 == _second(entry["detail"]["last"]) // 2


def test_every_pull_is_an_entry_when_asked_and_none_when_off(start_registry: StartRegistry) -> None:
    every = start_registry(**FAST, audit_pulls="all")
    off = start_registry(**FAST, audit_pulls="off")
    repo = f"{unique_namespace('pulls')}/app"
    with httpx.Client(base_url=every.url, timeout=60) as http:
        push_image(http, repo, "v1")
        _pull(http, repo, "v1", 5)
        entries = _pull_entries(http, repo, 5)
    assert [e["detail"]["count"] for e in entries] == [1] * 5
    with httpx.Client(base_url=off.url, timeout=60) as http:
        push_image(http, repo, "v1")
        _pull(http, repo, "v1", 5)
        eventually(lambda: http.get(f"/api/v1/repositories/{repo}/-/images").json()["images"][0]["pull_count"] == 5)
        assert audit(http, repository=repo, action="manifest.pull") == []
