"""`moorage lifecycle …` and `moorage gc`: talk to a running registry's management API over HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated, Any

import typer

lifecycle_app = typer.Typer(help="Lifecycle policies (ECR JSON): preview, apply, runs.", no_args_is_help=True)

UrlOption = Annotated[
    str,
    typer.Option("--url", envvar="MOORAGE_URL", help="The registry's base URL (env MOORAGE_URL)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of a table.")]
DEFAULT_URL = "http://127.0.0.1:5000"


def _request(method: str, url: str, body: Any | None = None, timeout: float = 3600) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        try:
            problem = json.loads(error.read())
            message = problem.get("detail") or problem.get("title") or str(error)
        except ValueError:
            message = str(error)
        typer.echo(f"error: {error.code}: {message}", err=True)
        raise typer.Exit(1) from None
    except urllib.error.URLError as error:
        typer.echo(f"error: cannot reach {url}: {error.reason}", err=True)
        raise typer.Exit(2) from None


@lifecycle_app.command("preview")
def preview(
    repository: Annotated[str, typer.Argument(help="Repository name, e.g. team/app.")],
    policy: Annotated[
        Path | None, typer.Option("--policy", help="Policy file (ECR JSON); default: the repository's policy.")
    ] = None,
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """List what the lifecycle policy would expire and why, without changing anything."""
    document = None
    if policy is not None:
        try:
            document = json.loads(policy.read_text())
        except (OSError, ValueError) as error:
            raise typer.BadParameter(
                f"cannot read a JSON policy from {policy}: {error}", param_hint="--policy"
            ) from None
    result = _request("POST", f"{url.rstrip('/')}/api/v1/repositories/{repository}/lifecycle-preview", document)
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
def apply(url: UrlOption = DEFAULT_URL, as_json: JsonOption = False) -> None:
    """Apply every lifecycle policy now (the scheduled run, on demand)."""
    run = _request("POST", f"{url.rstrip('/')}/api/v1/lifecycle/runs")
    if as_json:
        typer.echo(json.dumps(run, indent=2, default=str))
        return
    typer.echo(
        f"run {run['id']}: {run['images_expired']} images expired in {run['repositories']} repositories, "
        f"{run['bytes_freed']} bytes released"
    )
    for item in run.get("expired") or []:
        typer.echo(f"  {item['repository']}@{item['digest'][:19]}  rule {item['rulePriority']}: {item['reason']}")


def gc(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would be freed; change nothing.")] = False,
    url: UrlOption = DEFAULT_URL,
    as_json: JsonOption = False,
) -> None:
    """Run a garbage collection pass on the registry: abandoned uploads, then unreferenced blobs."""
    query = "?dry_run=true" if dry_run else ""
    report = _request("POST", f"{url.rstrip('/')}/api/v1/gc{query}")
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    verb = "would free" if dry_run else "freed"
    typer.echo(
        f"gc{' (dry run)' if dry_run else ''}: {verb} {report['blobs_deleted']} blobs, {report['bytes_freed']} bytes; "
        f"{report['uploads_purged']} abandoned uploads; {report['duration_seconds']:.2f} s"
    )
