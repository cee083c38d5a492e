"""`moorage lifecycle …` and `moorage gc`: talk to a running registry's management API over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from moorage.cli.client import Registry
from moorage.cli.connection import connected
from moorage.cli.inputs import json_file
from moorage.cli.output import JsonOption

lifecycle_app = typer.Typer(help="Lifecycle policies (ECR JSON): preview, apply, runs.", no_args_is_help=True)

LONG = 3600.0  # seconds: a lifecycle run or a collection may take a while on a large registry


@lifecycle_app.command("preview")
@connected
def preview(
    registry: Registry,
    repository: Annotated[str, typer.Argument(help="Repository name, e.g. team/app.")],
    policy: Annotated[
        Path | None, typer.Option("--policy", help="Policy file (ECR JSON); default: the repository's policy.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List what the lifecycle policy would expire and why, without changing anything."""
    document = json_file(policy, "--policy") if policy is not None else None
    result = registry.call("POST", f"/repositories/{repository}/lifecycle-preview", json=document)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    summary = result["summary"]
    typer.echo(
        f"{repository}: policy from {result['policySource']}; "
        f"{summary['expiring']} of {summary['images']} images would expire ({summary['bytesExpiring']} bytes)"
    )
    for item in result["results"]:
        tags = ",".join(item["imageTags"]) or "<untagged>"
        typer.echo(f"{item['action'].upper():6} {item['imageDigest'][:19]}  {tags:30}  {item['reason']}")


@lifecycle_app.command("apply")
@connected
def apply(registry: Registry, as_json: JsonOption = False) -> None:
    """Apply every lifecycle policy now (the scheduled run, on demand)."""
    run = registry.call("POST", "/lifecycle/runs", timeout=LONG)
    if as_json:
        typer.echo(json.dumps(run, indent=2, default=str))
        return
    typer.echo(
        f"run {run['id']}: {run['images_expired']} images expired in {run['repositories']} repositories, "
        f"{run['bytes_freed']} bytes released"
    )
    for item in run.get("expired") or []:
        typer.echo(f"  {item['repository']}@{item['digest'][:19]}  rule {item['rulePriority']}: {item['reason']}")


@connected
def gc(
    registry: Registry,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would be freed; change nothing.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Run a garbage collection pass on the registry: abandoned uploads, then unreferenced blobs."""
    params = {"dry_run": "true"} if dry_run else None
    report = registry.call("POST", "/gc", params=params, timeout=LONG)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    verb = "would free" if dry_run else "freed"
    typer.echo(
        f"gc{' (dry run)' if dry_run else ''}: {verb} {report['blobs_deleted']} blobs, {report['bytes_freed']} bytes; "
        f"{report['uploads_purged']} abandoned uploads; {report['duration_seconds']:.2f} s"
    )
