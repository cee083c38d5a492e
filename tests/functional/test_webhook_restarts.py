"""Webhooks across crashes and nodes: a `kill -9` after the commit loses no event; two nodes deliver each once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from tests.conftest import StartRegistry
from tests.functional.helpers import push_image
from tests.support.server import RunningRegistry, postgres_database
from tests.support.webhook_receiver import WebhookReceiver

SETTINGS = {
    "auth_enabled": "false",
    "webhook_allow_private_targets": "true",
    "webhook_poll_interval_seconds": "0.1",
    "webhook_retry_base_seconds": "0.2",
    "webhook_retry_max_seconds": "0.5",
    "webhook_timeout_seconds": "30",
}


def subscribe(server: RunningRegistry, receiver: WebhookReceiver, scope: str, **extra: Any) -> dict[str, Any]:
    body = {"scope_kind": "namespace", "scope": scope, "url": receiver.url("/hook"), **extra}
    response = httpx.post(f"{server.url}/api/v1/webhooks", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    receiver.secrets["/hook"] = created["secret"]
    return created


def test_a_server_killed_while_delivering_delivers_after_its_restart(
    start_registry: StartRegistry, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    with WebhookReceiver() as receiver:
        receiver.delay = 60.0  # the first attempt hangs: the server dies holding the delivery's lease
        server = start_registry(data_dir, **SETTINGS)
        subscription = subscribe(server, receiver, "crash", events=["manifest.push"])
        with httpx.Client(base_url=server.url, timeout=30) as client:
            image = push_image(client, "crash/app", "v1")
        (event_id,) = receiver.wait_for(lambda: receiver.arrived)
        server.kill()
        receiver.delay = 0.0
        restarted = start_registry(data_dir, port=server.port, **SETTINGS)
        (item,) = receiver.wait_for(lambda: receiver.at("/hook"))  # the hung request never completes
        assert item.signed and item.event_id == event_id and item.event["digest"] == image.digest
        url = f"{restarted.url}/api/v1/webhooks/{subscription['id']}/deliveries"
        (delivery,) = receiver.wait_for(lambda: [d for d in httpx.get(url).json() if d["state"] == "delivered"])
        assert delivery["attempts"] == 1  # the attempt cut short by the crash never settled


def test_two_nodes_on_one_database_deliver_each_event_once_and_in_order(
    start_registry: StartRegistry, tmp_path: Path
) -> None:
    with postgres_database() as database_url, WebhookReceiver() as receiver:
        nodes = [start_registry(tmp_path / "shared", database_url=database_url, **SETTINGS) for _ in range(2)]
        subscribe(nodes[0], receiver, "nodes", events=["tag.create", "tag.move"])
        pushed: dict[str, list[str]] = {}
        for round_number in range(3):
            for index, repo in enumerate("abc"):
                node = nodes[(round_number + index) % 2]  # pushes land on both nodes
                with httpx.Client(base_url=node.url, timeout=30) as client:
                    pushed.setdefault(repo, []).append(push_image(client, f"nodes/{repo}", "latest").digest)
        receiver.wait_for(lambda: len(receiver.at("/hook")) >= 9)
        got = receiver.at("/hook")
        assert len(got) == 9 and len({item.event_id for item in got}) == 9, "an event was delivered twice"
        for repo, digests in pushed.items():
            assert [item.event["digest"] for item in got if item.event["repository"] == f"nodes/{repo}"] == digests
