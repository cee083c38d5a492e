"""The governance commands of `moorage`, run as a user would against a running registry."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import httpx

from tests.functional.helpers import push_image, push_manifest, unique_repo
from tests.support.server import RunningRegistry


def moorage(registry: RunningRegistry, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "moorage", *args, "--url", registry.url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == expect, f"{command} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def test_repo_commands_create_describe_update_list_and_delete(embedded_registry: RunningRegistry) -> None:
    name = unique_repo("cli")
    created = moorage(
        embedded_registry,
        "repo",
        "create",
        name,
        "--immutable",
        "--exclude",
        "latest",
        "--scan-on-push",
        "--description",
        "made by the CLI",
        "--label",
        "team=a",
        "--json",
    )
    document = json.loads(created.stdout)
    assert document["tag_mutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert document["tag_mutability_exclusion_filters"] == ["latest"]
    assert document["scan_on_push"] is True and document["labels"] == {"team": "a"}
    described = moorage(embedded_registry, "repo", "describe", name)
    assert "made by the CLI" in described.stdout
    moorage(embedded_registry, "repo", "update", name, "--visibility", "public")
    listed = json.loads(moorage(embedded_registry, "repo", "list", "--prefix", name.split("/")[0], "--json").stdout)
    assert [r["visibility"] for r in listed if r["name"] == name] == ["public"]
    table = moorage(embedded_registry, "repo", "list", "--prefix", name.split("/")[0]).stdout
    assert table.splitlines()[0].startswith("NAME") and name in table
    refused = moorage(embedded_registry, "repo", "create", name, expect=1)
    assert "already exists" in refused.stderr
    moorage(embedded_registry, "repo", "delete", name)
    moorage(embedded_registry, "repo", "describe", name, expect=1)


def test_tag_history_images_usage_and_audit_commands(embedded_registry: RunningRegistry) -> None:
    name = unique_repo("cli")
    with httpx.Client(base_url=embedded_registry.url) as http:
        first = push_image(http, name, "prod")
        between = datetime.now(UTC)
        second = push_image(http, name)
        push_manifest(http, name, second, "prod")
    history = json.loads(moorage(embedded_registry, "tag", "history", f"{name}:prod", "--json").stdout)
    assert [(e["action"], e["new_digest"]) for e in history] == [("create", first.digest), ("move", second.digest)]
    at = moorage(embedded_registry, "tag", "history", f"{name}:prod", "--at", between.isoformat())
    assert at.stdout.strip() == first.digest
    listed = json.loads(moorage(embedded_registry, "images", "list", name, "--untagged", "--json").stdout)
    assert [i["digest"] for i in listed] == [first.digest]
    deleted = moorage(embedded_registry, "images", "delete", name, first.digest, "nope", expect=1)
    assert "MANIFEST_UNKNOWN" in deleted.stdout
    usage = json.loads(moorage(embedded_registry, "usage", "repo", name, "--json").stdout)
    assert usage["images"] == 1
    exported = moorage(embedded_registry, "audit", "export", "--repository", name).stdout.splitlines()
    actions = [json.loads(line)["action"] for line in exported]
    assert actions.count("tag.move") == 1 and "manifest.delete" in actions
