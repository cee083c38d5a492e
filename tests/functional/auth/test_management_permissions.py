"""With authentication on, governance, lifecycle and GC endpoints answer only callers with the right role."""

from __future__ import annotations

import httpx
import pytest

from tests.functional.helpers import push_image
from tests.support.auth import ADMIN, ADMIN_PASSWORD, api, client_for, create_user, grant, unique_name
from tests.support.server import RunningRegistry

POLICY = {
    "rules": [
        {
            "rulePriority": 1,
            "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 5},
            "action": {"type": "expire"},
        }
    ]
}


@pytest.fixture
def repository(secured: RunningRegistry) -> str:
    """A repository with one image, pushed by the admin."""
    name = f"{unique_name('perm')}/app"
    with client_for(secured, (ADMIN, ADMIN_PASSWORD)) as registry:
        push_image(registry, name, tag="1")
    return name


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/repositories"),
        ("GET", "/repositories/{repo}"),
        ("GET", "/repositories/{repo}/-/images"),
        ("GET", "/repositories/{repo}/-/tags/1/history"),
        ("GET", "/repositories/{repo}/-/usage"),
        ("GET", "/repositories/{repo}/lifecycle-policy"),
        ("POST", "/repositories/{repo}/lifecycle-preview"),
        ("GET", "/creation-templates"),
        ("GET", "/lifecycle/runs"),
        ("POST", "/gc?dry_run=true"),
        ("GET", "/gc/runs"),
    ],
)
def test_anonymous_callers_get_401(secured: RunningRegistry, repository: str, method: str, path: str) -> None:
    with httpx.Client(base_url=f"{secured.url}/api/v1", timeout=30) as anonymous:
        response = anonymous.request(method, path.format(repo=repository))
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_user_without_a_role_cannot_read_a_private_repository(secured: RunningRegistry, repository: str) -> None:
    stranger = create_user(secured)
    with api(secured, stranger) as client:
        for path in ("", "/-/images", "/-/usage", "/-/tags/1/history", "/lifecycle-policy"):
            assert client.get(f"/repositories/{repository}{path}").status_code == 403, path
        assert client.post(f"/repositories/{repository}/lifecycle-preview").status_code == 403
        listed = client.get("/repositories", params={"prefix": repository.split("/")[0]}).json()
        assert listed["repositories"] == []


def test_a_reader_reads_but_only_an_admin_sets_the_lifecycle_policy(secured: RunningRegistry, repository: str) -> None:
    reader = create_user(secured)
    grant(secured, "user", reader[0], repository, "read")
    with api(secured, reader) as client:
        assert client.get(f"/repositories/{repository}").status_code == 200
        listed = client.get("/repositories", params={"prefix": repository.split("/")[0]}).json()
        assert [r["name"] for r in listed["repositories"]] == [repository]
        assert client.post(f"/repositories/{repository}/lifecycle-preview", json=POLICY).status_code == 200
        assert client.put(f"/repositories/{repository}/lifecycle-policy", json=POLICY).status_code == 403
        assert client.patch(f"/repositories/{repository}", json={"description": "mine"}).status_code == 403
        assert client.post("/gc?dry_run=true").status_code == 403
        assert client.post("/lifecycle/runs").status_code == 403
    with api(secured) as admin:
        assert admin.put(f"/repositories/{repository}/lifecycle-policy", json=POLICY).status_code == 200
        assert admin.post("/gc?dry_run=true").status_code == 200


def test_login_failures_and_permission_changes_are_in_the_audit_log(secured: RunningRegistry) -> None:
    """Governance's audit trail covers the access model too: who failed to log in, who granted what."""
    user = create_user(secured)
    wrong = httpx.get(f"{secured.url}/token", params={"service": "moorage"}, auth=(user[0], "not-the-password"))
    assert wrong.status_code == 401
    pattern = f"{unique_name('audited')}/*"
    grant(secured, "user", user[0], pattern, "write")
    with api(secured) as admin:
        failures = admin.get("/audit", params={"action": "auth.login", "actor": user[0]}).json()["entries"]
        grants = admin.get("/audit", params={"action": "permission.grant"}).json()["entries"]
    assert [(e["outcome"], e["source_address"], e["detail"]["reason"]) for e in failures] == [
        ("failure", "127.0.0.1", "invalid credentials")
    ]
    granted = [e for e in grants if e["target"] == pattern]
    assert len(granted) == 1 and granted[0]["actor"]["name"] == ADMIN
    assert granted[0]["detail"]["subject"] == user[0] and granted[0]["detail"]["role"] == "write"
    assert "not-the-password" not in secured.log()
