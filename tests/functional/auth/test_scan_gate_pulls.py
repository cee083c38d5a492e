"""The pull gate: a manifest GET of an image the scan gate policy refuses gets DENIED, naming the policy."""

from __future__ import annotations

import httpx
import pytest

from moorage.scanning.model import Severity
from tests.functional.governance_helpers import eventually
from tests.functional.helpers import (
    assert_error,
    index_manifest,
    push_artifact,
    push_image,
    push_manifest,
)
from tests.support.auth import ADMIN, ADMIN_PASSWORD, api, client_for, create_user, grant, unique_name
from tests.support.scan_gate import record_index, record_scan, vulnerability
from tests.support.server import RunningRegistry

HIGH = {"max_severity": "HIGH"}


def _team(server: RunningRegistry, policy: dict[str, object] | None = HIGH) -> tuple[str, tuple[str, str]]:
    """A namespace with the policy and a reader of it (who is not an admin)."""
    namespace = unique_name("gate")
    reader = create_user(server)
    grant(server, "user", reader[0], f"{namespace}/*", "read")
    if policy is not None:
        with api(server) as admin:
            response = admin.put(f"/namespaces/{namespace}/scan-gate", json=policy)
            assert response.status_code == 200, response.text
    return namespace, reader


def _push(server: RunningRegistry, repository: str, tag: str = "1") -> str:
    with client_for(server, api_credentials()) as registry:
        return push_image(registry, repository, tag).digest


def api_credentials() -> tuple[str, str]:
    return ADMIN, ADMIN_PASSWORD


def _message(response: httpx.Response) -> str:
    assert_error(response, 403, "DENIED")
    return str(response.json()["errors"][0]["message"])


def test_a_pull_above_the_threshold_is_refused_by_tag_and_by_digest_naming_the_policy_and_counts(
    secured: RunningRegistry,
) -> None:
    namespace, reader = _team(secured)
    repository = f"{namespace}/app"
    digest = _push(secured, repository)
    found = [vulnerability("CVE-2024-0001", Severity.CRITICAL), vulnerability("CVE-2024-0002", Severity.HIGH)]
    record_scan(secured, digest, findings=[*found, vulnerability("CVE-2024-0003", Severity.MEDIUM)])
    with client_for(secured, reader) as registry:
        for reference in ("1", digest):
            message = _message(registry.get(f"/v2/{repository}/manifests/{reference}"))
            assert f"namespace policy of {namespace}" in message
            assert "2 finding(s) at or above HIGH (CRITICAL 1, HIGH 1): CVE-2024-0001, CVE-2024-0002" in message
        detail = registry.get(f"/v2/{repository}/manifests/1").json()["errors"][0]["detail"]
        assert detail["blocking"] == {"CRITICAL": 1, "HIGH": 1}
        assert detail["policy"] == f"namespace policy of {namespace}"
        head = registry.head(f"/v2/{repository}/manifests/1")
        assert head.status_code == 200 and head.headers["docker-content-digest"] == digest


def test_blobs_of_a_refused_image_are_not_gated(secured: RunningRegistry) -> None:
    namespace, reader = _team(secured)
    repository = f"{namespace}/app"
    with client_for(secured, api_credentials()) as registry:
        image = push_image(registry, repository, "1")
    record_scan(secured, image.digest, findings=[vulnerability("CVE-2024-0001", Severity.CRITICAL)])
    with client_for(secured, reader) as registry:
        assert_error(registry.get(f"/v2/{repository}/manifests/1"), 403, "DENIED")
        layer = image.document["layers"][0]["digest"]
        assert registry.get(f"/v2/{repository}/blobs/{layer}").status_code == 200


