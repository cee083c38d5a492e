"""`moorage issuers …`: trust OIDC issuers (e.g. GitHub Actions) and manage their claim rules, over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from moorage.cli.remote import call

issuers_app = typer.Typer(help="Trusted OIDC issuers for CI federation and their claim rules.", no_args_is_help=True)

UrlOption = Annotated[str, typer.Option("--url", envvar="MOORAGE_URL", help="The registry's base URL.")]
UserOption = Annotated[str | None, typer.Option("--username", "-u", envvar="MOORAGE_USERNAME", help="Admin user.")]
PasswordOption = Annotated[
    str | None,
    typer.Option("--password", "-p", envvar="MOORAGE_PASSWORD", help="Password or token (prefer the env variable)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
DEFAULT_URL = "http://127.0.0.1:5000"


def _call(url: str, username: str | None, password: str | None, method: str, path: str, body: Any = None) -> Any:
    """One request to `/api/v1/oidc<path>` (see `remote.call`)."""
    return call(url, username, password, method, f"/oidc{path}", body)


def _pairs(values: list[str], what: str) -> dict[str, str]:
    result = {}
    for value in values:
        key, sep, pattern = value.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected CLAIM=VALUE, got {value!r}", param_hint=what)
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
def list_issuers(
    url: UrlOption = DEFAULT_URL,
    username: UserOption = None,
    password: PasswordOption = None,
    as_json: JsonOption = False,
) -> None:
    """List trusted issuers and their rules."""
    issuers = _call(url, username, password, "GET", "/issuers")
    if as_json:
        typer.echo(json.dumps(issuers, indent=2))
        return
    for issuer in issuers:
        _print_issuer(issuer)


@issuers_app.command("show")
def show(
    name: str,
    url: UrlOption = DEFAULT_URL,
    username: UserOption = None,
    password: PasswordOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one trusted issuer."""
    issuer = _call(url, username, password, "GET", f"/issuers/{name}")
    if as_json:
        typer.echo(json.dumps(issuer, indent=2))
    else:
        _print_issuer(issuer)


@issuers_app.command("trust")
def trust(
    name: str,
    issuer: Annotated[str, typer.Argument(help="The issuer URL, e.g. https://token.actions.githubusercontent.com")],
    audience: Annotated[str, typer.Option(help="The audience CI jobs request their ID tokens for.")],
    jwks_uri: Annotated[str | None, typer.Option("--jwks-uri", help="Keys URL (default: from discovery).")] = None,
    jwks_file: Annotated[
        Path | None, typer.Option("--jwks-file", help="Static JWKS file (air-gapped sites); nothing is fetched.")
    ] = None,
    url: UrlOption = DEFAULT_URL,
    username: UserOption = None,
    password: PasswordOption = None,
) -> None:
    """Trust an OIDC issuer (add rules next: without a rule its tokens get nothing)."""
    body: dict[str, Any] = {"name": name, "issuer": issuer, "audience": audience, "jwks_uri": jwks_uri}
    if jwks_file is not None:
        body["jwks"] = json.loads(jwks_file.read_text())
    _print_issuer(_call(url, username, password, "POST", "/issuers", body))


@issuers_app.command("remove")
def remove(
    name: str, url: UrlOption = DEFAULT_URL, username: UserOption = None, password: PasswordOption = None
) -> None:
    """Stop trusting an issuer; credentials exchanged through it stop working."""
    _call(url, username, password, "DELETE", f"/issuers/{name}")
    typer.echo(f"removed issuer {name}")


@issuers_app.command("add-rule")
def add_rule(
    name: str,
    rule: str,
    claim: Annotated[list[str], typer.Option("--claim", help="CLAIM=PATTERN (exact, or * and ? globs); repeatable.")],
    repository: Annotated[
        list[str], typer.Option("--repository", help="NAME, NAMESPACE/* or *; {claim} inserts a claim; repeatable.")
    ],
    action: Annotated[list[str], typer.Option("--action", help="pull, push or delete; repeatable.")],
    url: UrlOption = DEFAULT_URL,
    username: UserOption = None,
    password: PasswordOption = None,
) -> None:
    """Add a rule: tokens whose claims all match get the actions on the repositories."""
    body = {"name": rule, "claims": _pairs(claim, "--claim"), "repositories": repository, "actions": action}
    _print_issuer(_call(url, username, password, "POST", f"/issuers/{name}/rules", body))


@issuers_app.command("remove-rule")
def remove_rule(
    name: str, rule: str, url: UrlOption = DEFAULT_URL, username: UserOption = None, password: PasswordOption = None
) -> None:
    """Remove a rule from an issuer."""
    _call(url, username, password, "DELETE", f"/issuers/{name}/rules/{rule}")
    typer.echo(f"removed rule {rule} of issuer {name}")


@issuers_app.command("preview")
def preview(
    name: str,
    claim: Annotated[
        list[str] | None, typer.Option("--claim", help="CLAIM=VALUE of a sample token; repeatable.")
    ] = None,
    claims_file: Annotated[Path | None, typer.Option("--claims-file", help="A JSON object of sample claims.")] = None,
    url: UrlOption = DEFAULT_URL,
    username: UserOption = None,
    password: PasswordOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show what the issuer's rules would grant a token with these claims, and why (nothing is changed)."""
    claims: dict[str, Any] = json.loads(claims_file.read_text()) if claims_file else {}
    claims.update(_pairs(claim or [], "--claim"))
    decision = _call(url, username, password, "POST", f"/issuers/{name}/preview", {"claims": claims})
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
