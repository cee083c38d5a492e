"""`moorage webhook`: subscribe URLs to events, read the delivery log, redeliver, ping (docs/webhooks.md)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from moorage.cli.client import Registry
from moorage.cli.connection import connected
from moorage.cli.output import JsonOption, emit, table

webhook_app = typer.Typer(
    help="Webhooks: signed HTTP notifications of pushes, deletes, tag changes, expiries and scans.",
    no_args_is_help=True,
)

COLUMNS = ("id", "scope_kind", "scope", "url", "events", "enabled")
DELIVERY_COLUMNS = ("id", "event_type", "repository", "state", "attempts", "status", "error", "created_at")
ATTEMPT_COLUMNS = ("attempted_at", "status_code", "error", "duration_ms")

Id = Annotated[int, typer.Argument(help="The webhook's id (see `moorage webhook list`).")]
Events = Annotated[
    list[str] | None,
    typer.Option(
        "--event",
        help="An event type to hear (repeat for several; default: all): manifest.push, manifest.delete, "
        "tag.create, tag.move, tag.delete, lifecycle.expire, scan.completed.",
    ),
]
Description = Annotated[str | None, typer.Option("--description", help="A note for people.")]


def _secret_notice(answer: dict[str, Any], as_json: bool) -> None:
    """The secret is shown once: in the JSON, or in a line of its own after the table."""
    secret = answer.pop("secret")
    if as_json:
        emit({**answer, "secret": secret}, True)
        return
    emit(answer, False)
    typer.echo(f"{'signing secret:':<34} {secret}")
    typer.echo("Store the signing secret now: it is not shown again (`moorage webhook rotate-secret` makes a new one).")


@webhook_app.command("create")
@connected
def create(
    registry: Registry,
    target: Annotated[str, typer.Argument(help="The URL deliveries are POSTed to (http or https).")],
    repository: Annotated[str | None, typer.Option("--repository", help="Hear one repository.")] = None,
    namespace: Annotated[
        str | None, typer.Option("--namespace", help="Hear every repository under NAMESPACE/.")
    ] = None,
    everything: Annotated[bool, typer.Option("--registry", help="Hear every repository (registry admins).")] = False,
    event: Events = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it disabled (events are not queued).")] = False,
    description: Description = None,
    as_json: JsonOption = False,
) -> None:
    """Subscribe TARGET to events of a repository, a namespace or the registry; prints the signing secret once."""
    chosen = [(kind, value) for kind, value in (("repository", repository), ("namespace", namespace)) if value]
    if everything:
        chosen.append(("registry", "*"))
    if len(chosen) != 1:
        raise typer.BadParameter("give exactly one of --repository, --namespace, --registry", param_hint="--repository")
    kind, scope = chosen[0]
    body: dict[str, Any] = {"scope_kind": kind, "scope": scope, "url": target, "enabled": not disabled}
    if event:
        body["events"] = event
    if description is not None:
        body["description"] = description
    _secret_notice(registry.call("POST", "/webhooks", json=body), as_json)


@webhook_app.command("list")
@connected
def list_webhooks(
    registry: Registry,
    scope: Annotated[
        str | None, typer.Option("--scope", help="Only subscriptions on this repository or namespace.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The subscriptions you manage."""
    params = {"scope": scope} if scope else {}
    table(registry.call("GET", "/webhooks", params=params), COLUMNS, as_json)


@webhook_app.command("show")
@connected
def show(registry: Registry, webhook: Id, as_json: JsonOption = False) -> None:
    """One subscription (its secret is never shown again)."""
    emit(registry.call("GET", f"/webhooks/{webhook}"), as_json)


@webhook_app.command("update")
@connected
def update(
    registry: Registry,
    webhook: Id,
    target: Annotated[str | None, typer.Option("--target", help="A new target URL.")] = None,
    event: Events = None,
    enabled: Annotated[
        bool | None, typer.Option("--enable/--disable", help="Queue events for it, or stop.", show_default=False)
    ] = None,
    description: Description = None,
    as_json: JsonOption = False,
) -> None:
    """Change a subscription's target, events, state or description."""
    body: dict[str, Any] = {}
    for key, value in (("url", target), ("events", event), ("enabled", enabled), ("description", description)):
        if value is not None:
            body[key] = value
    emit(registry.call("PATCH", f"/webhooks/{webhook}", json=body), as_json)


@webhook_app.command("delete")
@connected
def delete(registry: Registry, webhook: Id) -> None:
    """Delete a subscription with its pending deliveries and delivery log."""
    registry.call("DELETE", f"/webhooks/{webhook}")
    typer.echo(f"deleted webhook {webhook}")


@webhook_app.command("rotate-secret")
@connected
def rotate_secret(registry: Registry, webhook: Id, as_json: JsonOption = False) -> None:
    """Replace the signing secret; prints the new one once. Retries are signed with it too."""
    _secret_notice(registry.call("POST", f"/webhooks/{webhook}/rotate-secret"), as_json)


def _flat(delivery: dict[str, Any]) -> dict[str, Any]:
    last = delivery.get("last_attempt") or {}
    return {**delivery, "status": last.get("status_code"), "error": last.get("error")}


@webhook_app.command("deliveries")
@connected
def deliveries(
    registry: Registry,
    webhook: Id,
    delivery: Annotated[int | None, typer.Option("--delivery", help="Show one delivery with every attempt.")] = None,
    state: Annotated[str | None, typer.Option("--state", help="pending, delivered or failed.")] = None,
    event_type: Annotated[str | None, typer.Option("--event", help="Only this event type.")] = None,
    repository: Annotated[str | None, typer.Option("--repository", help="Only this repository.")] = None,
    before: Annotated[int | None, typer.Option("--before", help="Older than this delivery id (next page).")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many (1-500).")] = 50,
    as_json: JsonOption = False,
) -> None:
    """The delivery log, newest first; --delivery ID shows one with its attempts."""
    if delivery is not None:
        found = registry.call("GET", f"/webhooks/{webhook}/deliveries/{delivery}")
        if as_json:
            emit(found, True)
            return
        attempts = found.pop("attempt_log")
        found.pop("last_attempt", None)
        emit(found, False)
        typer.echo("")
        table(attempts, ATTEMPT_COLUMNS)
        return
    params: dict[str, Any] = {"limit": limit}
    for key, value in (("state", state), ("event_type", event_type), ("repository", repository), ("before", before)):
        if value is not None:
            params[key] = value
    rows = registry.call("GET", f"/webhooks/{webhook}/deliveries", params=params)
    table(rows if as_json else [_flat(row) for row in rows], DELIVERY_COLUMNS, as_json)


@webhook_app.command("redeliver")
@connected
def redeliver(registry: Registry, webhook: Id, delivery: int, as_json: JsonOption = False) -> None:
    """Send a delivery's event again (same event id), after the repository's pending deliveries."""
    answer = registry.call("POST", f"/webhooks/{webhook}/deliveries/{delivery}/redeliver")
    if as_json:
        emit(answer, True)
    else:
        table([_flat(answer)], DELIVERY_COLUMNS)


@webhook_app.command("ping")
@connected
def ping(registry: Registry, webhook: Id, as_json: JsonOption = False) -> None:
    """Send a signed test event now and show what the receiver answered."""
    found = registry.call("POST", f"/webhooks/{webhook}/ping")
    if as_json:
        emit(found, True)
        return
    table(found["attempt_log"], ATTEMPT_COLUMNS)
    if found["state"] != "delivered":
        raise typer.Exit(1)