def test_an_allowlist_entry_lets_the_pull_through_and_an_expired_one_does_not(secured: RunningRegistry) -> None:
    namespace, reader = _team(secured)
    repository = f"{namespace}/app"
    digest = _push(secured, repository)
    record_scan(secured, digest, findings=[vulnerability("DEBIAN-CVE-2024-7", Severity.HIGH, "CVE-2024-7")])
    with client_for(secured, reader) as registry:
        assert_error(registry.get(f"/v2/{repository}/manifests/1"), 403, "DENIED")
    with api(secured) as admin:
        expired = {"max_severity": "HIGH", "allowlist": [{"id": "CVE-2024-7", "expires": "2020-01-01"}]}
        assert admin.put(f"/namespaces/{namespace}/scan-gate", json=expired).status_code == 200
    with client_for(secured, reader) as registry:
        assert "expired allowlist entries: CVE-2024-7" in _message(registry.get(f"/v2/{repository}/manifests/1"))
    with api(secured) as admin:
        allowed = {"max_severity": "HIGH", "allowlist": [{"id": "CVE-2024-7", "reason": "not reachable"}]}
        assert admin.put(f"/namespaces/{namespace}/scan-gate", json=allowed).status_code == 200
    with client_for(secured, reader) as registry:
        assert registry.get(f"/v2/{repository}/manifests/1").status_code == 200


def test_a_repository_policy_replaces_its_namespaces(secured: RunningRegistry) -> None:
    namespace, reader = _team(secured)
    repository = f"{namespace}/app"
    digest = _push(secured, repository)
    record_scan(secured, digest, findings=[vulnerability("CVE-2024-0001", Severity.HIGH)])
    with api(secured) as admin:
        response = admin.put(f"/repositories/{repository}/-/scan-gate", json={"max_severity": "CRITICAL"})
        assert response.status_code == 200, response.text
    with client_for(secured, reader) as registry:
        assert registry.get(f"/v2/{repository}/manifests/1").status_code == 200
    other = f"{namespace}/other"
    other_digest = _push(secured, other)
    record_scan(secured, other_digest, findings=[vulnerability("CVE-2024-0001", Severity.HIGH)])
    with client_for(secured, reader) as registry:
        assert_error(registry.get(f"/v2/{other}/manifests/1"), 403, "DENIED")


def test_require_scan_refuses_unscanned_and_failed_images_and_passes_clean_ones(secured: RunningRegistry) -> None:
    namespace, reader = _team(secured, {"max_severity": "HIGH", "require_scan": True})
    repository = f"{namespace}/app"
    digest = _push(secured, repository)
    with client_for(secured, reader) as registry:
        assert "requires a complete scan; not scanned" in _message(registry.get(f"/v2/{repository}/manifests/1"))
        record_scan(secured, digest, "FAILED", reason="layer is not a tar stream")
        assert "scan FAILED: layer is not a tar stream" in _message(registry.get(f"/v2/{repository}/manifests/1"))
        record_scan(secured, digest, findings=[vulnerability("CVE-2024-0009", Severity.LOW)])
        assert registry.get(f"/v2/{repository}/manifests/1").status_code == 200


def test_an_index_is_refused_when_any_platform_is_and_each_platform_is_judged_alone(secured: RunningRegistry) -> None:
    namespace, reader = _team(secured)
    repository = f"{namespace}/app"
    with client_for(secured, api_credentials()) as registry:
        clean, vulnerable = push_image(registry, repository), push_image(registry, repository)
        index = push_manifest(registry, repository, index_manifest([clean, vulnerable]), "multi")
    record_scan(secured, clean.digest)
    record_scan(secured, vulnerable.digest, findings=[vulnerability("CVE-2024-0001", Severity.CRITICAL)])
    record_index(secured, index.digest, [clean.digest, vulnerable.digest])
    with client_for(secured, reader) as registry:
        assert "CRITICAL 1" in _message(registry.get(f"/v2/{repository}/manifests/multi"))
        assert registry.get(f"/v2/{repository}/manifests/{clean.digest}").status_code == 200
        assert_error(registry.get(f"/v2/{repository}/manifests/{vulnerable.digest}"), 403, "DENIED")


