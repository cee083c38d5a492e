"""Scan on push through the real server: the hook, the job, findings, the SBOM referrer, re-scans, rights.

One registry with authentication on per metadata backend serves the module. Its vulnerability
database holds the synthetic records below (clearly not real advisories); the images are tiny
Debian-like root file systems built by tests/support/scan_images.py.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.functional.cli_support import AUTH_SETTINGS, Cli
from tests.functional.governance_helpers import assert_problem, eventually
from tests.functional.helpers import (
    MANIFEST_ACCEPT,
    Blob,
    Manifest,
    canonical_json,
    image_manifest,
    index_manifest,
    push_artifact,
    push_blob,
    push_manifest,
    unique_repo,
)
from tests.support.auth import ADMIN, ADMIN_PASSWORD, api, client_for, create_user, grant, unique_name
from tests.support.scan_images import Deb, debian_rootfs, gzip_layer, python_dist_info
from tests.support.server import RunningRegistry, postgres_database, start_server

SBOM = "application/vnd.cyclonedx+json"
SITE = "usr/lib/python3/dist-packages"
FAST = {"job_poll_seconds": "0.1", "job_retry_seconds": "0"}


def synthetic_record(record_id: str, ecosystem: str, name: str, fixed: str, vector: str) -> dict[str, Any]:
    """A made-up OSV record (no such advisory exists) for a made-up package."""
    return {
        "schema_version": "1.6.0",
        "id": record_id,
        "modified": "2026-01-01T00:00:00Z",
        "published": "2026-01-01T00:00:00Z",
        "summary": f"synthetic test advisory for {name}",
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
            }
        ],
        "severity": [{"type": "CVSS_V3", "score": vector}],
        "references": [{"type": "WEB", "url": f"https://example.invalid/{record_id}"}],
    }


CRITICAL_VECTOR = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8
MEDIUM_VECTOR = "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:N"  # 4.2
RECORDS = [
    synthetic_record("MOORAGE-TEST-0001", "Debian:12", "moorage-testlib", "1.2-1", CRITICAL_VECTOR),
    synthetic_record("MOORAGE-TEST-0002", "PyPI", "moorage-testpy", "2.0.0", MEDIUM_VECTOR),
]


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    data_dir = tmp_path_factory.mktemp(f"scan-{request.param}")
    settings = {**AUTH_SETTINGS, **FAST}
    database = postgres_database() if request.param == "postgres" else contextlib.nullcontext(None)
    with database as database_url, start_server(data_dir, database_url, **settings) as running:
        with api(running) as admin:
            for record in RECORDS:
                response = admin.post(
                    "/vulnerability-database/imports", params={"source": "synthetic"}, content=json.dumps(record)
                )
                assert response.status_code == 200, response.text
        yield running


@pytest.fixture
def admin_api(server: RunningRegistry) -> Iterator[httpx.Client]:
    with api(server) as client:
        yield client


@pytest.fixture
def registry(server: RunningRegistry) -> Iterator[httpx.Client]:
    with client_for(server, (ADMIN, ADMIN_PASSWORD)) as client:
        client.headers["Accept"] = MANIFEST_ACCEPT
        yield client


def push_debian_image(
    client: httpx.Client, repo: str, tag: str | None, debs: list[Deb], python: dict[str, str] | None = None
) -> Manifest:
    """A two-layer Debian-like image: dpkg packages, then Python packages; unique each time (a nonce file)."""
    base = {**debian_rootfs(debs), "etc/nonce": uuid.uuid4().hex.encode()}
    extra: dict[str, Any] = {}
    for name, version in (python or {}).items():
        extra.update(python_dist_info(SITE, name, version))
    blobs = [gzip_layer(base), gzip_layer(extra)]
    layers = [push_blob(client, repo, blob.data, media_type=blob.media_type) for blob in blobs]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [blob.diff_id for blob in blobs]},
    }
    config_blob = push_blob(client, repo, canonical_json(config))
    manifest = image_manifest(config_blob, layers)
    return push_manifest(client, repo, manifest, tag)


VULNERABLE = [Deb("moorage-testlib", "1.0-1"), Deb("base-files", "12.4")]


def create_scanned_repository(admin_api: httpx.Client, scan_on_push: bool = True) -> str:
    name = unique_repo("scan")
    response = admin_api.post("/repositories", json={"name": name, "scan_on_push": scan_on_push})
    assert response.status_code == 201, response.text
    return name


def scan_of(admin_api: httpx.Client, repo: str, reference: str, **params: Any) -> dict[str, Any]:
    response = admin_api.get(f"/repositories/{repo}/-/scans/{reference}", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def finished(admin_api: httpx.Client, repo: str, reference: str, **params: Any) -> dict[str, Any]:
    """The scan's answer once it is neither PENDING nor IN_PROGRESS."""

    def check() -> dict[str, Any] | None:
        answer = scan_of(admin_api, repo, reference, **params)
        scan = answer["scan"]
        return answer if scan is not None and scan["status"] not in ("PENDING", "IN_PROGRESS") else None

    return eventually(check, timeout=60)


