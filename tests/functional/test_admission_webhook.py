"""The admission webhook over HTTP: recorded AdmissionReview bodies against a registry with auth on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from moorage.scanning.model import Severity
from tests.functional.governance_helpers import assert_problem
from tests.functional.helpers import push_image
from tests.support.auth import ADMIN, ADMIN_PASSWORD, api, client_for, create_user, grant
from tests.support.scan_gate import record_scan, vulnerability
from tests.support.server import RunningRegistry, start_server

DATA = Path(__file__).resolve().parents[1] / "data" / "admission"
WEBHOOK = "/api/v1/admission/scan-gate"
SETTINGS = {
    "auth_enabled": "true",
    "admin_username": ADMIN,
    "admin_password": ADMIN_PASSWORD,
    "login_failures_per_address": "100000",
    "scan_gate_registry_hosts": '["registry.example.com"]',
}


class Cluster:
    """What the API server holds: the registry, and the webhook's access token (a reader of `admission/*`)."""

    def __init__(self, server: RunningRegistry, token: str, clean: str) -> None:
        self.server = server
        self.token = token
        self.clean = clean

    def review(self, name: str, token: str | None = "own") -> httpx.Response:
        body = (DATA / name).read_text().replace("DIGEST_OF_CLEAN", self.clean)
        headers = {"content-type": "application/json"}
        if token is not None:
            headers["authorization"] = f"Bearer {self.token if token == 'own' else token}"
        return httpx.post(f"{self.server.url}{WEBHOOK}", content=body, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with start_server(tmp_path_factory.mktemp("admission"), **SETTINGS) as server:
        with client_for(server, (ADMIN, ADMIN_PASSWORD)) as registry:
            clean = push_image(registry, "admission/clean", "1.0").digest
            vulnerable = push_image(registry, "admission/vulnerable", "1.0").digest
        record_scan(server, clean, findings=[vulnerability("CVE-2024-0100", Severity.LOW)])
        found = [vulnerability("CVE-2024-3094", Severity.CRITICAL), vulnerability("CVE-2024-0200", Severity.HIGH)]
        record_scan(server, vulnerable, findings=found)
        with api(server) as admin:
            assert admin.put("/namespaces/admission/scan-gate", json={"max_severity": "HIGH"}).status_code == 200
        webhook = create_user(server, "k8s-admission")
        grant(server, "user", webhook[0], "admission/*", "read")
        with api(server, webhook) as client:
            created = client.post("/users/k8s-admission/tokens", json={"name": "apiserver", "scopes": ["pull"]})
            assert created.status_code == 201, created.text
        yield Cluster(server, created.json()["token"], clean)


def answer(response: httpx.Response, uid_of: str) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    review = response.json()
    assert (review["apiVersion"], review["kind"]) == ("admission.k8s.io/v1", "AdmissionReview")
    uid = json.loads((DATA / uid_of).read_text())["request"]["uid"]
    assert review["response"]["uid"] == uid
    return review["response"]  # type: ignore[no-any-return]


def test_a_pod_of_clean_images_and_a_foreign_one_is_allowed(cluster: Cluster) -> None:
    response = answer(cluster.review("pod-allowed.json"), "pod-allowed.json")
    assert response["allowed"] is True and response["status"]["code"] == 200


def test_a_pod_with_a_vulnerable_image_is_denied_naming_the_image_policy_and_findings(cluster: Cluster) -> None:
    response = answer(cluster.review("pod-denied.json"), "pod-denied.json")
    assert response["allowed"] is False and response["status"]["code"] == 403
    message = response["status"]["message"]
    assert "image registry.example.com/admission/vulnerable:1.0 (containers[api])" in message
    assert "refused by the scan gate (namespace policy of admission)" in message
    assert "(CRITICAL 1, HIGH 1): CVE-2024-3094, CVE-2024-0200" in message
    assert "(ephemeralContainers[debugger])" in message and "clean" not in message


@pytest.mark.parametrize("name", ["deployment.json", "cronjob.json"])
def test_a_workload_template_with_a_vulnerable_image_is_denied(cluster: Cluster, name: str) -> None:
    response = answer(cluster.review(name), name)
    assert response["allowed"] is False and "admission/vulnerable:1.0" in response["status"]["message"]


def test_foreign_images_are_allowed_by_default_even_one_on_another_port_of_localhost(cluster: Cluster) -> None:
    assert answer(cluster.review("foreign.json"), "foreign.json")["allowed"] is True


def test_an_image_that_does_not_resolve_is_denied_with_the_reason(cluster: Cluster) -> None:
    response = answer(cluster.review("unknown-tag.json"), "unknown-tag.json")
    assert response["allowed"] is False
    assert "cannot be resolved: 2.0-never-pushed is not in admission/clean" in response["status"]["message"]


def test_a_malformed_review_gets_a_clear_400_problem(cluster: Cluster) -> None:
    problem = assert_problem(cluster.review("malformed.json"), 400)
    assert problem["title"] == "Invalid AdmissionReview" and "admission.k8s.io/v1" in problem["detail"]
    headers = {"authorization": f"Bearer {cluster.token}", "content-type": "application/json"}
    not_json = httpx.post(f"{cluster.server.url}{WEBHOOK}", content=b"{", headers=headers)
    assert_problem(not_json, 400)


def test_the_webhook_needs_a_credential_and_judges_only_what_it_may_pull(cluster: Cluster) -> None:
    assert_problem(cluster.review("pod-denied.json", token=None), 401)
    assert_problem(cluster.review("pod-denied.json", token="moorage_pat_forged"), 401)
    stranger = create_user(cluster.server)
    with api(cluster.server, stranger) as client:
        token = client.post(f"/users/{stranger[0]}/tokens", json={"name": "x", "scopes": ["pull"]}).json()["token"]
    response = answer(cluster.review("pod-allowed.json", token=token), "pod-allowed.json")
    assert response["allowed"] is False
    assert "the webhook's credential may not pull admission/clean" in response["status"]["message"]
