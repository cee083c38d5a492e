"""Lifecycle policies through the management API: store, preview, apply, runs, CLI — on both backends."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import StartRegistry
from tests.functional.helpers import (
    index_manifest,
    push_artifact,
    push_image,
    push_manifest,
)
from tests.support.server import RunningRegistry


def rule(priority: int, status: str, count: int, **selection: Any) -> dict[str, Any]:
    return {
        "rulePriority": priority,
        "description": f"rule {priority}",
        "selection": {"tagStatus": status, "countType": "imageCountMoreThan", "countNumber": count, **selection},
        "action": {"type": "expire"},
    }


def policy_url(repo: str) -> str:
    return f"/api/v1/repositories/{repo}/lifecycle-policy"


def test_a_policy_is_stored_read_back_and_removed(http: httpx.Client, repo: str) -> None:
    document = {"rules": [rule(1, "untagged", 3)]}
    assert http.get(policy_url(repo)).status_code == 404
    assert http.put(policy_url(repo), json=document).status_code == 200
    assert http.get(policy_url(repo)).json() == {
        "name": repo,
        "scope": "repository",
        "source": "repository",
        "namespace": None,
        "policy": document,
    }
    assert http.delete(policy_url(repo)).status_code == 204
    assert http.get(policy_url(repo)).status_code == 404


def test_an_invalid_policy_is_refused_as_problem_details_naming_rule_and_field(http: httpx.Client, repo: str) -> None:
    document = {"rules": [rule(1, "tagged", 3)]}  # tagged without a prefix or pattern list
    response = http.put(policy_url(repo), json=document)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["field"] == "rules[0].selection.tagPatternList"
    assert problem["rulePriority"] == 1
    assert "rulePriority 1" in problem["detail"]
    assert http.get(policy_url(repo)).status_code == 404


def test_preview_lists_every_image_with_its_fate_and_changes_nothing(http: httpx.Client, repo: str) -> None:
    old = push_image(http, repo, "v1")
    new = push_image(http, repo, "v2")
    untagged = push_image(http, repo)
    document = {"rules": [rule(1, "tagged", 1, tagPrefixList=["v"])]}
    response = http.post(f"/api/v1/repositories/{repo}/lifecycle-preview", json=document)
    assert response.status_code == 200, response.text
    preview = response.json()
    fate = {item["imageDigest"]: item for item in preview["results"]}
    assert preview["policySource"] == "request"
    assert fate[old.digest]["action"] == "expire" and fate[old.digest]["appliedRulePriority"] == 1
    assert fate[new.digest]["action"] == "keep"
    assert fate[untagged.digest]["action"] == "keep" and fate[untagged.digest]["appliedRulePriority"] is None
    assert preview["summary"]["expiring"] == 1 and preview["summary"]["bytesExpiring"] > 0
    assert http.get(f"/v2/{repo}/manifests/{old.digest}").status_code == 200


def test_preview_without_a_policy_is_404_and_of_an_unknown_repository_too(http: httpx.Client, repo: str) -> None:
    push_image(http, repo, "v1")
    assert http.post(f"/api/v1/repositories/{repo}/lifecycle-preview").status_code == 404
    document = {"rules": [rule(1, "any", 1)]}
    response = http.post(f"/api/v1/repositories/{repo}-absent/lifecycle-preview", json=document)
    assert response.status_code == 404


def test_a_namespace_policy_governs_its_repositories_unless_they_have_their_own(http: httpx.Client) -> None:
    namespace = f"lifens{uuid.uuid4().hex[:8]}"
    own, inherited = f"{namespace}/own", f"{namespace}/team/inherited"
    for repo in (own, inherited):
        push_image(http, repo, "v1")
        push_image(http, repo, "v2")
    assert (
        http.put(f"/api/v1/namespaces/{namespace}/lifecycle-policy", json={"rules": [rule(1, "any", 1)]}).status_code
        == 200
    )
    assert http.put(policy_url(own), json={"rules": [rule(1, "any", 5)]}).status_code == 200
    inherited_preview = http.post(f"/api/v1/repositories/{inherited}/lifecycle-preview").json()
    own_preview = http.post(f"/api/v1/repositories/{own}/lifecycle-preview").json()
    assert inherited_preview["policySource"] == f"namespace:{namespace}"
    assert inherited_preview["summary"]["expiring"] == 1
    assert own_preview["policySource"] == "repository" and own_preview["summary"]["expiring"] == 0


def test_applying_expires_images_keeps_index_children_and_takes_referrers_along(http: httpx.Client, repo: str) -> None:
    old = push_image(http, repo, "v1")
    signature = push_artifact(http, repo, "application/vnd.example.signature", subject=old)
    new = push_image(http, repo, "v2")
    children = [push_image(http, repo), push_image(http, repo)]
    index = push_manifest(http, repo, index_manifest(children), "multi")
    strays = [push_image(http, repo) for _ in range(3)]
    document = {"rules": [rule(1, "tagged", 1, tagPrefixList=["v"]), rule(2, "untagged", 1)]}
    assert http.put(policy_url(repo), json=document).status_code == 200

    response = http.post("/api/v1/lifecycle/runs")
    assert response.status_code == 200, response.text
    expired = [old, signature, *strays[:2]]
    kept = [new, *children, index, strays[2]]
    for manifest in expired:
        assert http.get(f"/v2/{repo}/manifests/{manifest.digest}").status_code == 404
    for manifest in kept:
        assert http.get(f"/v2/{repo}/manifests/{manifest.digest}").status_code == 200
    entries = _expired_entries(http, repo)
    assert set(entries) == {manifest.digest for manifest in expired}
    assert entries[old.digest]["rulePriority"] == 1 and entries[old.digest]["tags"] == ["v1"]
    assert "subject" in entries[signature.digest]["reason"]
    assert entries[strays[0].digest]["rulePriority"] == 2
    run = response.json()
    assert run["status"] == "completed" and run["finished_at"]


def _expired_entries(http: httpx.Client, repo: str) -> dict[str, dict[str, Any]]:
    """What every recorded run expired in `repo` (the background schedule may have run first)."""
    runs = http.get("/api/v1/lifecycle/runs", params={"limit": 200}).json()
    return {item["digest"]: item for run in runs for item in run["expired"] or [] if item["repository"] == repo}


def test_cli_preview_prints_what_would_expire_and_why(
    registry: RunningRegistry, http: httpx.Client, repo: str, tmp_path: Path
) -> None:
    old = push_image(http, repo, "v1")
    push_image(http, repo, "v2")
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"rules": [rule(1, "tagged", 1, tagPatternList=["v*"])]}))
    command = [sys.executable, "-m", "moorage", "lifecycle", "preview", repo, "--policy", str(policy)]
    result = subprocess.run([*command, "--url", registry.url], check=False, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "1 of 2 images would expire" in result.stdout
    line = next(line for line in result.stdout.splitlines() if old.digest[:19] in line)
    assert line.startswith("EXPIRE") and "rule 1" in line
    as_json = subprocess.run(
        [*command, "--url", registry.url, "--json"], check=False, capture_output=True, text=True, timeout=60
    )
    assert json.loads(as_json.stdout)["summary"]["expiring"] == 1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"rules": [rule(0, "any", 1)]}))
    refused = subprocess.run(
        [sys.executable, "-m", "moorage", "lifecycle", "preview", repo, "--policy", str(bad), "--url", registry.url],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1 and "rulePriority" in refused.stderr


def test_the_background_schedule_applies_policies_and_records_the_run(start_registry: StartRegistry) -> None:
    server = start_registry(lifecycle_interval_seconds="1", gc_interval_seconds="0")
    with httpx.Client(base_url=server.url, timeout=60) as http:
        repo = "scheduled/app"
        old = push_image(http, repo, "v1")
        new = push_image(http, repo, "v2")
        assert http.put(policy_url(repo), json={"rules": [rule(1, "any", 1)]}).status_code == 200
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and old.digest not in _expired_entries(http, repo):
            time.sleep(0.2)
        assert _expired_entries(http, repo)[old.digest]["rulePriority"] == 1
        assert http.get(f"/v2/{repo}/manifests/{old.digest}").status_code == 404
        assert http.get(f"/v2/{repo}/manifests/v2").status_code == 200
        assert new.digest not in _expired_entries(http, repo)
        runs = http.get("/api/v1/lifecycle/runs").json()
        assert {(run["trigger"], run["started_by"]) for run in runs} == {("schedule", None)}


def test_cli_apply_applies_policies_and_prints_the_run(
    registry: RunningRegistry, http: httpx.Client, repo: str
) -> None:
    old = push_image(http, repo, "v1")
    push_image(http, repo, "v2")
    assert http.put(policy_url(repo), json={"rules": [rule(1, "any", 1)]}).status_code == 200
    command = [sys.executable, "-m", "moorage", "lifecycle", "apply", "--url", registry.url]
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("run ") and "images expired" in result.stdout
    assert http.get(f"/v2/{repo}/manifests/{old.digest}").status_code == 404
    assert http.get(f"/v2/{repo}/manifests/v2").status_code == 200
