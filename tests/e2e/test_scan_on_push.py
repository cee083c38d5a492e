"""Scan on push with real clients: skopeo pushes, the job scans, findings through the API and the CLI,
the SBOM under the referrers API, pulled with oras-py and read as CycloneDX.

The vulnerability database gets OSV test records (tests/data/osv: one real GitHub advisory for
Jinja2 and synthetic Debian records, labelled as such) through `moorage vulndb import`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from tests.support.clients import ContainerTools, oras_client, require_tools
from tests.support.scan_images import Deb, debian_rootfs, gzip_layer, python_dist_info, write_scan_image
from tests.support.server import RunningRegistry

pytestmark = pytest.mark.e2e

OSV = Path(__file__).parents[1] / "data" / "osv"
RECORDS = [
    OSV / "synthetic" / "MOORAGE-TEST-CVE-1.json",
    OSV / "synthetic" / "MOORAGE-TEST-DEBIAN-1.json",
    OSV / "real" / "GHSA-h5c8-rqwp-cp95.json",
]
SBOM = "application/vnd.cyclonedx+json"


def moorage(registry: RunningRegistry, *args: str) -> str:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("MOORAGE_")}
    environment["MOORAGE_URL"] = registry.url
    result = subprocess.run(
        [sys.executable, "-m", "moorage", *args], env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"moorage {' '.join(args)}: {result.stderr}"
    return result.stdout


def wait_for_scan(http: httpx.Client, repository: str, reference: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        answer = http.get(f"/api/v1/repositories/{repository}/-/scans/{reference}").json()
        scan = answer.get("scan")
        if scan is not None and scan["status"] not in ("PENDING", "IN_PROGRESS"):
            return dict(answer)
        assert time.monotonic() < deadline, f"the scan did not finish: {answer}"
        time.sleep(0.2)


def test_skopeo_push_is_scanned_and_its_sbom_is_a_cyclonedx_referrer(
    embedded_registry: RunningRegistry,
    tools: ContainerTools,
    registry_http: httpx.Client,
    repository: str,
    nonce: str,
    tmp_path: Path,
) -> None:
    require_tools("skopeo")
    for record in RECORDS:
        moorage(embedded_registry, "vulndb", "import", str(record), "--source", "e2e-osv")
    created = registry_http.post("/api/v1/repositories", json={"name": repository, "scan_on_push": True})
    assert created.status_code == 201, created.text

    base = {**debian_rootfs([Deb("libssl3", "3.0.11-1~deb12u2", source="openssl")]), "etc/nonce": nonce.encode()}
    app = python_dist_info("usr/local/lib/python3.11/site-packages", "Jinja2", "3.1.2")
    image = write_scan_image(tmp_path / "layout", "v1", [gzip_layer(base), gzip_layer(app)])
    tools.skopeo_copy(f"oci:{tmp_path / 'layout'}:v1", tools.docker(repository, "v1"), "--preserve-digests")

    answer = wait_for_scan(registry_http, repository, "v1")
    assert answer["digest"] == image.manifest_digest and answer["scan"]["status"] == "COMPLETE", answer
    found = {finding["id"]: finding for finding in answer["findings"]}
    assert {"MOORAGE-TEST-DEBIAN-1", "GHSA-h5c8-rqwp-cp95"} <= found.keys()
    assert found["MOORAGE-TEST-DEBIAN-1"]["package"]["name"] == "libssl3"  # matched by its source, openssl
    assert found["GHSA-h5c8-rqwp-cp95"]["fixed_version"] == "3.1.3"

    listed = json.loads(moorage(embedded_registry, "findings", f"{repository}:v1", "--json"))
    assert {f["id"] for f in listed["findings"]} == found.keys()
    table = moorage(embedded_registry, "findings", f"{repository}:v1")
    assert "GHSA-h5c8-rqwp-cp95" in table and "COMPLETE" in table.splitlines()[0]

    deadline = time.monotonic() + 60
    while not (
        referrers := registry_http.get(f"/v2/{repository}/referrers/{image.manifest_digest}").json()["manifests"]
    ):
        assert time.monotonic() < deadline, "no SBOM referrer appeared"
        time.sleep(0.2)
    [sbom] = referrers
    assert sbom["artifactType"] == SBOM
    pulled = oras_client(embedded_registry.host).pull(
        target=f"{embedded_registry.host}/{repository}@{sbom['digest']}", outdir=str(tmp_path / "sbom")
    )
    [path] = pulled
    text = Path(path).read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None, "not a valid CycloneDX 1.6 document"
    document = json.loads(text)
    assert document["bomFormat"] == "CycloneDX"
    assert {"libssl3", "jinja2"} <= {component["name"].lower() for component in document["components"]}
