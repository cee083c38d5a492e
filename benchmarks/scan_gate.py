"""What the scan gate costs a pull: manifest GET rates with no policy in force and with one that passes.

One registry (granian, 1 worker, SQLite, no authentication) holds three images: `bench/open/app`
with no policy anywhere (the gate's whole cost is one lookup in its in-memory policy table),
`bench/gated/app` under a namespace policy (`max_severity HIGH`) whose scan has LOW findings (each
GET also reads the scan report and judges it), and `bench/refused/app` whose CRITICAL finding the
policy refuses (a `DENIED` answer and an audit window). `hey -z Ns -c 32` GETs each manifest by tag
in interleaved rounds; medians are printed as a Markdown table. Then the gate alone, in process:
`ScanGate.applies_to` for a repository without a policy, timed over 10⁶ calls.

    python -m benchmarks.scan_gate [--rounds 5] [--seconds 5]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.loadtools import hey_rps
from moorage.domain.access import AllowAll
from moorage.governance.audit import AuditLog
from moorage.metadata.database import Database
from moorage.registry.manifests import ManifestService
from moorage.scanning.gate_policies import GatePolicies
from moorage.scanning.gate_service import ScanGate
from moorage.scanning.model import Severity
from tests.functional.helpers import MANIFEST_ACCEPT, push_image
from tests.support.scan_gate import record_scan, vulnerability
from tests.support.server import RunningRegistry, start_server

WORK = Path(".benchmarks-work")
CASES = {
    "no policy in force": "bench/open/app",
    "policy in force, image passes": "bench/gated/app",
    "policy in force, image refused (403)": "bench/refused/app",
}


def prepare(server: RunningRegistry) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        digests = {name: push_image(client, name, "v1").digest for name in CASES.values()}
        response = client.put(f"{server.url}/api/v1/namespaces/bench/gated/scan-gate", json={"max_severity": "HIGH"})
        assert response.status_code == 200, response.text
        response = client.put(f"{server.url}/api/v1/namespaces/bench/refused/scan-gate", json={"max_severity": "HIGH"})
        assert response.status_code == 200, response.text
    low = [vulnerability(f"CVE-2024-{n:04d}", Severity.LOW) for n in range(20)]
    record_scan(server, digests["bench/gated/app"], findings=low)
    record_scan(
        server, digests["bench/refused/app"], findings=[*low, vulnerability("CVE-2024-9999", Severity.CRITICAL)]
    )
    record_scan(server, digests["bench/open/app"], findings=low)


def rate(server: RunningRegistry, repository: str, seconds: int) -> float:
    url = f"{server.url}/v2/{repository}/manifests/v1"
    headers = {"Accept": MANIFEST_ACCEPT}
    if "refused" in repository:
        return _refused_rate(url, headers, seconds)
    return hey_rps(url, method="GET", seconds=seconds, headers=headers)


def _refused_rate(url: str, headers: dict[str, str], seconds: int) -> float:
    """`hey_rps` takes a 403 for a failure; here every answer must be the gate's 403."""
    command = ["hey", "-z", f"{seconds}s", "-c", "32", "-m", "GET"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True, timeout=seconds + 30).stdout
    statuses = re.findall(r"\[(\d{3})\]\s+\d+ responses", output)
    assert statuses == ["403"], f"expected only 403 from {url}:\n{output}"
    match = re.search(r"Requests/sec:\s*([\d.]+)", output)
    assert match, output
    return float(match.group(1))


def lookup_microseconds(server: RunningRegistry, calls: int = 1_000_000) -> float:
    assert server.data_dir is not None
    database = Database(f"sqlite:///{server.data_dir / 'metadata.db'}")
    gate = ScanGate(ManifestService(database), GatePolicies(database, AuditLog(database, AllowAll())), reports=None)  # type: ignore[arg-type]
    gate.applies_to("bench/open/app")  # loads the table once
    started = time.perf_counter()
    for _ in range(calls):
        gate.applies_to("bench/open/app")
    elapsed = time.perf_counter() - started
    database.dispose()
    return elapsed / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(dir=WORK, prefix="scan-gate-"))
    try:
        with start_server(root / "data", pull_flush_interval="5", scan_workers="0") as server:
            prepare(server)
            results: dict[str, list[float]] = {case: [] for case in CASES}
            for round_number in range(args.rounds):
                order = list(CASES) if round_number % 2 == 0 else list(reversed(CASES))
                for case in order:
                    results[case].append(rate(server, CASES[case], args.seconds))
            print("| manifest GET | median req/s | rounds |")
            print("|---|---|---|")
            for case, rates in results.items():
                shown = ", ".join(f"{r:,.0f}" for r in rates)
                print(f"| {case} | {statistics.median(rates):,.0f} | {shown} |")
            print(f"\n`applies_to` without a policy: {lookup_microseconds(server):.2f} µs per call")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
