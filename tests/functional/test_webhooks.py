"""Webhooks end to end: pushes and deletes reach a loopback receiver signed, in order, and survive its outages.

One registry per backend (SQLite, PostgreSQL) with authentication on, private targets allowed (the
receiver is on loopback) and retries fast, shared by the module.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from tests.functional.helpers import push_image, put_manifest
from tests.support.auth import ADMIN, ADMIN_PASSWORD, api, client_for, create_user
from tests.support.pki import PrivateCA
from tests.support.server import RunningRegistry, postgres_database, start_server
from tests.support.webhook_receiver import WebhookReceiver

SETTINGS = {
    "auth_enabled": "true",
    "admin_username": ADMIN,
    "admin_password": ADMIN_PASSWORD,
    "login_failures_per_address": "100000",
    "webhook_allow_private_targets": "true",
    "webhook_poll_interval_seconds": "0.1",
    "webhook_retry_base_seconds": "0.2",
    "webhook_retry_max_seconds": "2.0",
    "webhook_max_attempts": "8",
    "webhook_timeout_seconds": "5",
}


@pytest.fixture(scope="module")
def internal_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[PrivateCA, Path]:
    """The CA of the site's internal receivers: the registry trusts it through `webhook_ca_file`."""
    ca = PrivateCA.create()
    ca_file = tmp_path_factory.mktemp("internal-ca") / "ca.pem"
    ca_file.write_bytes(ca.certificate.public_bytes(serialization.Encoding.PEM))
    return ca, ca_file


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, internal_ca: tuple[PrivateCA, Path]
) -> Iterator[RunningRegistry]:
    data_dir = tmp_path_factory.mktemp(f"webhooks-{request.param}")
    settings = {**SETTINGS, "webhook_ca_file": str(internal_ca[1])}
    if request.param == "postgres":
        with postgres_database() as url, start_server(data_dir, url, **settings) as running:
            yield running
    else:
        with start_server(data_dir, **settings) as running:
            yield running


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


@pytest.fixture
def admin(server: RunningRegistry) -> Iterator[httpx.Client]:
    with api(server) as client:
        yield client


