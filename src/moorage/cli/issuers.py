"""`moorage issuers …`: trust OIDC issuers (e.g. GitHub Actions) and manage their claim rules, over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from moorage.cli.client import Registry
from moorage.cli.connection import connected
from moorage.cli.errors import USAGE, CliError
from moorage.cli.inputs import json_file
from moorage.cli.output import JsonOption

issuers_app = typer.Typer(help="Trusted OIDC issuers for CI federation and their claim rules.", no_args_is_help=True)


def _pairs(values: list[str], what: str) -> dict[str, str]:
    result = {}
    for value in values:
        key, sep, pattern = value.partition("=")
        if not sep or not key:
            raise CliError(f"{what}: expected CLAIM=VALUE, got {value!r}", USAGE)
        result[key] = pattern
    return result


def _print_issuer(issuer: dict[str, Any]) -> None:
    keys = "static JWKS" if issuer["jwks"] else issuer["jwks_uri"] or "discovered"
    typer.echo(f"{issuer['name']}  {issuer['issuer']}  audience={issuer['audience']}  keys={keys}")
    for rule in issuer["rules"]:
        claims = ", ".join(f"{k}={v}" for k, v in rule["claims"].items())
        typer.echo(
            f"  rule {rule['name']}: if {claims} → {','.join(rule['actions'])} on {', '.join(rule['repositories'])}"
        )


@issuers_app.command("list")
@connected
def list_issuers(registry: Registry, as_json: JsonOption = False) -> None:
    """List trusted issuers and their rules."""
    issuers = registry.call("GET", "/oidc/issuers")
    if as_json:
        typer.echo(json.dumps(issuers, indent=2))
        return
    for issuer in issuers:
        _print_issuer(issuer)


@issuers_app.command("show")
@connected
def show(registry: Registry, name: str, as_json: JsonOption = False) -> None:
    """Show one trusted issuer."""
    issuer = registry.call("GET", f"/oidc/issuers/{name}")
    if as_json:
        typer.echo(json.dumps(issuer, indent=2))
    else:
        _print_issuer(issuer)


@issuers_app.command("trust")
@connected
def trust(
    registry: Registry,
    name: str,
    issuer: Annotated[str, typer.Argument(help="The issuer URL, e.g. https://token.actions.githubusercontent.com")],
    audience: Annotated[str, typer.Option(help="The audience CI jobs request their ID tokens for.")],
    jwks_uri: Annotated[str | None, typer.Option("--jwks-uri", help="Keys URL (default: from discovery).")] = None,
    jwks_file: Annotated[
        Path | None, typer.Option("--jwks-file", help="Static JWKS file (air-gapped sites); nothing is fetched.")
    ] = None,
) -> None:
    """Trust an OIDC issuer (add rules next: without a rule its tokens get nothing)."""
    body: dict[str, Any] = {"name": name, "issuer": issuer, "audience": audience, "jwks_uri": jwks_uri}
    if jwks_file is not None:
        body["jwks"] = json_file(jwks_file, "--jwks-file")
    _print_issuer(registry.call("POST", "/oidc/issuers", json=body))


@issuers_app.command("remove")
@connected
def remove(registry: Registry, name: str) -> None:
    """Stop trusting an issuer; credentials exchanged through it stop working."""
    registry.call("DELETE", f"/oidc/issuers/{name}")
    typer.echo(f"removed issuer {name}")


@issuers_app.command("add-rule")
@connected
def add_rule(
    registry: Registry,
    name: str,
    rule: str,
    claim: Annotated[list[str], typer.Option("--claim", help="CLAIM=PATTERN (exact, or * and ? globs); repeatable.")],
    repository: Annotated[
        list[str], typer.Option("--repository", help="NAME, NAMESPACE/* or *; {claim} inserts a claim; repeatable.")
    ],
    action: Annotated[list[str], typer.Option("--action", help="pull, push or delete; repeatable.")],
) -> None:
    """Add a rule: tokens whose claims all match get the actions on the repositories."""
    body = {"name": rule, "claims": _pairs(claim, "--claim"), "repositories": repository, "actions": action}
    _print_issuer(registry.call("POST", f"/oidc/issuers/{name}/rules", json=body))


@issuers_app.command("remove-rule")
@connected
def remove_rule(registry: Registry, name: str, rule: str) -> None:
    """Remove a rule from an issuer."""
    registry.call("DELETE", f"/oidc/issuers/{name}/rules/{rule}")
    typer.echo(f"removed rule {rule} of issuer {name}")


@issuers_app.command("preview")
@connected
def preview(
    registry: Registry,
    name: str,
    claim: Annotated[
        list[str] | None, typer.Option("--claim", help="CLAIM=VALUE of a sample token; repeatable.")
    ] = None,
    claims_file: Annotated[Path | None, typer.Option("--claims-file", help="A JSON object of sample claims.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Show what the issuer's rules would grant a token with these claims, and why (nothing is changed)."""
    claims: dict[str, Any] = json_file(claims_file, "--claims-file") if claims_file else {}
    claims.update(_pairs(claim or [], "--claim"))
    decision = registry.call("POST", f"/oidc/issuers/{name}/preview", json={"claims": claims})
    if as_json:
        typer.echo(json.dumps(decision, indent=2))
        return
    for grant in decision["grants"]:
        typer.echo(f"grant {','.join(grant['actions'])} on {grant['repository']}")
    if not decision["grants"]:
        typer.echo("no grant")
    for outcome in decision["rules"]:
        state = "matched" if outcome["matched"] else "not matched"
        reasons = f": {'; '.join(outcome['reasons'])}" if outcome["reasons"] else ""
        typer.echo(f"  rule {outcome['rule']}: {state}{reasons}")
