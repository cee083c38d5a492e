"""Personal access tokens and a namespace's robot accounts: create, list, revoke.

A new secret is shown once, on the page that answers the creating form (never stored, never in a
URL), with a `podman login` line to copy. The rules are the management API's: a user creates their
own tokens while signed in with their password (a session is one); robots are managed by their
namespace's admins. Every change is recorded in the audit log as the API records it (`record_change`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.responses import Response

from moorage.auth.access_tokens import Conflict, NotFound
from moorage.auth.accounts import InvalidName, check_name
from moorage.auth.grants import Grant, expand_actions, validate_pattern
from moorage.auth.lifetimes import LifetimeRefused
from moorage.auth.robots import OutsideNamespace
from moorage.domain.access import Action
from moorage.web.pages import Page, PageError

SCOPES = ("pull", "push", "delete", "admin")
DEFAULT_DAYS = 90.0
_REFUSED = (Conflict, NotFound, InvalidName, OutsideNamespace, LifetimeRefused, ValueError)


def _auth(page: Page) -> Any:
    auth = page.services.auth
    if auth is None:
        raise PageError(409, "Authentication is off", "Enable authentication (auth_enabled) to manage credentials.")
    return auth


def _record(page: Page, action: str, target: str, after: Any = None, **detail: Any) -> None:
    """The audit entry the management API writes for the same change (never a secret)."""
    document = dict(detail)
    if after is not None:
        document["after"] = after
    page.services.governance.audit.record(
        action, page.viewer.acting_from(page.address), target=target, detail=document or None
    )


def _grants(page: Page, default_pattern: str) -> tuple[Grant, ...]:
    scopes = [s for s in page.form_lists.get("scopes", []) if s in SCOPES]
    if not scopes:
        raise ValueError("choose at least one scope")
    patterns = [p.strip() for p in page.form.get("repositories", "").replace(",", "\n").splitlines() if p.strip()]
    actions = expand_actions(Action(scope) for scope in scopes)
    return tuple(Grant(validate_pattern(pattern), actions) for pattern in patterns or [default_pattern])


def _expiry(page: Page) -> datetime | None:
    text = page.form.get("expires_in_days", "").strip()
    if text == "never":
        return None
    try:
        days = float(text) if text else DEFAULT_DAYS
    except ValueError:
        raise ValueError("expiry is a number of days") from None
    if not 0 < days <= 3650:
        raise ValueError("expiry is between 1 and 3650 days")
    return datetime.now(UTC) + timedelta(days=days)


def _grant_list(grants: tuple[Grant, ...]) -> list[dict[str, Any]]:
    return [{"repository_pattern": g.repository_pattern, "actions": sorted(g.actions)} for g in grants]


def _user(page: Page) -> str:
    user = page.viewer.user
    if user is None:
        raise PageError(403, "Forbidden", "Sign in as a user to manage access tokens.")
    return user


def _tokens_view(page: Page, status: int = 200, **values: Any) -> Response:
    auth, user = _auth(page), _user(page)
    values.setdefault("created", None)
    values.setdefault("error", None)
    return page.render(
        "tokens.html",
        status=status,
        title="Access tokens",
        tokens=auth.access_tokens.list(user),
        scopes=SCOPES,
        **values,
    )


def tokens_page(page: Page) -> Response:
    return _tokens_view(page)


def create_token(page: Page) -> Response:
    auth, user = _auth(page), _user(page)
    name = page.form.get("name", "").strip()
    try:
        if not name or len(name) > 100:
            raise ValueError("a token's name has 1 to 100 characters")
        token, secret = auth.access_tokens.create(user, name, _grants(page, "*"), _expiry(page))
    except _REFUSED as error:
        return _tokens_view(page, 400, error=str(error))
    after = {"name": token.name, "grants": _grant_list(token.grants), "expires_at": _iso(token.expires_at)}
    _record(page, "access_token.create", user, after=after, token_id=token.id)
    return _tokens_view(page, 201, created={"username": user, "secret": secret, "name": token.name})


def revoke_token(page: Page) -> Response:
    auth, user = _auth(page), _user(page)
    token_id = page.form.get("token_id", "")
    try:
        auth.access_tokens.revoke(user, token_id)
    except _REFUSED as error:
        return _tokens_view(page, 404, error=str(error))
    _record(page, "access_token.revoke", user, token_id=token_id)
    return page.redirect("/tokens")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _robots(page: Page, namespace: str) -> Any:
    auth = _auth(page)
    if not page.viewer.may(f"{namespace}/*", Action.ADMIN):
        raise PageError(403, "Forbidden", f"Only an administrator of {namespace}/* manages its robots.")
    return auth.robots


def _robots_view(page: Page, namespace: str, status: int = 200, **values: Any) -> Response:
    robots = _robots(page, namespace)
    values.setdefault("created", None)
    values.setdefault("error", None)
    return page.render(
        "robots.html",
        status=status,
        title=f"Robots of {namespace}",
        namespace=namespace,
        robots=robots.list(namespace),
        scopes=SCOPES,
        **values,
    )


def robots_page(page: Page) -> Response:
    return _robots_view(page, page.param("namespace"))


def create_robot(page: Page) -> Response:
    namespace = page.param("namespace")
    robots = _robots(page, namespace)
    name = page.form.get("name", "").strip()
    description = page.form.get("description", "").strip()[:255] or None
    try:
        check_name(name, "robot")
        robot, secret = robots.create(namespace, name, _grants(page, f"{namespace}/*"), _expiry(page), description)
    except _REFUSED as error:
        return _robots_view(page, namespace, 400, error=str(error))
    after = {
        "description": robot.description,
        "grants": _grant_list(robot.grants),
        "expires_at": _iso(robot.expires_at),
    }
    _record(page, "robot.create", f"{namespace}/*", after=after, robot=robot.username)
    created = {"username": robot.username, "secret": secret, "name": robot.name}
    return _robots_view(page, namespace, 201, created=created)


def delete_robot(page: Page) -> Response:
    namespace = page.param("namespace")
    robots = _robots(page, namespace)
    name = page.form.get("name", "")
    try:
        robots.delete(namespace, name)
    except _REFUSED as error:
        return _robots_view(page, namespace, 404, error=str(error))
    _record(page, "robot.delete", f"{namespace}/*", robot=f"{namespace}+{name}")
    return page.redirect(f"/namespaces/{namespace}/robots")
