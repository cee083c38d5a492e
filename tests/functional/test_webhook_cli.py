"""`moorage webhook` against a registry with authentication on: every command, tables and --json, secret shown once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.cli_support import AUTH_SETTINGS, Cli
from tests.functional.helpers import push_image
from tests.support.auth import ADMIN, ADMIN_PASSWORD, api, client_for, unique_name
from tests.support.server import RunningRegistry, start_server
from tests.support.webhook_receiver import WebhookReceiver

SETTINGS = {
    **AUTH_SETTINGS,
    "webhook_allow_private_targets": "true",
    "webhook_poll_interval_seconds": "0.1",
    "webhook_retry_base_seconds": "0.1",
    "webhook_retry_max_seconds": "0.1",
    "webhook_max_attempts": "1",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    with start_server(tmp_path_factory.mktemp("webhook-cli"), **SETTINGS) as running:
        yield running


def test_every_webhook_command_works_signed_in_and_shows_the_secret_only_once(
    server: RunningRegistry, tmp_path: Path
) -> None:
    cli = Cli(server, tmp_path / "config")
    cli.login()
    namespace = unique_name("whcli")
    with WebhookReceiver() as receiver:
        created = cli.run("webhook", "create", receiver.url("/cli"), "--namespace", namespace, "--json")
        subscription = json.loads(created.stdout)
        secret = subscription["secret"]
        receiver.secrets["/cli"] = secret
        webhook = str(subscription["id"])
        people = cli.run("webhook", "create", receiver.url("/other"), "--repository", f"{namespace}/x")
        assert "signing secret:" in people.stdout and "not shown again" in people.stdout

        listed = cli.run("webhook", "list", "--scope", namespace)
        assert listed.stdout.splitlines()[0].split()[:3] == ["ID", "SCOPE_KIND", "SCOPE"]
        assert webhook in listed.stdout
        shown = json.loads(cli.run("webhook", "show", webhook, "--json").stdout)
        assert shown["url"] == receiver.url("/cli") and "secret" not in shown

        updated = cli.run("webhook", "update", webhook, "--event", "manifest.push", "--description", "ci", "--json")
        assert json.loads(updated.stdout)["events"] == ["manifest.push"]

        with client_for(server, (ADMIN, ADMIN_PASSWORD)) as registry:
            push_image(registry, f"{namespace}/app", "v1")
        receiver.wait_for(lambda: receiver.at("/cli"))
        assert receiver.at("/cli")[0].signed
        with api(server) as admin:  # poll over HTTP: each CLI run costs a process start
            delivered = receiver.wait_for(
                lambda: admin.get(f"/webhooks/{webhook}/deliveries", params={"state": "delivered"}).json()
            )
        table = cli.run("webhook", "deliveries", webhook, "--state", "delivered").stdout
        assert table.splitlines()[0].split()[:4] == ["ID", "EVENT_TYPE", "REPOSITORY", "STATE"]
        assert "manifest.push" in table and "200" in table
        detail = cli.run("webhook", "deliveries", webhook, "--delivery", str(delivered[0]["id"])).stdout
        assert "ATTEMPTED_AT" in detail and "200" in detail

        again = json.loads(cli.run("webhook", "redeliver", webhook, str(delivered[0]["id"]), "--json").stdout)
        assert again["redelivery_of"] == delivered[0]["id"]
        receiver.wait_for(lambda: len(receiver.at("/cli")) >= 2)

        assert "200" in cli.run("webhook", "ping", webhook).stdout
        receiver.status = 500
        failed = cli.run("webhook", "ping", webhook, expect=1)
        assert "HTTP 500" in failed.stdout
        receiver.status = 200

        rotated = cli.run("webhook", "rotate-secret", webhook, "--json")
        new_secret = json.loads(rotated.stdout)["secret"]
        assert new_secret != secret

        refused = cli.run("webhook", "create", "http://169.254.169.254/", "--namespace", namespace, expect=None)
        assert refused.returncode != 0 and "link-local" in refused.stderr and "Traceback" not in refused.stderr

        assert "deleted webhook" in cli.run("webhook", "delete", webhook).stdout
        with api(server) as admin:
            assert admin.get(f"/webhooks/{webhook}").status_code == 404
    outputs = [listed.stdout, json.dumps(shown), updated.stdout, table, detail]
    assert all(secret not in text and new_secret not in text for text in outputs)
