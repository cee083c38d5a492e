"""The scan gate with real clients: skopeo pushes into a scan-on-push repository, the scan finds a HIGH
vulnerability, a pull is refused and skopeo prints why, `moorage gate` fails the deploy step; an
allowlist entry lets both through.

Findings come from the real scan (inventory + the OSV test records of tests/data/osv, imported with
`moorage vulndb import`), not written by the test. The policy is the repository's own: the `e2e`
namespace is shared with other tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_scan_on_push import RECORDS, wait_for_scan
from tests.support.clients import ClientError, ContainerTools, require_tools
from tests.support.scan_images import Deb, debian_rootfs, gzip_layer, python_dist_info, write_scan_image
from tests.support.server import RunningRegistry

pytestmark = pytest.mark.e2e

GATE_FAILED = 5


def moorage(registry: RunningRegistry, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("MOORAGE_")}
    environment["MOORAGE_URL"] = registry.url
    result = subprocess.run(
        [sys.executable, "-m", "moorage", *args], env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == expect, f"moorage {' '.join(args)} exited {result.returncode}: {result.stderr}"
    return result


def test_skopeo_pull_is_refused_above_the_threshold_with_the_reason_until_the_finding_is_allowlisted(
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
    moorage(embedded_registry, "scan-gate", "set", "--repository", repository, "--max-severity", "HIGH")

    base = {**debian_rootfs([Deb("libssl3", "3.0.11-1~deb12u2", source="openssl")]), "etc/nonce": nonce.encode()}
    app = python_dist_info("usr/local/lib/python3.11/site-packages", "Jinja2", "3.1.2")
    image = write_scan_image(tmp_path / "layout", "v1", [gzip_layer(base), gzip_layer(app)])
    tools.skopeo_copy(f"oci:{tmp_path / 'layout'}:v1", tools.docker(repository, "v1"), "--preserve-digests")
    scan = wait_for_scan(registry_http, repository, "v1")
    assert scan["scan"]["status"] == "COMPLETE", scan
    severities = {finding["id"]: finding["severity"] for finding in scan["findings"]}
    assert severities["MOORAGE-TEST-DEBIAN-1"] == "HIGH" and severities["GHSA-h5c8-rqwp-cp95"] == "MEDIUM"

    with pytest.raises(ClientError) as refused:
        tools.skopeo_copy(tools.docker(repository, "v1"), f"oci:{tmp_path / 'pulled'}:v1")
    printed = refused.value.result.stderr.decode()
    assert "denied" in printed and f"repository policy of {repository}" in printed, printed
    assert "1 finding(s) at or above HIGH (HIGH 1): MOORAGE-TEST-DEBIAN-1" in printed, printed

    image_name = f"{embedded_registry.host}/{repository}:v1"
    failed = moorage(embedded_registry, "gate", image_name, expect=GATE_FAILED)
    assert failed.stdout.startswith(f"FAIL {repository}@{image.manifest_digest}")
    assert "MOORAGE-TEST-DEBIAN-1" in failed.stdout
    stricter = json.loads(
        moorage(embedded_registry, "gate", image_name, "--max-severity", "MEDIUM", "--json", expect=GATE_FAILED).stdout
    )
    assert stricter["blocked_ids"] == ["MOORAGE-TEST-DEBIAN-1", "GHSA-h5c8-rqwp-cp95"]

    moorage(
        embedded_registry, "scan-gate", "set", "--repository", repository, "--max-severity", "HIGH",
        "--allow", "MOORAGE-TEST-DEBIAN-1:2099-12-31", "--reason", "not reachable in this service",
    )  # fmt: skip
    tools.skopeo_copy(tools.docker(repository, "v1"), f"oci:{tmp_path / 'pulled'}:v1")
    assert (tmp_path / "pulled" / "index.json").is_file()
    passed = moorage(embedded_registry, "gate", image_name)
    assert passed.stdout.startswith("PASS") and "allowed:  MOORAGE-TEST-DEBIAN-1" in passed.stdout

    audit = registry_http.get("/api/v1/audit", params={"repository": repository, "limit": 1000}).json()["entries"]
    refusals = [entry for entry in audit if entry["action"] == "scan_gate.refuse"]
    assert refusals and refusals[0]["target"] == image.manifest_digest
