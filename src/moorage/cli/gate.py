"""`moorage gate IMAGE`: the deploy step of a pipeline; exits 0 when the image passes the scan gate.

The registry judges the image (`POST /repositories/NAME/-/scan-gate/check`) with the same rules as
its pull gate and admission webhook, by the policy given on the command line, or by the policy in
force for the repository when no `--max-severity` or `--require-scan` is given. Exit codes: 0 the
image passes; 5 it fails the gate (the summary says why); otherwise the CLI's usual ones (1 the
registry refused the request, e.g. an unknown tag; 2 usage; 3 unreachable; 4 log in again).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

import typer

from moorage.cli.client import Registry
from moorage.cli.connection import connected
from moorage.cli.errors import USAGE, CliError
from moorage.cli.output import JsonOption, emit
from moorage.cli.scan_gates import Allow, MaxSeverity, Reason, RequireScan, policy_body

GATE_FAILED = 5
"""The image fails the gate (docs/cli.md): distinct from 1, so a pipeline tells "vulnerable" from "broken"."""

Image = Annotated[str, typer.Argument(help="[HOST/]REPOSITORY[:TAG|@DIGEST] (default tag: latest).")]


def split_image(image: str, registry_url: str) -> tuple[str, str]:
    """(repository, tag or digest) of an image reference; a host prefix must be the registry's own."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        own = urlsplit(registry_url).netloc.rsplit("@", 1)[-1]
        if first.lower() != own.lower():
            raise CliError(f"{image} is not in the registry at {registry_url} ({own})", USAGE)
        image = rest
    if "@" in image:
        repository, _, reference = image.partition("@")
        repository = repository.split(":", 1)[0] if ":" in repository.rsplit("/", 1)[-1] else repository
        return repository, reference
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        repository, _, tag = image.rpartition(":")
        return repository, tag
    return image, "latest"


def summary(verdict: dict[str, Any]) -> list[str]:
    """The lines a person reads in a CI log."""
    policy = verdict["policy"]
    where = {"registry": "the registry default", "request": "given on the command line", "none": "none in force"}
    source = where.get(policy["source"]) or f"{policy['source']} policy of {policy['name']}"
    head = "PASS" if verdict["allowed"] else "FAIL"
    lines = [f"{head} {verdict['repository']}@{verdict['digest']}", f"  policy:   {source}"]
    lines.append(f"  scan:     {verdict['status'] or 'never scanned'}")
    lines.append(f"  reason:   {verdict['reason']}")
    if verdict["blocking"]:
        counts = ", ".join(f"{severity} {count}" for severity, count in verdict["blocking"].items())
        lines.append(f"  blocking: {counts}")
        lines.append(f"  ids:      {', '.join(verdict['blocked_ids'])}")
    if verdict["allowlisted"]:
        lines.append(f"  allowed:  {', '.join(verdict['allowlisted'])}")
    return lines


@connected
def gate(
    registry: Registry,
    image: Image,
    max_severity: MaxSeverity = None,
    require_scan: RequireScan = False,
    allow: Allow = None,
    reason: Reason = None,
    as_json: JsonOption = False,
) -> None:
    """Exit 0 if IMAGE passes the scan gate, 5 (with the reasons) if it does not."""
    repository, reference = split_image(image, registry.url)
    body: dict[str, Any] = {"reference": reference}
    if max_severity is not None or require_scan or allow:
        if max_severity is None and not require_scan:
            raise CliError("--allow needs --max-severity or --require-scan (the policy it amends)", USAGE)
        body["policy"] = policy_body(max_severity, require_scan, allow, reason)
    verdict = registry.call("POST", f"/repositories/{repository}/-/scan-gate/check", json=body)
    if as_json:
        emit(verdict, True)
    else:
        for line in summary(verdict):
            typer.echo(line)
    if not verdict["allowed"]:
        raise typer.Exit(GATE_FAILED)
