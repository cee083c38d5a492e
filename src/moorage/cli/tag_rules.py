"""`moorage tag-rules`: show and set the tag naming rules of a namespace, a repository or a creation template."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from moorage.cli.client import Registry
from moorage.cli.connection import connected
from moorage.cli.output import JsonOption, emit, table

tag_rules_app = typer.Typer(
    help="Tag naming rules: allowed and refused tag patterns (glob, or re:REGEX) per namespace or repository.",
    no_args_is_help=True,
)

Namespace = Annotated[
    bool, typer.Option("--namespace", help="NAME is a namespace: the rules govern every repository under NAME/.")
]
Template = Annotated[bool, typer.Option("--template", help="NAME is a creation template's prefix.")]
Allow = Annotated[
    list[str] | None, typer.Option("--allow", help="A tag pattern pushes must match (one of); repeat for several.")
]
Refuse = Annotated[list[str] | None, typer.Option("--refuse", help="A tag pattern refused; repeat for several.")]

TEMPLATE_OUTPUT_ONLY = ("prefix", "created_at", "updated_at")
IN_FORCE_COLUMNS = ("source", "scope", "allowed", "refused")


def _one_target(namespace: bool, template: bool) -> None:
    if namespace and template:
        raise typer.BadParameter("--namespace and --template exclude each other", param_hint="--template")


def _template_with(registry: Registry, prefix: str, rules: dict[str, Any] | None) -> dict[str, Any]:
    """Replace only the template's tag rules (a template is written whole)."""
    current = registry.call("GET", f"/creation-templates/{prefix}")
    body = {key: value for key, value in current.items() if key not in TEMPLATE_OUTPUT_ONLY}
    body["tag_rules"] = rules
    answer: dict[str, Any] = registry.call("PUT", f"/creation-templates/{prefix}", json=body)
    return answer


@tag_rules_app.command("show")
@connected
def show(
    registry: Registry, name: str, namespace: Namespace = False, template: Template = False, as_json: JsonOption = False
) -> None:
    """A repository's rules in force with their sources, or a namespace's or template's own rules."""
    _one_target(namespace, template)
    if namespace:
        emit(registry.call("GET", f"/namespaces/{name}/tag-rules"), as_json)
    elif template:
        rules = registry.call("GET", f"/creation-templates/{name}")["tag_rules"]
        emit(rules or {"allowed": [], "refused": []}, as_json)
    else:
        layers = registry.call("GET", f"/repositories/{name}")["tag_rules_in_force"] or []
        if not layers and not as_json:
            typer.echo(f"no tag naming rules apply to {name}")
            return
        table(layers, IN_FORCE_COLUMNS, as_json)


@tag_rules_app.command("set")
@connected
def set_rules(
    registry: Registry,
    name: str,
    allow: Allow = None,
    refuse: Refuse = None,
    namespace: Namespace = False,
    template: Template = False,
    as_json: JsonOption = False,
) -> None:
    """Replace the rules of a repository (default), a namespace or a template; tags that exist stay."""
    _one_target(namespace, template)
    rules = {"allowed": allow or [], "refused": refuse or []}
    if namespace:
        answer = registry.call("PUT", f"/namespaces/{name}/tag-rules", json=rules)
    elif template:
        answer = _template_with(registry, name, rules)["tag_rules"]
    else:
        answer = registry.call("PATCH", f"/repositories/{name}", json={"tag_rules": rules})["tag_rules"]
    emit(answer, as_json)


@tag_rules_app.command("clear")
@connected
def clear(registry: Registry, name: str, namespace: Namespace = False, template: Template = False) -> None:
    """Remove the rules of a repository (default), a namespace or a template."""
    _one_target(namespace, template)
    if namespace:
        registry.call("DELETE", f"/namespaces/{name}/tag-rules")
    elif template:
        _template_with(registry, name, None)
    else:
        registry.call("PATCH", f"/repositories/{name}", json={"tag_rules": None})
    typer.echo(f"cleared the tag naming rules of {name}")
