"""A repository's settings: visibility, mutability and exclusions, scan on push, tag naming rules,
labels, and the lifecycle policy, whose effect is always previewed before it is saved.

Every change goes through the service the management API calls (`RepositoryService.update`,
`LifecycleService.put_policy`), so the same permission checks (ADMIN on the repository) and the same
audit entries apply. The lifecycle form has two steps: "Preview" evaluates the policy against the
repository's images and shows what would expire and why; only that page offers "Save", and the save
carries a proof (an HMAC tied to the session) that this exact policy text was previewed.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from moorage.domain.access import Action
from moorage.domain.tag_mutability import TagMutability
from moorage.governance.errors import InvalidSettings, PermissionDenied
from moorage.governance.settings import to_document
from moorage.lifecycle.in_force import REPOSITORY
from moorage.lifecycle.policy import PolicyError
from moorage.lifecycle.service import UnknownRepository
from moorage.web.pages import Page, PageError, not_found
from moorage.web.sessions import proof_of, proof_valid
from moorage.web.views.repositories import readable_repository

PREVIEWED = "lifecycle-previewed"
MAX_POLICY_CHARS = 64 * 1024


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def _labels(text: str) -> dict[str, str]:
    labels = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, separator, value = line.partition("=")
        if not separator:
            raise InvalidSettings(f"label {line.strip()!r} must be key=value")
        labels[key.strip()] = value.strip()
    return labels


def _settings_view(page: Page, name: str, status: int = 200, error: str | None = None, **values: Any) -> Response:
    governance = page.services.governance
    repository = governance.repositories.describe(name)
    document = to_document(repository.settings)
    policy = repository.lifecycle
    values.setdefault("policy_text", json.dumps(policy.document, indent=2) if policy is not None else "")
    return page.render(
        "settings.html",
        status=status,
        title=f"{name} settings",
        repository=repository,
        document=document,
        policy=policy,
        in_force=governance.tag_rules.in_force(name),
        mutabilities=[m.value for m in TagMutability],
        may_admin=page.viewer.may(name, Action.ADMIN),
        error=error,
        saved=page.query("saved"),
        **values,
    )


def settings_page(page: Page) -> Response:
    name = page.param("name")
    readable_repository(page, name)
    return _settings_view(page, name)


def save_settings(page: Page) -> Response:
    name = page.param("name")
    readable_repository(page, name)
    form = page.form
    try:
        changes: dict[str, Any] = {
            "description": form.get("description", ""),
            "visibility": form.get("visibility", "private"),
            "tag_mutability": form.get("tag_mutability", "MUTABLE"),
            "tag_mutability_exclusion_filters": _lines(form.get("exclusions", "")),
            "scan_on_push": form.get("scan_on_push") == "on",
            "labels": _labels(form.get("labels", "")),
        }
        allowed, refused = _lines(form.get("tags_allowed", "")), _lines(form.get("tags_refused", ""))
        changes["tag_rules"] = {"allowed": allowed, "refused": refused} if allowed or refused else None
        page.services.governance.repositories.update(page.viewer.acting_from(page.address), name, changes)
    except InvalidSettings as error:
        return _settings_view(page, name, 422, str(error))
    return page.redirect(f"/repositories/{name}/-/settings?saved=settings")


def _policy(text: str) -> Any:
    if len(text) > MAX_POLICY_CHARS:
        raise PageError(413, "Policy too large", f"a lifecycle policy has at most {MAX_POLICY_CHARS} characters")
    try:
        return json.loads(text)
    except ValueError as error:
        raise PolicyError("policy", f"not JSON: {error}") from None


def preview_policy(page: Page) -> Response:
    """Step one: what the policy in the form would expire now, and why; nothing is changed."""
    name = page.param("name")
    readable_repository(page, name)
    text = page.form.get("policy", "").strip()
    key = page.csrf_key() or ""
    if not text:  # removing the policy: nothing will expire
        return page.render(
            "lifecycle_preview.html",
            title=f"{name} lifecycle preview",
            repository=name,
            policy_text="",
            proof=proof_of(key, PREVIEWED, ""),
            decisions=[],
            expiring=[],
            bytes_expiring=0,
            as_of=None,
            may_admin=page.viewer.may(name, Action.ADMIN),
        )
    try:
        result = page.services.lifecycle.preview(name, _policy(text))
    except PolicyError as error:
        return _settings_view(page, name, 422, f"Invalid lifecycle policy: {error}", policy_text=text)
    except UnknownRepository:
        raise not_found("This repository") from None
    decisions = result.evaluation.decisions
    expiring = [d for d in decisions if d.expired]
    return page.render(
        "lifecycle_preview.html",
        title=f"{name} lifecycle preview",
        repository=name,
        policy_text=text,
        proof=proof_of(key, PREVIEWED, text),
        decisions=decisions,
        expiring=expiring,
        bytes_expiring=sum(d.size for d in expiring),
        as_of=result.as_of,
        may_admin=page.viewer.may(name, Action.ADMIN),
    )


def save_policy(page: Page) -> Response:
    """Step two: save exactly the policy that was previewed (refused without the preview's proof)."""
    name = page.param("name")
    readable_repository(page, name)
    if not page.viewer.may(name, Action.ADMIN):
        raise PermissionDenied(f"{page.viewer.actor.name} may not admin {name}")
    text = page.form.get("policy", "").strip()
    if not proof_valid(page.csrf_key(), PREVIEWED, text, page.form.get("proof")):
        raise PageError(
            409, "Preview first", "Preview the policy before saving it; the saved text must be the previewed one."
        )
    actor = page.viewer.acting_from(page.address)
    if text:
        page.services.lifecycle.put_policy(REPOSITORY, name, _policy(text), actor)
    else:
        page.services.lifecycle.delete_policy(REPOSITORY, name, actor)
    return page.redirect(f"/repositories/{name}/-/settings?saved=lifecycle")