def scanner_sboms(client: httpx.Client, repo: str, digest: str) -> list[dict[str, Any]]:
    response = client.get(f"/v2/{repo}/referrers/{digest}", params={"artifactType": SBOM})
    assert response.status_code == 200, response.text
    return [m for m in response.json()["manifests"] if m.get("artifactType") == SBOM]


def test_a_pushed_image_is_scanned_in_the_background_and_its_findings_read_like_ecr(
    admin_api: httpx.Client, registry: httpx.Client
) -> None:
    repo = create_scanned_repository(admin_api)
    image = push_debian_image(registry, repo, "v1", VULNERABLE, {"moorage-testpy": "1.5.0"})
    assert scan_of(admin_api, repo, "v1")["scan"]["status"] in ("PENDING", "IN_PROGRESS", "COMPLETE")
    answer = finished(admin_api, repo, "v1")
    scan = answer["scan"]
    assert answer["digest"] == image.digest and scan["status"] == "COMPLETE", scan
    assert scan["database_version"] and scan["counts"]["CRITICAL"] == 1 and scan["counts"]["MEDIUM"] == 1
    assert [f["id"] for f in answer["findings"]] == ["MOORAGE-TEST-0001", "MOORAGE-TEST-0002"]  # worst first
    critical = answer["findings"][0]
    assert critical["package"]["name"] == "moorage-testlib" and critical["installed_version"] == "1.0-1"
    assert critical["fixed_version"] == "1.2-1" and critical["severity"] == "CRITICAL"
    assert critical["cvss_score"] == pytest.approx(9.8) and critical["package"]["purl"].startswith("pkg:deb/debian/")
    assert "https://example.invalid/MOORAGE-TEST-0001" in critical["links"]
    high = scan_of(admin_api, repo, "v1", severity="HIGH")
    assert [f["id"] for f in high["findings"]] == ["MOORAGE-TEST-0001"] and high["total"] == 1
    first = scan_of(admin_api, repo, image.digest, limit=1)
    second = scan_of(admin_api, repo, image.digest, limit=1, after=first["next"])
    assert [f["id"] for f in first["findings"] + second["findings"]] == ["MOORAGE-TEST-0001", "MOORAGE-TEST-0002"]
    assert second["next"] is None and first["total"] == 2
    [listed] = [
        i for i in admin_api.get(f"/repositories/{repo}/-/images").json()["images"] if i["digest"] == image.digest
    ]
    assert listed["scan"]["status"] == "COMPLETE" and listed["scan"]["counts"]["CRITICAL"] == 1


def test_the_sbom_is_a_referrer_of_the_image_and_a_cyclonedx_document_that_is_not_scanned_itself(
    admin_api: httpx.Client, registry: httpx.Client
) -> None:
    repo = create_scanned_repository(admin_api)
    image = push_debian_image(registry, repo, "v1", VULNERABLE)
    finished(admin_api, repo, "v1")
    [sbom] = eventually(lambda: scanner_sboms(registry, repo, image.digest))
    assert sbom["annotations"]["dev.moorage.scan.generator"] == "moorage"
    manifest = registry.get(f"/v2/{repo}/manifests/{sbom['digest']}").json()
    assert manifest["subject"]["digest"] == image.digest and manifest["config"]["mediaType"].endswith("empty.v1+json")
    document = registry.get(f"/v2/{repo}/blobs/{manifest['layers'][0]['digest']}").json()
    assert document["bomFormat"] == "CycloneDX" and document["specVersion"]
    names = {component["name"] for component in document.get("components", [])}
    assert {"moorage-testlib", "base-files"} <= names
    assert scan_of(admin_api, repo, sbom["digest"])["scan"] is None  # an artifact: not enqueued
    # Pushing the same image again scans nothing and adds no second SBOM.
    push_manifest(registry, repo, image, "v2")
    assert scan_of(admin_api, repo, "v2")["scan"]["status"] == "COMPLETE"
    assert len(scanner_sboms(registry, repo, image.digest)) == 1


