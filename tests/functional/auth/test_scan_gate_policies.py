"""Managing scan gate policies: who may set them, how they are checked, audited and shown in force."""

from __future__ import annotations

import httpx
import pytest

from moorage.scanning.model import Severity
from tests.functional.governance_helpers import assert_problem
from tests.functional.helpers import push_image
from tests.support.auth import ADMIN, ADMIN_PASSWORD, api, client_for, create_user, grant, unique_name
from tests.support.scan_gate import record_scan, vulnerability
from tests.support.server import RunningRegistry

POLICY = {"max_severity": "HIGH", "require_scan": True, "allowlist": [{"id": "CVE-2024-1", "expires": "2030-01-01"}]}


def test_a_namespace_policy_is_in_force_for_its_repositories_until_one_sets_its_own(secured: RunningRegistry) -> None:
    namespace = unique_name("gp")
    with api(secured) as admin:
        put = admin.put(f"/namespaces/{namespace}/scan-gate", json=POLICY)
        assert put.status_code == 200, put.text
        assert put.json()["policy"]["allowlist"] == [{"id": "CVE-2024-1", "expires": "2030-01-01", "reason": ""}]
        in_force = admin.get(f"/repositories/{namespace}/team/app/-/scan-gate").json()
        assert (in_force["source"], in_force["name"]) == ("namespace", namespace)
        own = {"max_severity": "critical"}
        assert admin.put(f"/repositories/{namespace}/team/app/-/scan-gate", json=own).status_code == 200
        in_force = admin.get(f"/repositories/{namespace}/team/app/-/scan-gate").json()
        assert (in_force["source"], in_force["policy"]["max_severity"]) == ("repository", "CRITICAL")
        assert admin.delete(f"/repositories/{namespace}/team/app/-/scan-gate").status_code == 204
        assert admin.get(f"/repositories/{namespace}/team/app/-/scan-gate").json()["source"] == "namespace"
        assert admin.delete(f"/namespaces/{namespace}/scan-gate").status_code == 204
        assert_problem(admin.get(f"/repositories/{namespace}/team/app/-/scan-gate"), 404)
        assert_problem(admin.delete(f"/namespaces/{namespace}/scan-gate"), 404)
        assert_problem(admin.get(f"/namespaces/{namespace}/scan-gate"), 404)


def test_changes_are_audited_with_what_they_replaced(secured: RunningRegistry) -> None:
    namespace = unique_name("gp")
    repository = f"{namespace}/app"
    with api(secured) as admin:
        admin.put(f"/repositories/{repository}/-/scan-gate", json={"max_severity": "HIGH"})
        admin.put(f"/repositories/{repository}/-/scan-gate", json={"max_severity": "LOW"})
        admin.delete(f"/repositories/{repository}/-/scan-gate")
        entries = admin.get("/audit", params={"repository": repository, "limit": 100}).json()["entries"]
    changes = [(e["action"], e["detail"].get("before"), e["detail"].get("after")) for e in entries]
    high = {"max_severity": "HIGH", "require_scan": False, "allowlist": []}
    low = {**high, "max_severity": "LOW"}
    assert changes == [
        ("scan_gate.update", None, high),
        ("scan_gate.update", high, low),
        ("scan_gate.delete", low, None),
    ]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"max_severity": "SEVERE"}, "max_severity must be one of"),
        ({}, "needs max_severity, require_scan, or both"),
        ({"max_severity": "HIGH", "allowlist": [{"id": "CVE-1", "expires": "soon"}]}, "allowlist[0].expires"),
        ({"max_severity": "HIGH", "allowlist": ["CVE 1; DROP TABLE"]}, "allowlist[0].id"),
        ({"max_severity": "HIGH", "block_all": True}, "not ['block_all']"),
    ],
)
def test_an_invalid_policy_is_refused_with_a_problem_naming_the_field(
    secured: RunningRegistry, body: dict[str, object], detail: str
) -> None:
    namespace = unique_name("gp")
    with api(secured) as admin:
        problem = assert_problem(admin.put(f"/namespaces/{namespace}/scan-gate", json=body), 422)
        assert detail in problem["detail"]
        broken = admin.put(
            f"/namespaces/{namespace}/scan-gate", content=b"[1,", headers={"content-type": "application/json"}
        )
        assert_problem(broken, 422)
        assert_problem(admin.put("/namespaces/Bad..Name/scan-gate", json={"max_severity": "HIGH"}), 422)


