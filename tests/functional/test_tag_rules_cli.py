"""`moorage tag-rules`, run as a user would against a running registry."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx

from tests.functional.governance_helpers import unique_namespace
from tests.functional.helpers import push_image, put_manifest
from tests.support.server import RunningRegistry


def moorage(registry: RunningRegistry, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "moorage", *args, "--url", registry.url]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == expect, f"{command} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def test_tag_rules_set_show_and_clear_for_a_namespace_and_a_repository(embedded_registry: RunningRegistry) -> None:
    namespace = unique_namespace("prodcli")
    repo = f"{namespace}/api"
    moorage(embedded_registry, "tag-rules", "set", namespace, "--namespace", "--allow", "v*", "--refuse", "latest")
    moorage(embedded_registry, "repo", "create", repo)
    moorage(embedded_registry, "tag-rules", "set", repo, "--refuse", "re:^v0\\..*$")
    shown = moorage(embedded_registry, "tag-rules", "show", repo).stdout
    assert shown.splitlines()[0].split() == ["SOURCE", "SCOPE", "ALLOWED", "REFUSED"]
    assert f"{namespace}/*" in shown and "latest" in shown and "re:^v0\\..*$" in shown
    layers = json.loads(moorage(embedded_registry, "tag-rules", "show", repo, "--json").stdout)
    assert [layer["source"] for layer in layers] == [f"{namespace}/*", repo]
    with httpx.Client(base_url=embedded_registry.url) as http:
        image = push_image(http, repo)
        refused = put_manifest(http, repo, "latest", image.body, image.media_type)
        assert refused.status_code == 403 and f"{namespace}/*'s rule 'latest'" in refused.text
    invalid = moorage(embedded_registry, "tag-rules", "set", repo, "--allow", "re:(a+)+", expect=1)
    assert "exponential" in invalid.stderr
    moorage(embedded_registry, "tag-rules", "clear", repo)
    moorage(embedded_registry, "tag-rules", "clear", namespace, "--namespace")
    assert "no tag naming rules apply" in moorage(embedded_registry, "tag-rules", "show", repo).stdout
    moorage(embedded_registry, "tag-rules", "clear", namespace, "--namespace", expect=1)


def test_tag_rules_of_a_creation_template_keep_its_other_settings(embedded_registry: RunningRegistry) -> None:
    prefix = unique_namespace("tplcli")
    moorage(embedded_registry, "template", "put", prefix, "--create-on-push", "--immutable")
    moorage(embedded_registry, "tag-rules", "set", prefix, "--template", "--refuse", "latest")
    template = json.loads(moorage(embedded_registry, "template", "list", "--json").stdout)
    mine = next(t for t in template if t["prefix"] == prefix)
    assert mine["tag_rules"] == {"allowed": [], "refused": ["latest"]}
    assert mine["create_on_push"] is True and mine["tag_mutability"] == "IMMUTABLE"
    shown = json.loads(moorage(embedded_registry, "tag-rules", "show", prefix, "--template", "--json").stdout)
    assert shown == {"allowed": [], "refused": ["latest"]}
    moorage(embedded_registry, "tag-rules", "clear", prefix, "--template")
    template = json.loads(moorage(embedded_registry, "template", "list", "--json").stdout)
    assert next(t for t in template if t["prefix"] == prefix)["tag_rules"] is None
