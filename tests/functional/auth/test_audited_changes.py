"""Every permission and settings change is in the audit log: who, what, before and after, when, from where.

One test per family of change; each reads the entries back through /api/v1/audit as an auditor would.
"""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.auth import ADMIN, api, create_user, unique_name
from tests.support.oidc_issuer import OidcIssuer, issuer_body, push_rule
from tests.support.server import RunningRegistry

POLICY = {
    "rules": [
        {
            "rulePriority": 1,
            "selection": {"tagStatus": "untagged", "countType": "imageCountMoreThan", "countNumber": 5},
            "action": {"type": "expire"},
        }
    ]
}


def _entries(server: RunningRegistry, action: str, target: str | None = None) -> list[dict[str, Any]]:
    with api(server) as admin:
        response = admin.get("/audit", params={"action": action, "limit": 1000})
        assert response.status_code == 200, response.text
    entries = response.json()["entries"]
    return [e for e in entries if target is None or e["target"] == target]


def _by_admin(entry: dict[str, Any]) -> bool:
    return entry["actor"]["name"] == ADMIN and entry["source_address"] == "127.0.0.1" and entry["at"].endswith("Z")


def test_making_a_user_admin_disabling_and_a_password_change_are_audited_without_the_password(
    secured: RunningRegistry,
) -> None:
    name, password = create_user(secured)
    new_password = "new-" + uuid.uuid4().hex
    with api(secured) as admin:
        assert admin.patch(f"/users/{name}", json={"admin": True}).status_code == 200
        assert admin.patch(f"/users/{name}", json={"disabled": True}).status_code == 200
        assert admin.patch(f"/users/{name}", json={"password": new_password}).status_code == 200
    created = _entries(secured, "user.create", name)
    changes = _entries(secured, "user.update", name)
    assert len(created) == 1 and created[0]["detail"]["after"] == {"admin": False, "disabled": False}
    assert [(c["detail"]["before"], c["detail"]["after"]) for c in changes[:2]] == [
        ({"admin": False, "disabled": False}, {"admin": True, "disabled": False}),
        ({"admin": True, "disabled": False}, {"admin": True, "disabled": True}),
    ]
    assert changes[2]["detail"]["password_changed"] is True and all(_by_admin(c) for c in changes)
    with api(secured) as admin:
        exported = admin.get("/audit/export").text
    assert password not in exported and new_password not in exported


def test_team_membership_changes_are_audited(secured: RunningRegistry) -> None:
    org = unique_name("org")
    member, _ = create_user(secured)
    with api(secured) as admin:
        assert admin.post("/orgs", json={"name": org}).status_code == 201
        assert admin.post(f"/orgs/{org}/teams", json={"name": "devs"}).status_code == 201
        assert admin.put(f"/orgs/{org}/teams/devs/members/{member}").status_code == 204
        assert admin.delete(f"/orgs/{org}/teams/devs/members/{member}").status_code == 204
        assert admin.delete(f"/orgs/{org}/teams/devs").status_code == 204
    target = f"{org}/devs"
    assert [e["action"] for e in _entries(secured, "team.", target)] == [
        "team.create",
        "team.add-member",
        "team.remove-member",
        "team.delete",
    ]
    added = _entries(secured, "team.add-member", target)[0]
    assert added["detail"] == {"user": member, "before": {"members": []}, "after": {"members": [member]}}
    assert _by_admin(added)


def test_creating_rotating_and_deleting_a_robot_are_audited_without_its_secret(secured: RunningRegistry) -> None:
    org = unique_name("bots")
    with api(secured) as admin:
        assert admin.post("/orgs", json={"name": org}).status_code == 201
        created = admin.post(
            f"/namespaces/{org}/robots", json={"name": "ci", "scopes": ["push"], "repositories": ["*"]}
        )
        assert created.status_code == 201, created.text
        rotated = admin.post(f"/namespaces/{org}/robots/ci/secret")
        assert rotated.status_code == 200
        assert admin.delete(f"/namespaces/{org}/robots/ci").status_code == 204
        exported = admin.get("/audit/export").text
    entries = [e for e in _entries(secured, "robot.", f"{org}/*") if e["detail"].get("robot") == f"{org}+ci"]
    assert [e["action"] for e in entries] == ["robot.create", "robot.rotate-secret", "robot.delete"]
    assert entries[0]["detail"]["after"]["grants"] and all(_by_admin(e) for e in entries)
    assert created.json()["secret"] not in exported and rotated.json()["secret"] not in exported