@pytest.mark.parametrize("role", [None, "read", "write"])
def test_only_admins_of_the_namespace_or_repository_set_or_remove_a_policy(
    secured: RunningRegistry, role: str | None
) -> None:
    namespace = unique_name("gp")
    repository = f"{namespace}/app"
    with api(secured) as admin:
        assert admin.put(f"/namespaces/{namespace}/scan-gate", json={"max_severity": "HIGH"}).status_code == 200
    user = create_user(secured)
    if role is not None:
        grant(secured, "user", user[0], f"{namespace}/*", role)
    with api(secured, user) as client:
        for path in (f"/namespaces/{namespace}/scan-gate", f"/repositories/{repository}/-/scan-gate"):
            assert_problem(client.put(path, json={"max_severity": "CRITICAL"}), 403)
            assert_problem(client.delete(path), 403)
        reading = client.get(f"/repositories/{repository}/-/scan-gate")
        if role is None:
            assert_problem(reading, 403)  # outsiders do not learn the policy
        else:
            assert reading.json()["policy"]["max_severity"] == "HIGH"
    with api(secured) as admin:
        assert admin.get(f"/namespaces/{namespace}/scan-gate").json()["policy"]["max_severity"] == "HIGH"


def test_a_pull_only_token_of_a_namespace_owner_cannot_lift_the_gate(secured: RunningRegistry) -> None:
    owner = create_user(secured)
    with api(secured, owner) as client:
        assert client.put(f"/namespaces/{owner[0]}/scan-gate", json={"max_severity": "HIGH"}).status_code == 200
        token = client.post(f"/users/{owner[0]}/tokens", json={"name": "ro", "scopes": ["pull"]}).json()["token"]
    with api(secured, (owner[0], token)) as leaked:
        assert_problem(leaked.delete(f"/namespaces/{owner[0]}/scan-gate"), 403)
        allow_all = {"max_severity": "CRITICAL", "allowlist": ["CVE-2024-1"]}
        assert_problem(leaked.put(f"/repositories/{owner[0]}/app/-/scan-gate", json=allow_all), 403)
        assert leaked.get(f"/repositories/{owner[0]}/app/-/scan-gate").status_code == 200


def test_anonymous_callers_are_asked_to_authenticate(secured: RunningRegistry) -> None:
    namespace = unique_name("gp")
    with httpx.Client(base_url=f"{secured.url}/api/v1") as anonymous:
        assert_problem(anonymous.put(f"/namespaces/{namespace}/scan-gate", json={"max_severity": "HIGH"}), 401)
        assert_problem(anonymous.get(f"/repositories/{namespace}/app/-/scan-gate"), 401)


def test_checking_an_image_judges_it_by_the_policy_in_force_or_the_one_given(secured: RunningRegistry) -> None:
    namespace = unique_name("gp")
    repository = f"{namespace}/app"
    reader = create_user(secured)
    grant(secured, "user", reader[0], f"{namespace}/*", "read")
    with api(secured) as admin:
        admin.put(f"/namespaces/{namespace}/scan-gate", json={"max_severity": "CRITICAL"})
    with client_for(secured, (ADMIN, ADMIN_PASSWORD)) as registry:
        digest = push_image(registry, repository, "1").digest
    record_scan(secured, digest, findings=[vulnerability("CVE-2024-5", Severity.HIGH)])
    with api(secured, reader) as client:
        in_force = client.post(f"/repositories/{repository}/-/scan-gate/check", json={"reference": "1"}).json()
        assert in_force["allowed"] and in_force["digest"] == digest and in_force["policy"]["source"] == "namespace"
        stricter = {"reference": "1", "policy": {"max_severity": "HIGH"}}
        refused = client.post(f"/repositories/{repository}/-/scan-gate/check", json=stricter).json()
        assert not refused["allowed"] and refused["blocking"] == {"HIGH": 1}
        assert refused["blocked_ids"] == ["CVE-2024-5"]
        assert "is refused by the scan gate" in refused["message"]
        unknown = client.post(f"/repositories/{repository}/-/scan-gate/check", json={"reference": "nope"})
        assert_problem(unknown, 404)
        bad = client.post(f"/repositories/{repository}/-/scan-gate/check", json={"reference": "1", "policy": {}})
        assert_problem(bad, 422)
        assert_problem(client.post(f"/repositories/{repository}/-/scan-gate/check", json={"ref": "1"}), 422)
        assert_problem(client.post(f"/repositories/{repository}/-/scan-gate/check", json={"reference": "a b"}), 400)
    outsider = create_user(secured)
    with api(secured, outsider) as client:
        assert_problem(client.post(f"/repositories/{repository}/-/scan-gate/check", json={"reference": "1"}), 403)
