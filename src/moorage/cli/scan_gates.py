"""`moorage scan-gate`: show, set and clear the scan gate policy of a repository or a namespace."""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer

from moorage.cli.client import Registry
from moorage.cli.connection import connected
from moorage.cli.errors import USAGE, CliError
from moorage.cli.output import JsonOption, emit, table

scan_gate_app = typer.Typer(
    help="Scan gate policies: refuse pulls of images with findings at or above a severity (docs/scanning.md).",
    no_args_is_help=True,
)

Repository = Annotated[str | None, typer.Option("--repository", "-r", help="The repository the policy is set on.")]
Namespace = Annotated[
    str | None, typer.Option("--namespace", "-n", help="The namespace: the policy governs every repository under it.")
]
MaxSeverity = Annotated[
    str | None,
    typer.Option(
        "--max-severity",
        help="Refuse images with a finding at or above this severity: CRITICAL, HIGH, MEDIUM, LOW or UNKNOWN (any).",
    ),
]
RequireScan = Annotated[bool, typer.Option("--require-scan", help="Refuse images without a complete scan.")]
Allow = Annotated[
    list[str] | None,
    typer.Option(
        "--allow", help="An accepted vulnerability id (or alias), optionally until a day: CVE-2024-1234[:2026-12-31]."
    ),
]
Reason = Annotated[str | None, typer.Option("--reason", help="Why the --allow entries are accepted (recorded).")]

_ALLOWED = re.compile(r"^(?P<id>[^:]+)(?::(?P<expires>\d{4}-\d{2}-\d{2}))?$")
ALLOWLIST_COLUMNS = ("id", "expires", "reason")


def allowlist(entries: list[str] | None, reason: str | None) -> list[dict[str, Any]]:
    """`--allow` values as allowlist entries (the registry checks ids and dates)."""
    parsed = []
    for entry in entries or []:
        match = _ALLOWED.match(entry)
        if match is None:
            raise CliError(f"--allow {entry!r}: write ID or ID:YYYY-MM-DD", USAGE)
        parsed.append({"id": match["id"], "expires": match["expires"], "reason": reason or ""})
    return parsed


def policy_body(
    max_severity: str | None, require_scan: bool, allow: list[str] | None, reason: str | None
) -> dict[str, Any]:
    """A policy document from the command's options."""
    return {
        "max_severity": max_severity.upper() if max_severity else None,
        "require_scan": require_scan,
        "allowlist": allowlist(allow, reason),
    }


def _path(repository: str | None, namespace: str | None) -> str:
    if (repository is None) == (namespace is None):
        raise CliError("name exactly one of --repository and --namespace", USAGE)
    if repository is not None:
        return f"/repositories/{repository}/-/scan-gate"
    return f"/namespaces/{namespace}/scan-gate"


def _show(answer: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit(answer, True)
        return
    policy = answer["policy"]
    source = "registry default" if answer["source"] == "registry" else f"{answer['source']} {answer['name']}"
    typer.echo(f"set on:        {source}")
    typer.echo(f"max severity:  {policy['max_severity'] or '-'} (findings at or above it refuse a pull)")
    typer.echo(f"require scan:  {'yes' if policy['require_scan'] else 'no'}")
    if answer.get("updated_by"):
        typer.echo(f"updated:       {answer['updated_at']} by {answer['updated_by']}")
    if policy["allowlist"]:
        typer.echo("")
        table(policy["allowlist"], ALLOWLIST_COLUMNS)


@scan_gate_app.command("show")
@connected
def show(
    registry: Registry, repository: Repository = None, namespace: Namespace = None, as_json: JsonOption = False
) -> None:
    """The policy in force for a repository (with where it is set), or a namespace's own policy."""
    _show(registry.call("GET", _path(repository, namespace)), as_json)


@scan_gate_app.command("set")
@connected
def set_policy(
    registry: Registry,
    repository: Repository = None,
    namespace: Namespace = None,
    max_severity: MaxSeverity = None,
    require_scan: RequireScan = False,
    allow: Allow = None,
    reason: Reason = None,
    as_json: JsonOption = False,
) -> None:
    """Set (replace) the policy of a repository or namespace; it applies to the next pull."""
    path = _path(repository, namespace)
    _show(registry.call("PUT", path, json=policy_body(max_severity, require_scan, allow, reason)), as_json)


@scan_gate_app.command("clear")
@connected
def clear(registry: Registry, repository: Repository = None, namespace: Namespace = None) -> None:
    """Remove the policy set on a repository or namespace (one inherited from above stays in force)."""
    registry.call("DELETE", _path(repository, namespace))
    typer.echo(f"cleared the scan gate policy of {repository or namespace}")