def test_a_rescan_after_a_database_import_replaces_the_result_and_the_scanners_sbom(
    admin_api: httpx.Client, registry: httpx.Client
) -> None:
    repo = create_scanned_repository(admin_api)
    image = push_debian_image(registry, repo, "v1", [*VULNERABLE, Deb("moorage-rescanned", "1.0-1")])
    old_version = finished(admin_api, repo, "v1")["scan"]["database_version"]
    [before] = eventually(lambda: scanner_sboms(registry, repo, image.digest))
    record = synthetic_record(
        f"MOORAGE-TEST-{uuid.uuid4().hex[:8]}", "Debian:12", "moorage-rescanned", "2", MEDIUM_VECTOR
    )
    imported = admin_api.post("/vulnerability-database/imports", params={"source": "synthetic"}, json=record)
    assert imported.status_code == 200, imported.text
    response = admin_api.post(f"/repositories/{repo}/-/scans/v1")
    assert response.status_code == 202 and response.json()["scans"] == [image.digest], response.text

    def rescanned() -> dict[str, Any] | None:
        answer = scan_of(admin_api, repo, "v1")
        assert answer["scan"]["status"] == "COMPLETE"  # the old result stands until the new one replaces it
        return answer if answer["scan"]["database_version"] != old_version else None

    answer = eventually(rescanned, timeout=60)
    assert record["id"] in [f["id"] for f in answer["findings"]]
    [after] = eventually(
        lambda: [s for s in scanner_sboms(registry, repo, image.digest) if s["digest"] != before["digest"]]
    )
    assert after["annotations"]["dev.moorage.scan.database-version"] == answer["scan"]["database_version"]
    assert scanner_sboms(registry, repo, image.digest) == [after]


def test_a_repository_without_scan_on_push_is_scanned_only_when_asked(
    admin_api: httpx.Client, registry: httpx.Client
) -> None:
    repo = create_scanned_repository(admin_api, scan_on_push=False)
    image = push_debian_image(registry, repo, "v1", VULNERABLE)
    assert scan_of(admin_api, repo, "v1")["scan"] is None  # the hook would have recorded PENDING with the push
    assert admin_api.post(f"/repositories/{repo}/-/scans/{image.digest}").status_code == 202
    assert finished(admin_api, repo, "v1")["scan"]["status"] == "COMPLETE"


def test_a_creation_template_turns_scanning_on_for_the_repositories_a_push_creates(
    admin_api: httpx.Client, registry: httpx.Client
) -> None:
    namespace = unique_name("scantpl")
    response = admin_api.put(f"/creation-templates/{namespace}", json={"create_on_push": True, "scan_on_push": True})
    assert response.status_code == 200, response.text
    push_debian_image(registry, f"{namespace}/app", "v1", VULNERABLE)
    assert scan_of(admin_api, f"{namespace}/app", "v1")["scan"] is not None


def test_artifacts_are_not_scanned_on_push_and_unsupported_when_asked(
    admin_api: httpx.Client, registry: httpx.Client
) -> None:
    repo = create_scanned_repository(admin_api)
    artifact = push_artifact(registry, repo, "application/vnd.example.chart", tag="chart")
    assert scan_of(admin_api, repo, "chart")["scan"] is None
    assert admin_api.post(f"/repositories/{repo}/-/scans/{artifact.digest}").status_code == 202
    scan = finished(admin_api, repo, "chart")["scan"]
    assert scan["status"] == "UNSUPPORTED_IMAGE" and "not a container image" in scan["reason"]


def test_an_index_is_not_scanned_itself_but_reports_its_platforms_findings_once(
    admin_api: httpx.Client, registry: httpx.Client
) -> None:
    repo = create_scanned_repository(admin_api)
    amd64 = push_debian_image(registry, repo, None, VULNERABLE)
    arm64 = push_debian_image(registry, repo, None, VULNERABLE, {"moorage-testpy": "1.0"})
    index = push_manifest(registry, repo, index_manifest([amd64, arm64]), "multi")
    answer = finished(admin_api, repo, "multi")
    assert answer["digest"] == index.digest and answer["scan"]["status"] == "COMPLETE"
    assert [f["id"] for f in answer["findings"]] == ["MOORAGE-TEST-0001", "MOORAGE-TEST-0002"]  # 0001 once
    assert scan_of(admin_api, repo, amd64.digest)["scan"]["counts"]["MEDIUM"] == 0
    images = {i["digest"]: i for i in admin_api.get(f"/repositories/{repo}/-/images").json()["images"]}
    assert images[index.digest]["scan"]["counts"]["CRITICAL"] == 1


