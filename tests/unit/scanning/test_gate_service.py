"""The scan gate's service on a real (SQLite) metadata store: which policy is in force, what is
remembered between pulls, and how refusals are audited without an entry per pull."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from moorage.domain.access import Actor, AllowAll
from moorage.governance.audit import AuditLog
from moorage.metadata import history, scans
from moorage.metadata.database import Database
from moorage.metadata.history import AuditQuery
from moorage.registry.manifests import ManifestService
from moorage.scanning.gate import GatePolicy
from moorage.scanning.gate_audit import GateAudit
from moorage.scanning.gate_policies import NAMESPACE, REPOSITORY, GatePolicies
from moorage.scanning.gate_service import ScanGate, is_gated
from moorage.scanning.model import Finding, Package, Severity
from moorage.scanning.records import finding_document
from moorage.scanning.results import ScanResults

ADMIN = Actor("user", "admin")
DIGEST = "sha256:" + "c" * 64
IMAGE = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": DIGEST, "size": 2},
        "layers": [],
    }
).encode()
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
PACKAGE = Package("openssl", "3.0.11-1", "Debian:12", "pkg:deb/debian/openssl@3.0.11-1")


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    store = Database(f"sqlite:///{tmp_path_factory.mktemp('gate') / 'metadata.db'}")
    store.migrate()
    yield store
    store.dispose()


def scanned(database: Database, digest: str, *severities: Severity) -> None:
    findings = [Finding(f"CVE-2024-{n}", PACKAGE, severity) for n, severity in enumerate(severities)]
    rows = [(f.severity.rank, f.vulnerability_id, finding_document(f)) for f in findings]
    with database.write() as connection:
        scans.finish(connection, digest, "COMPLETE", None, "db-1", None, rows, {})


def gate_of(database: Database, cache_seconds: float) -> ScanGate:
    policies = GatePolicies(database, AuditLog(database, AllowAll()), cache_seconds=cache_seconds)
    return ScanGate(ManifestService(database), policies, ScanResults(database))


def test_the_nearest_policy_is_in_force_and_a_registry_default_comes_last(database: Database) -> None:
    policies = GatePolicies(database, AuditLog(database, AllowAll()), GatePolicy(require_scan=True), 60)
    policies.put(ADMIN, NAMESPACE, "near", {"max_severity": "LOW"})
    policies.put(ADMIN, NAMESPACE, "near/team", {"max_severity": "HIGH"})
    policies.put(ADMIN, REPOSITORY, "near/team/own", {"max_severity": "CRITICAL"})
    assert policies.in_force("near/team/app").label == "namespace policy of near/team"  # type: ignore[union-attr]
    assert policies.in_force("near/other").label == "namespace policy of near"  # type: ignore[union-attr]
    assert policies.in_force("near/team/own").label == "repository policy of near/team/own"  # type: ignore[union-attr]
    assert policies.in_force("elsewhere/app").label == "registry default policy"  # type: ignore[union-attr]
    assert GatePolicies(database, AuditLog(database, AllowAll())).in_force("elsewhere/app") is None


def test_a_passing_image_is_remembered_and_a_refused_one_is_judged_again(database: Database) -> None:
    digest = "sha256:" + "1" * 64
    gate = gate_of(database, cache_seconds=60)
    gate.policies.put(ADMIN, REPOSITORY, "remember/app", {"max_severity": "HIGH"})
    scanned(database, digest, Severity.LOW)
    assert gate.judge("remember/app", digest, OCI_MANIFEST, IMAGE).allowed  # type: ignore[union-attr]
    scanned(database, digest, Severity.CRITICAL)
    assert gate.judge("remember/app", digest, OCI_MANIFEST, IMAGE).allowed  # type: ignore[union-attr]
    assert not gate_of(database, cache_seconds=0).judge("remember/app", digest, OCI_MANIFEST, IMAGE).allowed  # type: ignore[union-attr]

    refused = "sha256:" + "2" * 64
    scanned(database, refused, Severity.CRITICAL)
    assert not gate.judge("remember/app", refused, OCI_MANIFEST, IMAGE).allowed  # type: ignore[union-attr]
    gate.policies.put(ADMIN, REPOSITORY, "remember/app", {"max_severity": "HIGH", "allowlist": ["CVE-2024-0"]})
    assert gate.judge("remember/app", refused, OCI_MANIFEST, IMAGE).allowed  # type: ignore[union-attr]


def test_artifacts_are_not_judged_and_indexes_are() -> None:
    sbom = {"schemaVersion": 2, "artifactType": "application/vnd.cyclonedx+json", "config": {}, "layers": []}
    assert not is_gated(OCI_MANIFEST, json.dumps(sbom).encode())
    helm = {"schemaVersion": 2, "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json"}, "layers": []}
    assert not is_gated(OCI_MANIFEST, json.dumps(helm).encode())
    assert is_gated(OCI_MANIFEST, IMAGE)
    assert is_gated("application/vnd.oci.image.index.v1+json", b'{"manifests": []}')


def test_refusals_are_audited_once_per_window_then_summed(database: Database) -> None:
    audit = GateAudit(database, window_seconds=3600)
    reader = Actor("user", "reader", source_address="10.0.0.7")
    detail = {"policy": "namespace policy of audited", "reason": "1 finding(s) at or above HIGH"}
    for _ in range(4):
        audit.record("scan_gate.refuse", reader, "audited/app", DIGEST, detail)
    audit.record("scan_gate.refuse", Actor("user", "other"), "audited/app", DIGEST, detail)

    def entries() -> list[history.AuditEntry]:
        with database.read() as connection:
            return history.audit_entries(connection, AuditQuery(repository="audited/app", limit=100))

    first = entries()
    assert [(e.actor.name, e.detail["count"]) for e in first] == [("reader", 1), ("other", 1)]  # type: ignore[index]
    assert first[0].outcome == "denied" and first[0].actor.source_address == "10.0.0.7"
    audit.flush()
    repeats = [e for e in entries() if e.detail and e.detail.get("repeated")]
    assert [(e.actor.name, e.detail["count"]) for e in repeats] == [("reader", 3)]  # type: ignore[index]
