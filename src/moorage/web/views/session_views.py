"""Signing in and out with the accounts `docker login` uses, under the same rate limits and lockout.

The sign-in form calls the same `Authenticator` as `/token` and HTTP Basic on the API, so failures
count against the same per-user and per-address limits and land in the audit log the same way.
Only a user may sign in (a password or a login password); access tokens and robot secrets are
scoped credentials for clients, not for browsing.
"""

from __future__ import annotations

from starlette.responses import Response

from moorage.auth.authenticator import InvalidCredentials
from moorage.auth.credentials import CredentialRefused
from moorage.auth.ratelimit import TooManyAttempts
from moorage.web.pages import Page
from moorage.web.sessions import SESSION_COOKIE, clear_cookie, set_cookie


def safe_next(target: str) -> str:
    """Where to go after signing in: a path on this site only (never `//evil.example`)."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def sign_in_form(page: Page) -> Response:
    if page.viewer.signed_in:
        return page.redirect(safe_next(page.query("next", "/")))
    return page.render("login.html", title="Sign in", next=safe_next(page.query("next", "/")), failure=None)


def sign_in(page: Page) -> Response:
    services = page.services
    target = safe_next(page.form.get("next", "/"))
    if services.auth is None or services.sessions is None:
        return page.redirect(target)
    username = page.form.get("username", "").strip()
    password = page.form.get("password", "")
    headers: dict[str, str] = {}
    try:
        if not username or not password:
            raise InvalidCredentials()
        principal = services.auth.authenticator.authenticate(username, password, page.address)
        if principal.actor.kind != "user":
            raise InvalidCredentials()
    except TooManyAttempts as error:
        failure, status = str(error), 429
        headers["Retry-After"] = str(error.retry_after)
    except CredentialRefused as error:
        failure, status = str(error), 401
    except InvalidCredentials as error:
        failure, status = str(error), 401
    else:
        token, expires = services.sessions.issue(principal)
        response = page.redirect(target)
        lifetime = int(services.sessions.lifetime.total_seconds())
        set_cookie(response, SESSION_COOKIE, token, page.ui.secure(page.request), max_age=lifetime)
        return response
    response = page.render("login.html", status=status, title="Sign in", next=target, failure=failure)
    response.headers.update(headers)
    return response


def sign_out(page: Page) -> Response:
    response = page.redirect("/login")
    clear_cookie(response, SESSION_COOKIE, page.ui.secure(page.request))
    return response
