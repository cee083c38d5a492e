"""`moorage repo`, `tag`, `images`, `audit`, `usage` and `template`: the governance commands, over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from moorage.cli import progress
from moorage.cli.client import Registry
from moorage.cli.connection import connected
from moorage.cli.errors import USAGE, CliError
from moorage.cli.inputs import json_file
from moorage.cli.output import JsonOption, emit, short_digest, table

repo_app = typer.Typer(help="Create, describe, list, update and delete repositories.", no_args_is_help=True)
tag_app = typer.Typer(help="Tag history.", no_args_is_help=True)
images_app = typer.Typer(help="Describe and delete images.", no_args_is_help=True)
audit_app = typer.Typer(help="Query, export and verify the audit log.", no_args_is_help=True)
usage_app = typer.Typer(help="Storage used by repositories and namespaces.", no_args_is_help=True)
template_app = typer.Typer(help="Repository creation templates per namespace prefix.", no_args_is_help=True)

MUTABILITY = ("MUTABLE", "IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION", "MUTABLE_WITH_EXCLUSION")
REPO_COLUMNS = ("name", "tag_mutability", "visibility", "image_count", "tag_count", "description")


def _settings(
    description: str | None,
    labels: list[str] | None,
    visibility: str | None,
    immutable: bool | None,
    mutability: str | None,
    exclude: list[str] | None,
    scan_on_push: bool | None,
    lifecycle_policy: Path | None,
) -> dict[str, Any]:
    """The settings given on the command line (None: not given, so unchanged)."""
    settings: dict[str, Any] = {}
    if description is not None:
        settings["description"] = description
    if labels:
        settings["labels"] = _labels(labels)
    if visibility is not None:
        settings["visibility"] = visibility
    if mutability is not None and immutable is not None:
        flag = "--immutable" if immutable else "--mutable"
        raise CliError(f"{flag} and --tag-mutability both set the mode: give one of them", USAGE)
    filters = _filters(exclude)
    if mutability is not None:
        settings["tag_mutability"] = mutability.upper()
    elif immutable is not None:
        settings["tag_mutability"] = (
            ("IMMUTABLE_WITH_EXCLUSION" if filters else "IMMUTABLE")
            if immutable
            else ("MUTABLE_WITH_EXCLUSION" if filters else "MUTABLE")
        )
    if filters is not None:
        settings["tag_mutability_exclusion_filters"] = filters
    if scan_on_push is not None:
        settings["scan_on_push"] = scan_on_push
    if lifecycle_policy is not None:
        settings["lifecycle_policy"] = json_file(lifecycle_policy, "--lifecycle-policy")
    return settings


def _labels(labels: list[str]) -> dict[str, str]:
    """`KEY=VALUE` pairs; a bare `KEY` is refused rather than guessed (`KEY=` gives an empty value)."""
    found: dict[str, str] = {}
    for label in labels:
        key, equals, value = label.partition("=")
        if not equals or not key:
            raise CliError(f"--label {label!r}: expected KEY=VALUE (KEY= for an empty value)", USAGE)
        found[key] = value
    return found


def _filters(exclude: list[str] | None) -> list[str] | None:
    """The exclusion filters given (None: unchanged); `--exclude ''` alone clears them."""
    if not exclude:
        return None
    if "" in exclude:
        if len(exclude) > 1:
            raise CliError("--exclude '' clears the filters: give it alone, without other --exclude", USAGE)
        return []
    return exclude


Description = Annotated[str | None, typer.Option(help="What the repository holds.")]
Labels = Annotated[list[str] | None, typer.Option("--label", help="KEY=VALUE; repeat for several.")]
VisibilityOpt = Annotated[str | None, typer.Option(help="private or public (anonymous pulls).")]
Immutable = Annotated[bool | None, typer.Option("--immutable/--mutable", help="Whether tags may move.")]
Mutability = Annotated[str | None, typer.Option("--tag-mutability", help=" | ".join(MUTABILITY))]
Exclude = Annotated[
    list[str] | None,
    typer.Option("--exclude", help="Tag filter (wildcard *) excepted from the rule; repeat; --exclude '' clears them."),
]
ScanOnPush = Annotated[bool | None, typer.Option("--scan-on-push/--no-scan-on-push")]
Lifecycle = Annotated[Path | None, typer.Option("--lifecycle-policy", help="JSON file with the lifecycle policy.")]


@repo_app.command("create")
@connected
def repo_create(
    registry: Registry,
    name: str,
    description: Description = None,
    label: Labels = None,
    visibility: VisibilityOpt = None,
    immutable: Immutable = None,
    tag_mutability: Mutability = None,
    exclude: Exclude = None,
    scan_on_push: ScanOnPush = None,
    lifecycle_policy: Lifecycle = None,
    as_json: JsonOption = False,
) -> None:
    """Create a repository (settings not given come from the namespace's creation template)."""
    settings = _settings(
        description, label, visibility, immutable, tag_mutability, exclude, scan_on_push, lifecycle_policy
    )
    emit(registry.call("POST", "/repositories", json={"name": name, **settings}), as_json)


@repo_app.command("describe")
@connected
def repo_describe(registry: Registry, name: str, as_json: JsonOption = False) -> None:
    """Show a repository's settings and contents."""
    emit(registry.call("GET", f"/repositories/{name}"), as_json)


@repo_app.command("list")
@connected
def repo_list(
    registry: Registry,
    prefix: Annotated[str | None, typer.Option(help="Only this namespace.")] = None,
    label: Labels = None,
    visibility: VisibilityOpt = None,
    limit: Annotated[int, typer.Option(help="Page size.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """List repositories (every page)."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": limit, "label": label or [], "prefix": prefix, "visibility": visibility}
    while True:
        page = registry.call("GET", "/repositories", params={k: v for k, v in params.items() if v is not None})
        found += page["repositories"]
        if page["next"] is None:
            break
        params["last"] = page["next"]
    emit(found, as_json, REPO_COLUMNS, found)


@repo_app.command("update")
@connected
def repo_update(
    registry: Registry,
    name: str,
    description: Description = None,
    label: Labels = None,
    visibility: VisibilityOpt = None,
    immutable: Immutable = None,
    tag_mutability: Mutability = None,
    exclude: Exclude = None,
    scan_on_push: ScanOnPush = None,
    lifecycle_policy: Lifecycle = None,
    as_json: JsonOption = False,
) -> None:
    """Change the given settings; the others keep their values."""
    settings = _settings(
        description, label, visibility, immutable, tag_mutability, exclude, scan_on_push, lifecycle_policy
    )
    emit(registry.call("PATCH", f"/repositories/{name}", json=settings), as_json)


@repo_app.command("delete")
@connected
def repo_delete(
    registry: Registry,
    name: str,
    force: Annotated[bool, typer.Option("--force", help="Delete even if it holds images.")] = False,
) -> None:
    """Delete a repository (refused while it holds images unless --force)."""
    registry.call("DELETE", f"/repositories/{name}", params={"force": str(force).lower()})
    typer.echo(f"deleted {name}")


def _split_reference(reference: str) -> tuple[str, str]:
    name, _, tag = reference.rpartition(":")
    if not name or "/" in tag:
        raise typer.BadParameter("expected REPOSITORY:TAG", param_hint="REFERENCE")
    return name, tag


@tag_app.command("history")
@connected
def tag_history(
    registry: Registry,
    reference: Annotated[str, typer.Argument(help="REPOSITORY:TAG")],
    at: Annotated[
        datetime | None,
        typer.Option("--at", help="Show what the tag pointed to at this time (UTC unless a zone is given)."),
    ] = None,
    full_digests: Annotated[
        bool, typer.Option("--full-digests", help="Whole digests in the table (default: sha256: and 12 digits).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Every creation, move and deletion of a tag, or what it pointed to at a time."""
    name, tag = _split_reference(reference)
    if at is not None:
        answer = registry.call("GET", f"/repositories/{name}/-/tags/{tag}/at", params={"time": at.isoformat()})
        if as_json:
            emit(answer, True)
        else:
            typer.echo(answer["digest"] or f"{reference} did not exist at {answer['at']}")
        return
    events: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 1000}
    while True:
        page = registry.call("GET", f"/repositories/{name}/-/tags/{tag}/history", params=params)
        events += page["events"]
        if page["next"] is None:
            break
        params["after"] = page["next"]
    if as_json:
        emit(events, True)
        return
    digest = (lambda d: d) if full_digests else short_digest
    rows = [
        {
            "at": _utc_seconds(e["at"]),
            "action": e["action"],
            "old": digest(e["old_digest"]),
            "new": digest(e["new_digest"]),
            "actor": e["actor"]["name"],
            "address": e["source_address"],
        }
        for e in events
    ]
    # Fits 100 columns: the time to the second, short digests; a long name or address is cut.
    table(rows, ("at", "action", "old", "new", "actor", "address"), shrinkable=("actor", "address"))


def _utc_seconds(moment: str) -> str:
    parsed = datetime.fromisoformat(moment)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return parsed.strftime("%Y-%m-%d %H:%M:%SZ")


@images_app.command("list")
@connected
def images_list(
    registry: Registry,
    repository: str,
    tagged: Annotated[bool | None, typer.Option("--tagged/--untagged", help="Only tagged or untagged images.")] = None,
    newest_first: Annotated[bool, typer.Option("--newest-first", help="Sort by push time, newest first.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Describe the images of a repository (like `aws ecr describe-images`)."""
    params: dict[str, Any] = {"limit": 1000, "sort": "-pushed_at" if newest_first else "pushed_at"}
    if tagged is not None:
        params["tag_status"] = "tagged" if tagged else "untagged"
    found: list[dict[str, Any]] = []
    while True:
        page = registry.call("GET", f"/repositories/{repository}/-/images", params=params)
        found += page["images"]
        if page["next"] is None:
            break
        params["after"] = page["next"]
    rows = [{**i, "platforms": [f"{p['os']}/{p['architecture']}" for p in i["platforms"]]} for i in found]
    columns = ("digest", "tags", "size", "pushed_at", "last_pulled_at", "pull_count", "platforms")
    emit(found, as_json, columns, rows)


@images_app.command("delete")
@connected
def images_delete(
    registry: Registry,
    repository: str,
    references: Annotated[list[str], typer.Argument(help="Tags or digests to delete.")],
    as_json: JsonOption = False,
) -> None:
    """Delete images by tag or digest (like `aws ecr batch-delete-image`), reporting each."""
    ids = [{"digest": r} if ":" in r else {"tag": r} for r in references]
    answer = progress.with_progress(
        lambda: registry.call("POST", f"/repositories/{repository}/-/images/batch-delete", json={"image_ids": ids}),
        f"deleting {len(ids)} image(s) from {repository}",
        enabled=progress.wanted(as_json) and len(ids) > 1,
    )
    emit(answer, as_json, ("reference", "deleted", "code", "message"), answer["results"])
    if not all(result["deleted"] for result in answer["results"]):
        raise typer.Exit(1)


def _audit_params(
    repository: str | None, action: str | None, actor: str | None, since: datetime | None, until: datetime | None
) -> dict[str, Any]:
    params = {"repository": repository, "action": action, "actor": actor}
    params["since"] = since.isoformat() if since else None
    params["until"] = until.isoformat() if until else None
    return {k: v for k, v in params.items() if v is not None}


Repository = Annotated[str | None, typer.Option(help="Only entries about this repository.")]
AuditAction = Annotated[str | None, typer.Option(help="An action (tag.move) or a prefix ending in '.' (tag.).")]
AuditActor = Annotated[str | None, typer.Option(help="Only this actor's entries.")]
Since = Annotated[datetime | None, typer.Option(help="From this time (UTC unless a zone is given).")]
Until = Annotated[datetime | None, typer.Option(help="Up to this time.")]


@audit_app.command("list")
@connected
def audit_list(
    registry: Registry,
    repository: Repository = None,
    action: AuditAction = None,
    actor: AuditActor = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, typer.Option(help="At most this many entries.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """Show audit log entries, oldest first."""
    params = {**_audit_params(repository, action, actor, since, until), "limit": limit}
    entries = registry.call("GET", "/audit", params=params)["entries"]
    rows = [{**e, "actor": e["actor"]["name"]} for e in entries]
    emit(entries, as_json, ("id", "at", "action", "outcome", "repository", "target", "actor", "source_address"), rows)


@audit_app.command("export")
@connected
def audit_export(
    registry: Registry,
    repository: Repository = None,
    action: AuditAction = None,
    actor: AuditActor = None,
    since: Since = None,
    until: Until = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Export the audit log as JSON lines."""
    lines = registry.stream_lines("/audit/export", _audit_params(repository, action, actor, since, until))
    if output is None:
        for line in lines:
            typer.echo(line)
        return
    with output.open("w") as file:
        for line in lines:
            file.write(line + "\n")


@audit_app.command("head")
@connected
def audit_head(registry: Registry, as_json: JsonOption = False) -> None:
    """The newest entry's id and hash: keep the hash elsewhere, and give it to `audit verify --head` later."""
    emit(registry.call("GET", "/audit/head"), as_json)


@audit_app.command("verify")
@connected
def audit_verify(
    registry: Registry,
    head: Annotated[
        str | None, typer.Option(help="A head hash kept from `audit head`: it must still be in the chain.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Re-compute the audit log's hash chain; exit 1 naming the first entry changed, removed or inserted."""
    report = registry.call("GET", "/audit/verify", params={"head": head} if head else {})
    if as_json:
        emit(report, True)
    elif report["valid"]:
        newest = report["head"]
        typer.echo(f"audit log intact: {report['entries']} entries; head entry {newest['id']} {newest['hash']}")
    broken = report["first_break"]
    if broken is not None:
        raise CliError(f"audit log broken at entry {broken['id']} ({broken['problem']}): {broken['message']}")


@usage_app.command("repo")
@connected
def usage_repo(registry: Registry, name: str, as_json: JsonOption = False) -> None:
    """Storage used by one repository."""
    emit(registry.call("GET", f"/repositories/{name}/-/usage"), as_json)


@usage_app.command("namespace")
@connected
def usage_namespace(registry: Registry, name: str, as_json: JsonOption = False) -> None:
    """Storage used by every repository of a namespace (shared blobs counted once)."""
    emit(registry.call("GET", f"/namespaces/{name}/usage"), as_json)


@template_app.command("list")
@connected
def template_list(registry: Registry, as_json: JsonOption = False) -> None:
    """List creation templates."""
    found = registry.call("GET", "/creation-templates")
    emit(
        found,
        as_json,
        ("prefix", "create_on_push", "tag_mutability", "tag_mutability_exclusion_filters", "visibility"),
        found,
    )


@template_app.command("put")
@connected
def template_put(
    registry: Registry,
    prefix: Annotated[str, typer.Argument(help="A namespace prefix, or ROOT for every repository.")],
    create_on_push: Annotated[
        bool, typer.Option("--create-on-push/--no-create-on-push", help="May a push create repositories here?")
    ] = False,
    description: Description = None,
    label: Labels = None,
    visibility: VisibilityOpt = None,
    immutable: Immutable = None,
    tag_mutability: Mutability = None,
    exclude: Exclude = None,
    scan_on_push: ScanOnPush = None,
    lifecycle_policy: Lifecycle = None,
    as_json: JsonOption = False,
) -> None:
    """Create or replace the creation template of a prefix."""
    settings = _settings(
        description, label, visibility, immutable, tag_mutability, exclude, scan_on_push, lifecycle_policy
    )
    body = {**settings, "create_on_push": create_on_push}
    emit(registry.call("PUT", f"/creation-templates/{prefix}", json=body), as_json)


@template_app.command("delete")
@connected
def template_delete(registry: Registry, prefix: str) -> None:
    """Delete a creation template."""
    registry.call("DELETE", f"/creation-templates/{prefix}")
    typer.echo(f"deleted template {prefix}")


def register(app: typer.Typer) -> None:
    """Add the governance commands to the `moorage` command."""
    app.add_typer(repo_app, name="repo")
    app.add_typer(tag_app, name="tag")
    app.add_typer(images_app, name="images")
    app.add_typer(audit_app, name="audit")
    app.add_typer(usage_app, name="usage")
    app.add_typer(template_app, name="template")