def test_creating_and_revoking_an_access_token_are_audited_without_the_token(secured: RunningRegistry) -> None:
    name, password = create_user(secured)
    with api(secured, (name, password)) as user:
        created = user.post(f"/users/{name}/tokens", json={"name": "laptop", "scopes": ["pull"]})
        assert created.status_code == 201, created.text
        token_id = created.json()["id"]
        assert user.delete(f"/users/{name}/tokens/{token_id}").status_code == 204
    with api(secured) as admin:
        exported = admin.get("/audit/export").text
    entries = _entries(secured, "access_token.", name)
    assert [e["action"] for e in entries] == ["access_token.create", "access_token.revoke"]
    assert all(e["detail"]["token_id"] == token_id and e["actor"]["name"] == name for e in entries)
    assert entries[0]["detail"]["after"]["name"] == "laptop" and created.json()["token"] not in exported


def test_trusting_an_issuer_and_changing_its_rules_are_audited(secured: RunningRegistry) -> None:
    name = f"ci-{uuid.uuid4().hex[:10]}"
    issuer = OidcIssuer(url=f"http://127.0.0.1:9/{uuid.uuid4().hex[:8]}")
    with api(secured) as admin:
        assert admin.post("/oidc/issuers", json=issuer_body(issuer, name)).status_code == 201
        assert admin.patch(f"/oidc/issuers/{name}", json={"audience": "elsewhere"}).status_code == 200
        assert admin.post(f"/oidc/issuers/{name}/rules", json=push_rule("acme/api", name="api")).status_code == 201
        assert admin.delete(f"/oidc/issuers/{name}/rules/api").status_code == 204
        assert admin.delete(f"/oidc/issuers/{name}").status_code == 204
    entries = _entries(secured, "issuer.", name)
    assert [e["action"] for e in entries] == [
        "issuer.trust",
        "issuer.update",
        "issuer.add-rule",
        "issuer.remove-rule",
        "issuer.distrust",
    ]
    update = entries[1]["detail"]
    assert update["before"]["audience"] != "elsewhere" and update["after"]["audience"] == "elsewhere"
    assert entries[3]["detail"]["before"]["rules"][0]["name"] == "api" and entries[3]["detail"]["after"]["rules"] == []
    assert all(_by_admin(e) for e in entries)


def test_putting_and_deleting_a_lifecycle_policy_are_audited_with_before_and_after(secured: RunningRegistry) -> None:
    namespace = unique_name("lc")
    with api(secured) as admin:
        assert admin.put(f"/namespaces/{namespace}/lifecycle-policy", json=POLICY).status_code == 200
        assert admin.delete(f"/namespaces/{namespace}/lifecycle-policy").status_code == 204
    entries = _entries(secured, "lifecycle_policy.", f"{namespace}/*")
    assert [(e["action"], e["detail"].get("before"), e["detail"].get("after")) for e in entries] == [
        ("lifecycle_policy.put", None, POLICY),
        ("lifecycle_policy.delete", POLICY, None),
    ]
    assert all(_by_admin(e) and e["detail"]["scope"] == "namespace" for e in entries)


def test_a_grant_change_records_the_role_before_and_after(secured: RunningRegistry) -> None:
    user, _ = create_user(secured)
    pattern = f"{unique_name('g')}/*"
    body = {"subject_kind": "user", "subject": user, "repository_pattern": pattern}
    with api(secured) as admin:
        assert admin.put("/grants", json={**body, "role": "read"}).status_code == 200
        assert admin.put("/grants", json={**body, "role": "write"}).status_code == 200
        params = {"subject_kind": "user", "subject": user, "repository_pattern": pattern}
        assert admin.delete("/grants", params=params).status_code == 204
    entries = _entries(secured, "permission.", pattern)
    assert [(e["detail"].get("before"), e["detail"].get("after")) for e in entries] == [
        (None, {"role": "read"}),
        ({"role": "read"}, {"role": "write"}),
        ({"role": "write"}, None),
    ]


def test_replacing_and_deleting_a_creation_template_record_what_it_was(secured: RunningRegistry) -> None:
    prefix = unique_name("tpl")
    with api(secured) as admin:
        assert admin.put(f"/creation-templates/{prefix}", json={"description": "one"}).status_code == 200
        assert admin.put(f"/creation-templates/{prefix}", json={"description": "two"}).status_code == 200
        assert admin.delete(f"/creation-templates/{prefix}").status_code == 204
    entries = [e for e in _entries(secured, "template.", prefix)]
    assert [e["action"] for e in entries] == ["template.update", "template.update", "template.delete"]
    assert "before" not in entries[0]["detail"]
    assert entries[1]["detail"]["before"]["settings"]["description"] == "one"
    assert entries[2]["detail"]["before"]["settings"]["description"] == "two"


def test_a_policy_on_a_namespace_of_the_longest_name_is_audited(secured: RunningRegistry) -> None:
    namespace = unique_name("n").ljust(255, "0")
    with api(secured) as admin:
        response = admin.put(f"/namespaces/{namespace}/lifecycle-policy", json=POLICY)
        assert response.status_code == 200, response.text
    assert [e["action"] for e in _entries(secured, "lifecycle_policy.", f"{namespace}/*")] == ["lifecycle_policy.put"]