def test_an_unreadable_layer_fails_the_scan_with_a_reason(admin_api: httpx.Client, registry: httpx.Client) -> None:
    repo = create_scanned_repository(admin_api)
    config = push_blob(registry, repo, canonical_json({"architecture": "amd64", "os": "linux"}))
    layer = push_blob(registry, repo, b"not gzip at all " + uuid.uuid4().bytes)
    push_manifest(registry, repo, image_manifest(config, [Blob(layer.data, layer.digest)]), "broken")
    scan = finished(admin_api, repo, "broken")["scan"]
    assert scan["status"] == "FAILED" and scan["reason"]


def test_bad_requests_are_problems_and_a_digest_reads_nothing_of_another_repository(
    admin_api: httpx.Client, registry: httpx.Client
) -> None:
    repo = create_scanned_repository(admin_api)
    image = push_debian_image(registry, repo, "v1", VULNERABLE)
    other = create_scanned_repository(admin_api)
    assert_problem(admin_api.get(f"/repositories/{other}/-/scans/{image.digest}"), 404)
    assert_problem(admin_api.post(f"/repositories/{other}/-/scans/{image.digest}"), 404)
    assert_problem(admin_api.get(f"/repositories/{repo}/-/scans/nope"), 404)
    assert_problem(admin_api.get(f"/repositories/{repo}/-/scans/v1", params={"severity": "SEVERE"}), 422)
    assert_problem(admin_api.get(f"/repositories/{repo}/-/scans/v1", params={"limit": 0}), 422)
    assert_problem(admin_api.get(f"/repositories/{repo}/-/scans/bad%20tag!"), 400)


def test_readers_need_pull_scans_need_push_and_rescanning_everything_needs_an_admin(
    server: RunningRegistry, admin_api: httpx.Client, registry: httpx.Client
) -> None:
    repo = create_scanned_repository(admin_api)
    push_debian_image(registry, repo, "v1", VULNERABLE)
    reader, outsider = create_user(server), create_user(server)
    grant(server, "user", reader[0], repo, "read")
    with api(server, reader) as client:
        token = client.post(f"/users/{reader[0]}/tokens", json={"name": "t", "scopes": ["pull"], "repositories": ["*"]})
        assert token.status_code == 201, token.text
    pull_only = (reader[0], token.json()["token"])
    for credentials in (reader, pull_only):
        with api(server, credentials) as client:
            assert client.get(f"/repositories/{repo}/-/scans/v1").status_code == 200
            assert_problem(client.post(f"/repositories/{repo}/-/scans/v1"), 403)
            assert_problem(client.post("/scans/rescan-all"), 403)
    with api(server, outsider) as client:
        known = client.get(f"/repositories/{repo}/-/scans/v1")
        unknown = client.get(f"/repositories/{unique_repo('scan')}/-/scans/v1")
        assert known.status_code == unknown.status_code == 403  # no hint that the repository exists
        assert client.get(f"/repositories/{repo}/-/images").status_code == 403
    assert admin_api.post("/scans/rescan-all").json()["enqueued"] >= 1


def test_the_cli_scans_and_lists_findings_with_authentication_on(
    server: RunningRegistry, admin_api: httpx.Client, registry: httpx.Client, tmp_path: Path
) -> None:
    repo = create_scanned_repository(admin_api, scan_on_push=False)
    image = push_debian_image(registry, repo, "v1", VULNERABLE, {"moorage-testpy": "1.5.0"})
    cli = Cli(server, tmp_path / "config")  # each command costs a second or two here: few of them
    cli.login()
    waited = cli.run("scan", f"{repo}:v1", "--wait", "--timeout", "60").stdout
    assert f"{repo}@{image.digest}: COMPLETE" in waited and "CRITICAL=1" in waited
    table = cli.run("findings", f"{repo}:v1").stdout.splitlines()
    assert table[0].startswith(f"{repo}@{image.digest}: COMPLETE") and table[1].split()[:2] == ["ID", "SEVERITY"]
    assert table[2].split()[:3] == ["MOORAGE-TEST-0001", "CRITICAL", "moorage-testlib"] and len(table) == 4
    high = json.loads(cli.run("findings", f"{repo}@{image.digest}", "--severity", "high", "--json").stdout)
    assert [f["id"] for f in high["findings"]] == ["MOORAGE-TEST-0001"]
    assert "re-scanning" in cli.run("scan", "--all").stdout
