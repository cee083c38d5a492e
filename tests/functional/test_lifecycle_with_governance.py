"""Lifecycle policies set through governance's repository settings, and pulls recorded by governance."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.conftest import StartRegistry
from tests.functional.helpers import MANIFEST_ACCEPT, push_image, unique_repo


def rule(priority: int, status: str, count_type: str, number: int) -> dict[str, Any]:
    selection: dict[str, Any] = {"tagStatus": status, "countType": count_type, "countNumber": number}
    if count_type != "imageCountMoreThan":
        selection["countUnit"] = "days"
    return {"rulePriority": priority, "selection": selection, "action": {"type": "expire"}}


def test_a_policy_in_the_repository_settings_is_the_effective_policy(http: httpx.Client) -> None:
    repo = unique_repo("govlife")
    old = push_image(http, repo, "v1")
    push_image(http, repo, "v2")
    response = http.patch(
        f"/api/v1/repositories/{repo}", json={"lifecycle_policy": {"rules": [rule(1, "any", "imageCountMoreThan", 1)]}}
    )
    assert response.status_code == 200, response.text
    preview = http.post(f"/api/v1/repositories/{repo}/lifecycle-preview").json()
    assert preview["policySource"] == "repository"
    assert [r["imageDigest"] for r in preview["results"] if r["action"] == "expire"] == [old.digest]


def test_since_image_pulled_uses_the_pulls_governance_records(start_registry: StartRegistry) -> None:
    server = start_registry(pull_flush_interval="0.2", gc_interval_seconds="0", lifecycle_interval_seconds="0")
    with httpx.Client(base_url=server.url, timeout=60, headers={"Accept": MANIFEST_ACCEPT}) as http:
        repo = unique_repo("govpull")
        image = push_image(http, repo, "v1")
        assert http.get(f"/v2/{repo}/manifests/v1").status_code == 200
        time.sleep(1)
        policy = {"rules": [rule(1, "any", "sinceImagePulled", 1)]}
        preview = http.post(f"/api/v1/repositories/{repo}/lifecycle-preview", json=policy).json()
        assert preview["results"][0]["imageDigest"] == image.digest
        assert preview["results"][0]["action"] == "keep"
        assert preview["results"][0]["lastRecordedPullTime"] is not None


def test_an_image_lifecycle_expires_is_in_the_tag_history_and_the_audit_log(http: httpx.Client) -> None:
    """Governance's promise holds for automatic deletions too: every tag deletion has a who and a why."""
    repo = unique_repo("govexpire")
    old = push_image(http, repo, "v1")
    push_image(http, repo, "v2")
    policy = {"rules": [rule(1, "any", "imageCountMoreThan", 1)]}
    assert http.put(f"/api/v1/repositories/{repo}/lifecycle-policy", json=policy).status_code == 200
    assert http.post("/api/v1/lifecycle/runs").status_code == 200
    assert http.get(f"/v2/{repo}/manifests/{old.digest}").status_code == 404
    events = http.get(f"/api/v1/repositories/{repo}/-/tags/v1/history").json()["events"]
    assert [(e["action"], e["old_digest"], e["actor"]["name"]) for e in events][-1] == (
        "delete",
        old.digest,
        "lifecycle",
    )
    assert events[-1]["actor"]["credential"] == "rule 1"
    audit = http.get("/api/v1/audit", params={"repository": repo, "action": "manifest.delete"}).json()["entries"]
    assert [(e["target"], e["actor"]["name"]) for e in audit] == [(old.digest, "lifecycle")]
