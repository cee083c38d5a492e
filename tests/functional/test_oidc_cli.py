"""`moorage issuers …` drives the management API over HTTP."""

from __future__ import annotations

import json
import uuid

from typer.testing import CliRunner, Result

from moorage.cli.main import app
from tests.support.oidc_issuer import AUDIENCE
from tests.support.server import RunningRegistry


def moorage(registry: RunningRegistry, *args: str) -> Result:
    """The CLI in this process (faster than a subprocess), against the real server over HTTP."""
    return CliRunner().invoke(app, ["issuers", *args, "--url", registry.url])


def test_an_issuer_and_its_rules_are_managed_from_the_command_line(embedded_registry: RunningRegistry) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    url = f"http://127.0.0.1:9/{name}"
    registry = embedded_registry
    trusted = moorage(registry, "trust", name, url, "--audience", AUDIENCE)
    assert trusted.exit_code == 0, trusted.output
    assert url in trusted.stdout

    added = moorage(
        registry, "add-rule", name, "api", "--claim", "repository=acme/api", "--claim", "ref=refs/heads/*",
        "--repository", "ci/{repository}", "--action", "push",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "rule api: if repository=acme/api, ref=refs/heads/* → push on ci/{repository}" in added.stdout

    preview = moorage(
        registry, "preview", name, "--claim", "repository=acme/api", "--claim", "ref=refs/heads/x", "--json"
    )
    assert json.loads(preview.stdout)["grants"] == [{"repository": "ci/acme/api", "actions": ["pull", "push"]}]

    shown = json.loads(moorage(registry, "show", name, "--json").stdout)
    assert shown["rules"][0]["claims"] == {"repository": "acme/api", "ref": "refs/heads/*"}

    refused = moorage(
        registry, "add-rule", name, "all", "--claim", "repository=*", "--repository", "x", "--action", "push"
    )
    assert refused.exit_code == 1
    assert "more than wildcards" in refused.output

    assert moorage(registry, "remove-rule", name, "api").exit_code == 0
    assert moorage(registry, "remove", name).exit_code == 0
    missing = moorage(registry, "show", name)
    assert missing.exit_code == 1 and "404" in missing.output