def test_artifacts_such_as_an_sbom_are_not_gated(secured: RunningRegistry) -> None:
    namespace, reader = _team(secured, {"require_scan": True})
    repository = f"{namespace}/app"
    with client_for(secured, api_credentials()) as registry:
        image = push_image(registry, repository, "1")
        sbom = push_artifact(registry, repository, "application/vnd.cyclonedx+json", subject=image)
    with client_for(secured, reader) as registry:
        assert_error(registry.get(f"/v2/{repository}/manifests/1"), 403, "DENIED")
        assert registry.get(f"/v2/{repository}/manifests/{sbom.digest}").status_code == 200


def test_an_admin_pull_passes_and_the_bypass_and_refusals_are_audited_once_per_window(
    secured: RunningRegistry,
) -> None:
    namespace, reader = _team(secured)
    repository = f"{namespace}/app"
    digest = _push(secured, repository)
    record_scan(secured, digest, findings=[vulnerability("CVE-2024-0001", Severity.CRITICAL)])
    with client_for(secured, reader) as registry:
        for _ in range(3):
            assert_error(registry.get(f"/v2/{repository}/manifests/1"), 403, "DENIED")
    with client_for(secured, api_credentials()) as registry:
        assert registry.get(f"/v2/{repository}/manifests/1").status_code == 200

    def entries() -> list[dict[str, object]] | None:
        with api(secured) as admin:
            found = admin.get("/audit", params={"repository": repository, "limit": 1000}).json()["entries"]
        gate = [e for e in found if str(e["action"]).startswith("scan_gate.")]
        return gate if len(gate) >= 2 else None

    gate = eventually(entries)
    refusals = [e for e in gate if e["action"] == "scan_gate.refuse"]
    assert len(refusals) == 1, "the repeats of a window wait for the window to close"
    assert refusals[0]["outcome"] == "denied" and refusals[0]["actor"]["name"] == reader[0]  # type: ignore[index]
    assert refusals[0]["target"] == digest
    assert f"namespace policy of {namespace}" in str(refusals[0]["detail"])
    bypass = [e for e in gate if e["action"] == "scan_gate.bypass"]
    assert len(bypass) == 1 and bypass[0]["outcome"] == "success"


def test_a_leaked_pull_only_token_of_an_admin_does_not_bypass_the_gate(secured: RunningRegistry) -> None:
    owner = create_user(secured)
    repository = f"{owner[0]}/app"
    with api(secured, owner) as client:
        assert client.put(f"/namespaces/{owner[0]}/scan-gate", json=HIGH).status_code == 200
        token = client.post(f"/users/{owner[0]}/tokens", json={"name": "ci", "scopes": ["pull"]}).json()["token"]
    with client_for(secured, owner) as registry:
        digest = push_image(registry, repository, "1").digest
    record_scan(secured, digest, findings=[vulnerability("CVE-2024-0001", Severity.CRITICAL)])
    with client_for(secured, owner) as registry:
        assert registry.get(f"/v2/{repository}/manifests/1").status_code == 200  # the owner administers it
    with client_for(secured, (owner[0], token)) as registry:
        assert_error(registry.get(f"/v2/{repository}/manifests/1"), 403, "DENIED")


@pytest.mark.parametrize("reference", ["1", "nope"])
def test_without_a_policy_every_pull_is_served_as_before(secured: RunningRegistry, reference: str) -> None:
    namespace, reader = _team(secured, None)
    repository = f"{namespace}/app"
    digest = _push(secured, repository)
    record_scan(secured, digest, findings=[vulnerability("CVE-2024-0001", Severity.CRITICAL)])
    with client_for(secured, reader) as registry:
        response = registry.get(f"/v2/{repository}/manifests/{reference}")
        if reference == "1":
            assert response.status_code == 200
        else:
            assert_error(response, 404, "MANIFEST_UNKNOWN")
