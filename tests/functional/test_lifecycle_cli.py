"""`moorage lifecycle put|get|delete|runs|apply REPO|preview --as-of`, `moorage gc runs`, and the repository
setting flags that used to guess: run as a user would against a running registry (issue 12)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.functional.governance_helpers import unique_namespace
from tests.functional.helpers import push_image, unique_repo
from tests.support.server import RunningRegistry

UNTAGGED_OVER_ONE = {
    "rules": [
        {
            "rulePriority": 1,
            "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 1},
            "action": {"type": "expire"},
        }
    ]
}
OLDER_THAN_A_WEEK = {
    "rules": [
        {
            "rulePriority": 1,
            "selection": {"tagStatus": "any", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7},
            "action": {"type": "expire"},
        }
    ]
}


def moorage(registry: RunningRegistry, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "moorage", *args, "--url", registry.url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == expect, f"{command} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def policy_file(tmp_path: Path, document: dict[str, Any], name: str = "policy.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


def test_lifecycle_put_get_delete_like_ecr(embedded_registry: RunningRegistry, tmp_path: Path) -> None:
    repo = unique_repo("clipol")
    with httpx.Client(base_url=embedded_registry.url) as http:
        push_image(http, repo, "v1")
    moorage(embedded_registry, "lifecycle", "put", repo, "--policy", policy_file(tmp_path, UNTAGGED_OVER_ONE))
    shown = json.loads(moorage(embedded_registry, "lifecycle", "get", repo, "--json").stdout)
    assert shown["policy"] == UNTAGGED_OVER_ONE and shown["source"] == "repository"
    assert "set on the repository itself" in moorage(embedded_registry, "lifecycle", "get", repo).stdout
    moorage(embedded_registry, "lifecycle", "delete", repo)
    missing = moorage(embedded_registry, "lifecycle", "get", repo, expect=1)
    assert "no lifecycle policy" in missing.stderr


def test_lifecycle_get_names_the_namespace_a_policy_comes_from(
    embedded_registry: RunningRegistry, tmp_path: Path
) -> None:
    namespace = unique_namespace("clins")
    repo = f"{namespace}/api"
    with httpx.Client(base_url=embedded_registry.url) as http:
        push_image(http, repo, "v1")
    policy = policy_file(tmp_path, UNTAGGED_OVER_ONE)
    moorage(embedded_registry, "lifecycle", "put", namespace, "--namespace", "--policy", policy)
    assert f"set on namespace {namespace}" in moorage(embedded_registry, "lifecycle", "get", repo).stdout


def test_an_invalid_policy_is_refused_by_put_and_by_repo_update_alike(
    embedded_registry: RunningRegistry, tmp_path: Path
) -> None:
    repo = unique_repo("clibad")
    moorage(embedded_registry, "repo", "create", repo)
    invalid = policy_file(tmp_path, {"rules": [{"rulePriority": 1, "action": {"type": "expire"}}]})
    by_put = moorage(embedded_registry, "lifecycle", "put", repo, "--policy", invalid, expect=1)
    by_update = moorage(embedded_registry, "repo", "update", repo, "--lifecycle-policy", invalid, expect=1)
    assert "rules[0].selection" in by_put.stderr and "rules[0].selection" in by_update.stderr
    moorage(embedded_registry, "lifecycle", "get", repo, expect=1)


def test_lifecycle_apply_one_repository_and_runs_lists_who_started_it(
    embedded_registry: RunningRegistry, tmp_path: Path
) -> None:
    ours, theirs = unique_repo("cliapply"), unique_repo("cliother")
    policy = policy_file(tmp_path, UNTAGGED_OVER_ONE)
    with httpx.Client(base_url=embedded_registry.url) as http:
        for name in (ours, theirs):
            push_image(http, name)
            push_image(http, name)
            moorage(embedded_registry, "lifecycle", "put", name, "--policy", policy)
    run = json.loads(moorage(embedded_registry, "lifecycle", "apply", ours, "--json").stdout)
    assert run["images_expired"] == 1 and {item["repository"] for item in run["expired"]} == {ours}
    runs = json.loads(moorage(embedded_registry, "lifecycle", "runs", "--json").stdout)
    assert run["id"] in [r["id"] for r in runs] and runs[0]["trigger"] == "manual"
    table = moorage(embedded_registry, "lifecycle", "runs").stdout
    assert table.splitlines()[0].startswith("ID") and "manual" in table
    preview = moorage(embedded_registry, "lifecycle", "preview", theirs).stdout
    assert "1 of 2 images would expire" in preview


def test_lifecycle_preview_as_of_next_month(embedded_registry: RunningRegistry, tmp_path: Path) -> None:
    repo = unique_repo("cliasof")
    with httpx.Client(base_url=embedded_registry.url) as http:
        push_image(http, repo, "v1")
    policy = policy_file(tmp_path, OLDER_THAN_A_WEEK)
    today = moorage(embedded_registry, "lifecycle", "preview", repo, "--policy", policy).stdout
    later = moorage(embedded_registry, "lifecycle", "preview", repo, "--policy", policy, "--as-of", "2999-01-01")
    assert "0 of 1 images would expire" in today
    assert "1 of 1 images would expire" in later.stdout and "as of 2999-01-01" in later.stdout


def test_gc_runs_lists_collections_and_gc_still_collects(embedded_registry: RunningRegistry) -> None:
    moorage(embedded_registry, "gc", "--dry-run")
    runs = json.loads(moorage(embedded_registry, "gc", "runs", "--json").stdout)
    assert runs and runs[0]["dry_run"] is True
    assert moorage(embedded_registry, "gc", "runs").stdout.splitlines()[0].startswith("ID")


def test_mutability_flags_that_contradict_each_other_are_refused(embedded_registry: RunningRegistry) -> None:
    repo = unique_repo("climut")
    refused = moorage(embedded_registry, "repo", "create", repo, "--immutable", "--tag-mutability", "MUTABLE", expect=2)
    assert "--tag-mutability" in refused.stderr
    moorage(embedded_registry, "repo", "describe", repo, expect=1)


def test_mutable_under_a_template_with_filters_and_clearing_filters(embedded_registry: RunningRegistry) -> None:
    namespace = unique_namespace("clitpl")
    moorage(embedded_registry, "template", "put", namespace, "--immutable", "--exclude", "latest")
    repo = f"{namespace}/api"
    moorage(embedded_registry, "repo", "create", repo)
    updated = json.loads(moorage(embedded_registry, "repo", "update", repo, "--mutable", "--json").stdout)
    assert (updated["tag_mutability"], updated["tag_mutability_exclusion_filters"]) == ("MUTABLE", [])
    moorage(embedded_registry, "repo", "update", repo, "--immutable", "--exclude", "dev-*")
    cleared = json.loads(
        moorage(embedded_registry, "repo", "update", repo, "--immutable", "--exclude", "", "--json").stdout
    )
    assert (cleared["tag_mutability"], cleared["tag_mutability_exclusion_filters"]) == ("IMMUTABLE", [])


def test_duplicate_filters_and_labels_without_a_value_are_refused(embedded_registry: RunningRegistry) -> None:
    repo = unique_repo("clidup")
    twice = moorage(
        embedded_registry, "repo", "create", repo, "--immutable", "--exclude", "v*", "--exclude", "v*", expect=1
    )
    assert "twice" in twice.stderr
    novalue = moorage(embedded_registry, "repo", "create", repo, "--label", "novalue", expect=2)
    assert "KEY=VALUE" in novalue.stderr
    moorage(embedded_registry, "repo", "describe", repo, expect=1)
    created = json.loads(moorage(embedded_registry, "repo", "create", repo, "--label", "empty=", "--json").stdout)
    assert created["labels"] == {"empty": ""}