@pytest.fixture
def registry(server: RunningRegistry) -> Iterator[httpx.Client]:
    with client_for(server, (ADMIN, ADMIN_PASSWORD)) as client:
        yield client


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def subscribe(
    admin: httpx.Client, receiver: WebhookReceiver, scope: str, kind: str = "namespace", **extra: Any
) -> tuple[dict[str, Any], str]:
    """A subscription to `scope` delivering to a fresh path of the receiver; (subscription, path)."""
    path = f"/{unique('hook')}"
    body = {"scope_kind": kind, "scope": scope, "url": receiver.url(path), **extra}
    response = admin.post("/webhooks", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    receiver.secrets[path] = created["secret"]
    return created, path


def deliveries(admin: httpx.Client, subscription: dict[str, Any], **params: Any) -> list[dict[str, Any]]:
    response = admin.get(f"/webhooks/{subscription['id']}/deliveries", params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_push_is_delivered_signed_with_what_happened_and_logged(
    admin: httpx.Client, registry: httpx.Client, receiver: WebhookReceiver, server: RunningRegistry
) -> None:
    namespace = unique("wh")
    subscription, path = subscribe(admin, receiver, namespace)
    image = push_image(registry, f"{namespace}/app", "v1")
    got = receiver.wait_for(lambda: len(receiver.at(path)) >= 2 and receiver.at(path))
    assert all(item.signed for item in got)
    events = {item.event["type"]: item for item in got}
    push = events["manifest.push"].event
    assert push["repository"] == f"{namespace}/app" and push["digest"] == image.digest and push["tag"] == "v1"
    assert push["media_type"] == image.media_type
    assert push["actor"] == {"kind": "user", "name": ADMIN}
    assert push["pull_reference"] == f"{server.host}/{namespace}/app@{image.digest}"
    assert events["tag.create"].event["digest"] == image.digest
    assert events["manifest.push"].event_id == push["id"]
    assert ADMIN_PASSWORD not in b"".join(item.body for item in got).decode()
    log = receiver.wait_for(lambda: [d for d in deliveries(admin, subscription) if d["state"] == "delivered"])
    assert {d["event_type"] for d in log} == {"manifest.push", "tag.create"}
    detail = admin.get(f"/webhooks/{subscription['id']}/deliveries/{log[0]['id']}").json()
    (attempt,) = detail["attempt_log"]
    assert attempt["status_code"] == 200 and attempt["error"] is None and attempt["duration_ms"] >= 0
    assert detail["body"]["id"] == detail["event_id"]


def test_a_dead_receiver_loses_nothing_and_each_repository_stays_in_order(
    admin: httpx.Client, registry: httpx.Client, server: RunningRegistry
) -> None:
    namespace = unique("whorder")
    with WebhookReceiver() as down:
        subscription, path = subscribe(admin, down, namespace, events=["tag.create", "tag.move"])
        down.stop()
        pushed = {
            repo: [push_image(registry, f"{namespace}/{repo}", "latest").digest for _ in range(3)] for repo in "ab"
        }
        # Refused attempts are logged and retried; nothing is lost while the receiver is down.
        failing = down.wait_for(
            lambda: [d for d in deliveries(admin, subscription) if d["last_attempt"] and d["last_attempt"]["error"]]
        )
        assert failing[0]["state"] == "pending"
        down.start()  # within the retries (0.2 s, 0.4 s, 0.8 s, 1.6 s, 2 s…): every event is still pending
        down.wait_for(lambda: len({item.event_id for item in down.at(path)}) >= 6)
        for repo, digests in pushed.items():
            seen: list[str] = []
            for item in down.at(path):
                event = item.event
                if event["repository"] == f"{namespace}/{repo}" and (not seen or seen[-1] != event["digest"]):
                    seen.append(event["digest"])
            assert seen == digests, f"{repo}: {seen} != {digests}"
        assert all(item.signed for item in down.at(path))
        assert deliveries(admin, subscription, state="failed") == []


def test_a_slow_receiver_does_not_slow_pushes(admin: httpx.Client, registry: httpx.Client) -> None:
    namespace = unique("whslow")
    with WebhookReceiver() as slow:
        slow.delay = 60.0  # it hangs until the test ends
        subscription, path = subscribe(admin, slow, namespace, events=["manifest.push"])
        push_image(registry, f"{namespace}/warm", "x")
        slow.wait_for(lambda: slow.arrived)  # a delivery is in flight, held by the receiver
        started = time.monotonic()
        for number in range(3):
            push_image(registry, f"{namespace}/app{number}", "v1")
        elapsed = time.monotonic() - started
        assert elapsed < 20.0, f"pushes took {elapsed:.1f} s"
        assert slow.received == [], "a push waited for the receiver's answer"
        # Other repositories' deliveries do not queue behind the hung one (4 requests at once).
        slow.wait_for(lambda: len(slow.arrived) >= 4)


def test_failed_attempts_are_retried_with_back_off_and_logged(admin: httpx.Client, registry: httpx.Client) -> None:
    namespace = unique("whretry")
    with WebhookReceiver() as refusing:
        refusing.status = 500
        subscription, path = subscribe(admin, refusing, f"{namespace}/app", kind="repository", events=["manifest.push"])
        push_image(registry, f"{namespace}/app", "v1")
        (retrying,) = refusing.wait_for(lambda: [d for d in deliveries(admin, subscription) if d["attempts"] >= 2])
        assert retrying["state"] == "pending" and retrying["last_attempt"]["error"] == "HTTP 500"
        refusing.status = 200
        refusing.wait_for(lambda: deliveries(admin, subscription, state="delivered"))
        log = admin.get(f"/webhooks/{subscription['id']}/deliveries/{retrying['id']}").json()["attempt_log"]
        assert [attempt["status_code"] for attempt in log][-1] == 200 and log[0]["error"] == "HTTP 500"
        times = [datetime.fromisoformat(attempt["attempted_at"]) for attempt in log]
        assert (times[1] - times[0]).total_seconds() >= 0.2  # the first back-off
        assert len({item.event_id for item in refusing.at(path)}) == 1 and all(i.signed for i in refusing.at(path))


def test_a_failed_delivery_can_be_redelivered_with_the_same_event_id(
    admin: httpx.Client, receiver: WebhookReceiver
) -> None:
    subscription, path = subscribe(admin, receiver, unique("whredo"))
    receiver.status = 503
    try:
        failed = admin.post(f"/webhooks/{subscription['id']}/ping").json()  # a ping is not retried
    finally:
        receiver.status = 200
    assert failed["state"] == "failed" and failed["attempts"] == 1
    assert (
        admin.get(f"/webhooks/{subscription['id']}/deliveries", params={"state": "failed"}).json()[0]["id"]
        == failed["id"]
    )
    response = admin.post(f"/webhooks/{subscription['id']}/deliveries/{failed['id']}/redeliver")
    assert response.status_code == 202, response.text
    redelivery = response.json()
    assert redelivery["redelivery_of"] == failed["id"] and redelivery["event_id"] == failed["event_id"]
    receiver.wait_for(lambda: deliveries(admin, subscription, state="delivered"))
    assert [item.event_id for item in receiver.at(path)] == [failed["event_id"]] * 2
    unknown = admin.post(f"/webhooks/{subscription['id']}/deliveries/999999999/redeliver")
    assert unknown.status_code == 404


def test_a_ping_is_sent_at_once_and_answers_with_its_attempt(admin: httpx.Client, receiver: WebhookReceiver) -> None:
    subscription, path = subscribe(admin, receiver, unique("whping"), enabled=False)
    delivery = admin.post(f"/webhooks/{subscription['id']}/ping").json()
    assert delivery["state"] == "delivered" and delivery["event_type"] == "ping"
    assert delivery["attempt_log"][0]["status_code"] == 200
    (item,) = receiver.at(path)
    assert item.signed and item.event["type"] == "ping"
    receiver.status = 503
    try:
        failed = admin.post(f"/webhooks/{subscription['id']}/ping").json()
    finally:
        receiver.status = 200
    assert failed["state"] == "failed" and failed["last_attempt"]["status_code"] == 503


def test_deletes_and_tag_moves_are_events_and_refused_pushes_are_not(
    admin: httpx.Client, registry: httpx.Client, receiver: WebhookReceiver
) -> None:
    namespace = unique("whdel")
    repo = f"{namespace}/app"
    subscription, path = subscribe(admin, receiver, namespace)
    first = push_image(registry, repo, "v1")
    second = push_image(registry, repo, "v1")
    assert admin.put(f"/namespaces/{namespace}/tag-rules", json={"refused": ["latest"]}).status_code == 200
    refused = put_manifest(registry, repo, "latest", first.body, first.media_type)
    assert refused.status_code == 403
    assert registry.delete(f"/v2/{repo}/manifests/{first.digest}").status_code == 202
    assert registry.delete(f"/v2/{repo}/manifests/{second.digest}").status_code == 202
    wanted = [
        "tag.create",
        "manifest.push",
        "tag.move",
        "manifest.push",
        "manifest.delete",
        "tag.delete",
        "manifest.delete",
    ]
    got = receiver.wait_for(lambda: len(receiver.at(path)) >= len(wanted) and receiver.at(path))
    assert sorted(item.event["type"] for item in got) == sorted(wanted)
    move = next(item.event for item in got if item.event["type"] == "tag.move")
    assert (move["previous_digest"], move["digest"]) == (first.digest, second.digest)
    assert not any(item.event.get("tag") == "latest" for item in got)


def test_disabled_subscriptions_queue_nothing_and_rotation_changes_the_signature(
    admin: httpx.Client, registry: httpx.Client, receiver: WebhookReceiver
) -> None:
    namespace = unique("whoff")
    subscription, path = subscribe(admin, receiver, namespace, enabled=False)
    push_image(registry, f"{namespace}/app", "v1")
    assert deliveries(admin, subscription) == []
    old = receiver.secrets[path]
    rotated = admin.post(f"/webhooks/{subscription['id']}/rotate-secret").json()
    assert rotated["secret"] != old and rotated["secret"].startswith("whsec_")
    enabled = admin.patch(f"/webhooks/{subscription['id']}", json={"enabled": True}).json()
    assert enabled["enabled"] is True and "secret" not in enabled
    push_image(registry, f"{namespace}/app", "v2")
    got = receiver.wait_for(lambda: receiver.at(path))
    assert not got[0].signed  # still the old secret here: the registry signs with the new one
    receiver.secrets[path] = rotated["secret"]
    assert admin.post(f"/webhooks/{subscription['id']}/ping").json()["state"] == "delivered"
    assert receiver.at(path)[-1].signed


def test_secrets_are_never_shown_again_nor_logged(
    admin: httpx.Client, receiver: WebhookReceiver, server: RunningRegistry
) -> None:
    subscription, path = subscribe(admin, receiver, unique("whsecret"))
    secret = receiver.secrets[path]
    shown = [
        admin.get(f"/webhooks/{subscription['id']}").text,
        admin.get("/webhooks").text,
        admin.patch(f"/webhooks/{subscription['id']}", json={"description": "ci"}).text,
        admin.get("/audit", params={"limit": 500}).text,
        admin.get("/openapi.json").text,
    ]
    assert all(secret not in text for text in shown)
    assert secret not in server.log()


def test_metrics_show_the_queue_depth_and_failures(admin: httpx.Client, server: RunningRegistry) -> None:
    with WebhookReceiver() as refusing:
        refusing.status = 500
        subscription, _ = subscribe(admin, refusing, unique("whmetrics"))
        admin.post(f"/webhooks/{subscription['id']}/ping")
    text = httpx.get(f"{server.url}/metrics").text
    assert "moorage_webhook_queue_depth " in text
    failures = next(line for line in text.splitlines() if line.startswith("moorage_webhook_delivery_failures_total"))
    assert float(failures.split()[-1]) >= 1


def test_a_user_manages_webhooks_of_their_own_namespace(server: RunningRegistry, receiver: WebhookReceiver) -> None:
    user = create_user(server)
    with api(server, user) as client:
        subscription, path = subscribe(client, receiver, user[0])
        assert [item["id"] for item in client.get("/webhooks").json()] == [subscription["id"]]
    with client_for(server, user) as registry:
        push_image(registry, f"{user[0]}/app", "v1")
    got = receiver.wait_for(lambda: len(receiver.at(path)) >= 2 and receiver.at(path))
    assert {item.event["actor"]["name"] for item in got} == {user[0]}


def test_a_lifecycle_expiry_is_an_event_that_says_so(
    admin: httpx.Client, registry: httpx.Client, receiver: WebhookReceiver
) -> None:
    namespace = unique("whexp")
    repo = f"{namespace}/app"
    subscription, path = subscribe(admin, receiver, namespace, events=["lifecycle.expire", "tag.delete"])
    old = push_image(registry, repo, "v1")
    push_image(registry, repo, "v2")
    selection = {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1}
    policy = {"rules": [{"rulePriority": 1, "selection": selection, "action": {"type": "expire"}}]}
    assert admin.put(f"/repositories/{repo}/lifecycle-policy", json=policy).status_code == 200
    assert admin.post(f"/repositories/{repo}/lifecycle-apply").status_code == 200
    got = receiver.wait_for(lambda: len(receiver.at(path)) >= 2 and receiver.at(path))
    by_type = {item.event["type"]: item.event for item in got}
    expiry = by_type["lifecycle.expire"]
    assert expiry["digest"] == old.digest and expiry["actor"] == {"kind": "system", "name": "lifecycle"}
    assert expiry["reason"].startswith("lifecycle expiry")
    assert by_type["tag.delete"]["tag"] == "v1" and by_type["tag.delete"]["reason"].startswith("lifecycle expiry")


def test_https_receivers_are_trusted_through_the_internal_ca_and_no_other(
    admin: httpx.Client, internal_ca: tuple[PrivateCA, Path], tmp_path: Path
) -> None:
    ca, _ = internal_ca
    ca.issue(2, tmp_path / "internal.pem", tmp_path / "internal.key")
    stranger = PrivateCA.create()  # a CA nobody configured: a man in the middle, say
    stranger.issue(3, tmp_path / "stranger.pem", tmp_path / "stranger.key")
    with (
        WebhookReceiver(tls=(tmp_path / "internal.pem", tmp_path / "internal.key")) as internal,
        WebhookReceiver(tls=(tmp_path / "stranger.pem", tmp_path / "stranger.key")) as impostor,
    ):
        trusted, path = subscribe(admin, internal, unique("whtls"), enabled=False)
        delivery = admin.post(f"/webhooks/{trusted['id']}/ping").json()
        assert delivery["state"] == "delivered", delivery
        (item,) = internal.at(path)
        assert item.signed
        untrusted, impostor_path = subscribe(admin, impostor, unique("whtls"), enabled=False)
        refused = admin.post(f"/webhooks/{untrusted['id']}/ping").json()
        assert refused["state"] == "failed", refused
        assert "certificate" in json.dumps(refused["last_attempt"]).lower()
        assert impostor.at(impostor_path) == [], "nothing was sent to a receiver whose certificate failed"
