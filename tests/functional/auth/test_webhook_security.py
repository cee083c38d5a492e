"""Webhooks under attack: SSRF targets, strangers, readers and leaked pull-only tokens, secrets at rest.

The shared `secured` registry keeps the default `webhook_allow_private_targets = false`.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from moorage.auth.secret_box import SecretBox
from moorage.auth.secret_key_file import read_key_file
from tests.support.auth import api, create_user, grant, unique_name
from tests.support.server import RunningRegistry

PUBLIC = "https://93.184.215.14/hook"
"""A global address given as a literal: saving it resolves nothing and sends nothing."""


def hook(scope: str, url: str = PUBLIC, kind: str = "namespace", **extra: Any) -> dict[str, Any]:
    return {"scope_kind": kind, "scope": scope, "url": url, **extra}


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://127.0.0.1:5000/hook",
        "http://[::1]/hook",
        "http://localhost/hook",
        "http://2130706433/hook",  # 127.0.0.1 spelled as one number
        "http://10.1.2.3/hook",
        "http://192.168.1.1/hook",
        "http://0.0.0.0/hook",
        "http://[fe80::1]/hook",
        "ftp://93.184.215.14/hook",
        "http://user:secret@93.184.215.14/hook",
        "not a url",
    ],
)
def test_webhooks_to_internal_or_malformed_targets_are_refused(secured: RunningRegistry, url: str) -> None:
    with api(secured) as admin:
        response = admin.post("/webhooks", json=hook(unique_name("ssrf"), url))
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "secret" not in response.json()


def test_a_webhook_cannot_be_moved_to_a_metadata_address_later(secured: RunningRegistry) -> None:
    with api(secured) as admin:
        created = admin.post("/webhooks", json=hook(unique_name("ssrf"))).json()
        response = admin.patch(f"/webhooks/{created['id']}", json={"url": "http://169.254.169.254/"})
        assert response.status_code == 422
        assert admin.get(f"/webhooks/{created['id']}").json()["url"] == PUBLIC


def test_only_admins_of_a_namespace_subscribe_to_it(secured: RunningRegistry) -> None:
    namespace = unique_name("whns")
    outsider, reader, writer, owner = (create_user(secured) for _ in range(4))
    grant(secured, "user", reader[0], f"{namespace}/*", "read")
    grant(secured, "user", writer[0], f"{namespace}/*", "write")
    grant(secured, "user", owner[0], f"{namespace}/*", "admin")
    for user in (outsider, reader, writer):
        with api(secured, user) as client:
            assert client.post("/webhooks", json=hook(namespace)).status_code == 403
            assert client.post("/webhooks", json=hook(f"{namespace}/app", kind="repository")).status_code == 403
            assert client.post("/webhooks", json=hook("*", kind="registry")).status_code == 403
    with api(secured, owner) as client:
        created = client.post("/webhooks", json=hook(namespace))
        assert created.status_code == 201, created.text
        assert client.post("/webhooks", json=hook(f"{namespace}/app", kind="repository")).status_code == 201
        assert client.post("/webhooks", json=hook("*", kind="registry")).status_code == 403
        assert client.post("/webhooks", json=hook(unique_name("other"))).status_code == 403
    subscription = created.json()["id"]
    for user in (outsider, reader, writer):
        with api(secured, user) as client:
            assert client.get("/webhooks").json() == []
            for method, path in [
                ("GET", f"/webhooks/{subscription}"),
                ("PATCH", f"/webhooks/{subscription}"),
                ("DELETE", f"/webhooks/{subscription}"),
                ("POST", f"/webhooks/{subscription}/rotate-secret"),
                ("POST", f"/webhooks/{subscription}/ping"),
                ("GET", f"/webhooks/{subscription}/deliveries"),
            ]:
                response = client.request(method, path, json={} if method == "PATCH" else None)
                assert response.status_code == 404, (method, path, response.text)
    with api(secured) as admin:
        assert admin.get(f"/webhooks/{subscription}").status_code == 200  # registry admins manage every one


def test_a_leaked_pull_only_token_cannot_subscribe_or_read_the_log(secured: RunningRegistry) -> None:
    name, password = create_user(secured)
    with api(secured, (name, password)) as client:
        created = client.post("/webhooks", json=hook(name)).json()
        body = {"name": "ci", "scopes": ["pull"], "repositories": [f"{name}/*"]}
        token = client.post(f"/users/{name}/tokens", json=body).json()["token"]
    with api(secured, (name, token)) as leaked:
        assert leaked.post("/webhooks", json=hook(name)).status_code == 403
        assert leaked.get(f"/webhooks/{created['id']}").status_code == 404
        assert leaked.get(f"/webhooks/{created['id']}/deliveries").status_code == 404
        assert leaked.post(f"/webhooks/{created['id']}/rotate-secret").status_code == 404
        assert leaked.delete(f"/webhooks/{created['id']}").status_code == 404


def test_anonymous_callers_are_asked_to_authenticate(secured: RunningRegistry) -> None:
    with api(secured, ("", "")) as anonymous:
        anonymous.auth = None  # type: ignore[assignment]
        assert anonymous.get("/webhooks").status_code == 401
        assert anonymous.post("/webhooks", json=hook(unique_name("anon"))).status_code == 401


def test_the_signing_secret_is_stored_sealed_and_audited_without_it(secured: RunningRegistry) -> None:
    with api(secured) as admin:
        created = admin.post("/webhooks", json=hook(unique_name("sealed"), PUBLIC + "/T0KEN-in-path")).json()
        audit = admin.get("/audit", params={"action": "webhook.create", "limit": 500}).text
    secret = created["secret"]
    assert f"webhook {created['id']}" in audit and secret not in audit
    assert "https://93.184.215.14" in audit and "T0KEN-in-path" not in audit  # receivers' tokens hide in paths
    url = secured.database_url or f"sqlite:///{secured.data_dir / 'metadata.db'}"  # type: ignore[operator]
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            sealed = connection.execute(
                sa.text("SELECT secret_encrypted FROM webhook_subscriptions WHERE id = :id"), {"id": created["id"]}
            ).scalar_one()
    finally:
        engine.dispose()
    assert secret not in sealed
    assert secured.data_dir is not None
    assert SecretBox(read_key_file(secured.data_dir / "secret.key")).decrypt(sealed).decode() == secret
