"""`moorage scan` and `moorage findings`: scans on demand and their findings, over the management API.

`findings` is `aws ecr describe-image-scan-findings`: the image's scan status, counts per severity,
and one line per finding (worst first); `--severity HIGH` keeps HIGH and CRITICAL. `scan --all`
re-scans every image of the registry (an administrator's, after a vulnerability database import).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from moorage.cli.client import Registry
from moorage.cli.connection import connected
from moorage.cli.errors import REFUSED, CliError
from moorage.cli.output import JsonOption, emit, table

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")
UNFINISHED = ("PENDING", "IN_PROGRESS")
FINDING_COLUMNS = ("id", "severity", "package", "installed", "fixed", "cvss")

Reference = Annotated[str, typer.Argument(help="REPOSITORY[:TAG|@DIGEST] (default tag: latest).")]


def split_reference(reference: str) -> tuple[str, str]:
    """(repository, tag or digest) of `REPO[:TAG|@DIGEST]`."""
    if "@" in reference:
        name, _, digest = reference.partition("@")
        if name and digest:
            return name, digest
    else:
        name, colon, tag = reference.rpartition(":")
        if not colon:
            return reference, "latest"
        if name and tag and "/" not in tag:
            return name, tag
    raise typer.BadParameter("expected REPOSITORY[:TAG|@DIGEST]", param_hint="REFERENCE")


def _severity(value: str) -> str:
    upper = value.upper()
    if upper not in SEVERITIES:
        raise typer.BadParameter(f"one of {', '.join(SEVERITIES)}", param_hint="--severity")
    return upper


def _counts(scan: dict[str, Any]) -> str:
    counts = scan.get("counts") or {}
    return " ".join(f"{severity}={counts.get(severity, 0)}" for severity in SEVERITIES)


def _read_findings(registry: Registry, name: str, reference: str, severity: str) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": 1000, "severity": severity}
    answer = registry.call("GET", f"/repositories/{name}/-/scans/{reference}", params=params)
    findings = list(answer["findings"])
    while answer["next"] is not None:
        params["after"] = answer["next"]
        answer = registry.call("GET", f"/repositories/{name}/-/scans/{reference}", params=params)
        findings += answer["findings"]
    return {**answer, "findings": findings, "next": None}


def _wait(registry: Registry, name: str, digest: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        answer: dict[str, Any] = registry.call("GET", f"/repositories/{name}/-/scans/{digest}", params={"limit": 1})
        scan = answer["scan"]
        if scan is not None and scan["status"] not in UNFINISHED:
            return answer
        if time.monotonic() > deadline:
            status = scan["status"] if scan else "not started"
            raise CliError(f"the scan of {name}@{digest} did not finish within {timeout:g} s ({status})", REFUSED)
        time.sleep(0.5)


@connected
def scan(
    registry: Registry,
    reference: Annotated[str | None, typer.Argument(help="REPOSITORY[:TAG|@DIGEST] (default tag: latest).")] = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Re-scan every image of the registry (registry administrators).")
    ] = False,
    wait: Annotated[bool, typer.Option("--wait", help="Wait until the scan finished and show its result.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Seconds --wait waits at most.")] = 600,
    as_json: JsonOption = False,
) -> None:
    """Scan an image now (every platform of a multi-platform image), or every image with --all."""
    if everything == (reference is not None):
        raise typer.BadParameter("name an image, or pass --all (not both)", param_hint="REFERENCE")
    if reference is None:
        answer = registry.call("POST", "/scans/rescan-all")
        if as_json:
            emit(answer, True)
        else:
            typer.echo(f"re-scanning {answer['enqueued']} image(s)")
        return
    name, ref = split_reference(reference)
    answer = registry.call("POST", f"/repositories/{name}/-/scans/{ref}")
    if wait:
        done = _wait(registry, name, answer["digest"], timeout)
        if as_json:
            emit({**answer, "scan": done["scan"]}, True)
            return
        scan_result = done["scan"]
        line = f"{name}@{answer['digest']}: {scan_result['status']}"
        if scan_result["status"] == "COMPLETE":
            line += f" ({_counts(scan_result)})"
        elif scan_result.get("reason"):
            line += f": {scan_result['reason']}"
        typer.echo(line)
        if scan_result["status"] == "FAILED":
            raise typer.Exit(REFUSED)
        return
    if as_json:
        emit(answer, True)
        return
    typer.echo(f"{name}@{answer['digest']}: scan requested ({len(answer['scans'])} image manifest(s))")


@connected
def findings(
    registry: Registry,
    reference: Reference,
    severity: Annotated[
        str, typer.Option("--severity", help="Only findings at or above: CRITICAL, HIGH, MEDIUM, LOW, UNKNOWN.")
    ] = "UNKNOWN",
    as_json: JsonOption = False,
) -> None:
    """Scan status and findings of an image, worst first (like `aws ecr describe-image-scan-findings`)."""
    name, ref = split_reference(reference)
    answer = _read_findings(registry, name, ref, _severity(severity))
    if as_json:
        emit(answer, True)
        return
    scan_result = answer["scan"]
    if scan_result is None:
        typer.echo(f"{name}@{answer['digest']}: not scanned (run `moorage scan {name}@{answer['digest']}`)")
        return
    header = f"{name}@{answer['digest']}: {scan_result['status']}"
    if scan_result["status"] == "COMPLETE":
        header += f"  {_counts(scan_result)}  database {scan_result.get('database_version') or '-'}"
    elif scan_result.get("reason"):
        header += f": {scan_result['reason']}"
    typer.echo(header)
    if not answer["findings"]:
        return
    rows = [
        {
            "id": finding["id"],
            "severity": finding["severity"],
            "package": finding["package"]["name"],
            "installed": finding["installed_version"],
            "fixed": finding["fixed_version"],
            "cvss": finding["cvss_score"],
        }
        for finding in answer["findings"]
    ]
    table(rows, FINDING_COLUMNS)


def register(app: typer.Typer) -> None:
    """Add `moorage scan` and `moorage findings`."""
    app.command("scan")(scan)
    app.command("findings")(findings)
