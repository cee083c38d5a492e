"""`moorage lifecycle …` and `moorage gc …`: talk to a running registry's management API over HTTP.

The policy verbs follow `aws ecr put-lifecycle-policy / get-lifecycle-policy / delete-lifecycle-policy`;
`get` shows the policy in force and where it is set (the repository, or a namespace above it).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from moorage.cli import progress
from moorage.cli.client import Registry
from moorage.cli.connection import connected
from moorage.cli.inputs import json_file
from moorage.cli.output import JsonOption, emit

lifecycle_app = typer.Typer(
    help="Lifecycle policies (ECR JSON): put, get, delete, preview, apply, runs.", no_args_is_help=True
)
gc_app = typer.Typer(help="Garbage collection: run a pass now (`moorage gc`), or list past runs.")

LONG = 3600.0  # seconds: a lifecycle run or a collection may take a while on a large registry
RUN_COLUMNS = ("id", "status", "trigger", "started_by", "started_at", "finished_at", "images_expired", "bytes_freed")
GC_RUN_COLUMNS = ("id", "status", "dry_run", "started_at", "finished_at", "blobs_deleted", "bytes_freed")

Target = Annotated[str, typer.Argument(help="Repository name (e.g. team/app), or a namespace with --namespace.")]
NamespaceOption = Annotated[
    bool, typer.Option("--namespace", help="NAME is a namespace: its policy is the default for NAME/….")
]
Limit = Annotated[int, typer.Option("--limit", min=1, max=200, help="How many recent runs.")]


def _policy_path(name: str, namespace: bool) -> str:
    return f"/{'namespaces' if namespace else 'repositories'}/{name}/lifecycle-policy"


@lifecycle_app.command("put")
@connected
def put(
    registry: Registry,
    name: Target,
    policy: Annotated[Path, typer.Option("--policy", help="Policy file (ECR JSON).")],
    namespace: NamespaceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Set the lifecycle policy of a repository (or namespace), like `aws ecr put-lifecycle-policy`."""
    document = json_file(policy, "--policy")
    stored = registry.call("PUT", _policy_path(name, namespace), json=document)
    if as_json:
        emit(stored, True)
        return
    rules = len(stored.get("rules") or [])
    typer.echo(f"{'namespace' if namespace else 'repository'} {name}: lifecycle policy set ({rules} rules)")


@lifecycle_app.command("get")
@connected
def get(registry: Registry, name: Target, namespace: NamespaceOption = False, as_json: JsonOption = False) -> None:
    """Show the lifecycle policy in force and where it is set, like `aws ecr get-lifecycle-policy`."""
    found = registry.call("GET", _policy_path(name, namespace))
    if as_json:
        emit(found, True)
        return
    where = "the repository itself" if found["source"] == "repository" else f"namespace {found['namespace']}"
    typer.echo(f"# lifecycle policy in force for {name}: set on {where}")
    typer.echo(json.dumps(found["policy"], indent=2))


@lifecycle_app.command("delete")
@connected
def delete(registry: Registry, name: Target, namespace: NamespaceOption = False) -> None:
    """Remove the repository's (or namespace's) own policy, like `aws ecr delete-lifecycle-policy`."""
    registry.call("DELETE", _policy_path(name, namespace))
    typer.echo(f"{'namespace' if namespace else 'repository'} {name}: lifecycle policy deleted")


@lifecycle_app.command("preview")
@connected
def preview(
    registry: Registry,
    repository: Annotated[str, typer.Argument(help="Repository name, e.g. team/app.")],
    policy: Annotated[
        Path | None, typer.Option("--policy", help="Policy file (ECR JSON); default: the repository's policy.")
    ] = None,
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", help="Judge the images as if it were this time (UTC unless a zone is given)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List what the lifecycle policy would expire and why, without changing anything."""
    document = json_file(policy, "--policy") if policy is not None else None
    params = {"as_of": as_of.isoformat()} if as_of is not None else None
    result = registry.call("POST", f"/repositories/{repository}/lifecycle-preview", json=document, params=params)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    summary = result["summary"]
    when = f" as of {result['asOf']}" if as_of is not None else ""
    typer.echo(
        f"{repository}: policy from {result['policySource']}{when}; "
        f"{summary['expiring']} of {summary['images']} images would expire ({summary['bytesExpiring']} bytes)"
    )
    for item in result["results"]:
        tags = ",".join(item["imageTags"]) or "<untagged>"
        typer.echo(f"{item['action'].upper():6} {item['imageDigest'][:19]}  {tags:30}  {item['reason']}")


@lifecycle_app.command("apply")
@connected
def apply(
    registry: Registry,
    repository: Annotated[
        str | None, typer.Argument(help="Only this repository (default: every repository with a policy).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Apply the lifecycle policies now (the scheduled run, on demand), or one repository's."""
    path = "/lifecycle/runs" if repository is None else f"/repositories/{repository}/lifecycle-apply"
    run = progress.with_progress(
        lambda: registry.call("POST", path, timeout=LONG),
        "lifecycle run",
        progress.lifecycle_status(registry),
        enabled=progress.wanted(as_json),
    )
    if as_json:
        typer.echo(json.dumps(run, indent=2, default=str))
        return
    typer.echo(
        f"run {run['id']}: {run['images_expired']} images expired in {run['repositories']} repositories, "
        f"{run['bytes_freed']} bytes released"
    )
    for item in run.get("expired") or []:
        typer.echo(f"  {item['repository']}@{item['digest'][:19]}  rule {item['rulePriority']}: {item['reason']}")


@lifecycle_app.command("runs")
@connected
def runs(registry: Registry, limit: Limit = 20, as_json: JsonOption = False) -> None:
    """Recent lifecycle runs: who or what started them, what they expired."""
    found: list[dict[str, Any]] = registry.call("GET", "/lifecycle/runs", params={"limit": limit})
    emit(found, as_json, RUN_COLUMNS, found)


@gc_app.callback(invoke_without_command=True)
@connected
def gc(
    registry: Registry,
    context: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would be freed; change nothing.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Run a garbage collection pass on the registry: abandoned uploads, then unreferenced blobs."""
    if context.invoked_subcommand is not None:
        return  # `moorage gc runs`: the subcommand does the work
    params = {"dry_run": "true"} if dry_run else None
    report = progress.with_progress(
        lambda: registry.call("POST", "/gc", params=params, timeout=LONG),
        "garbage collection" + (" (dry run)" if dry_run else ""),
        None if dry_run else progress.gc_status(registry),
        enabled=progress.wanted(as_json),
    )
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    verb = "would free" if dry_run else "freed"
    typer.echo(
        f"gc{' (dry run)' if dry_run else ''}: {verb} {report['blobs_deleted']} blobs, {report['bytes_freed']} bytes; "
        f"{report['uploads_purged']} abandoned uploads; {report['duration_seconds']:.2f} s"
    )


@gc_app.command("runs")
@connected
def gc_runs(registry: Registry, limit: Limit = 20, as_json: JsonOption = False) -> None:
    """Recent garbage collection runs."""
    found: list[dict[str, Any]] = registry.call("GET", "/gc/runs", params={"limit": limit})
    emit(found, as_json, GC_RUN_COLUMNS, found)
