"""Session cookies and CSRF tokens.

A session is a signed credential (`SignedCredentials`, audience `moorage-web`) carrying the user and
the user's credential generation, so it needs no table and every node accepts it. Each request
re-checks it against the account: ending a user's sessions (`POST /users/{name}/revoke-sessions`),
changing the password, disabling or deleting the user ends the session at the next click, and it
expires after `web_session_hours` whatever happens. A session cookie is useless as a registry
password: its audience is not the login password's.

CSRF: every form carries a token that is an HMAC of the session cookie (before signing in: of a
random pre-session cookie), a synchronizer token tied to the session without any stored state.
A page on another site can make the browser send the cookies, but cannot read them or the page,
so it cannot produce the token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from starlette.requests import Request
from starlette.responses import Response

WEB_AUDIENCE = "moorage-web"
SESSION_COOKIE = "moorage_session"
PRESESSION_COOKIE = "moorage_csrf"
CSRF_FIELD = "csrf_token"
_CSRF_PURPOSE = b"moorage-web-csrf"


def is_https(request: Request, external_url: str | None) -> bool:
    """Served over TLS: directly (the request's scheme) or behind a proxy the external URL names."""
    return request.url.scheme == "https" or bool(external_url and external_url.startswith("https://"))


def set_cookie(response: Response, name: str, value: str, secure: bool, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", secure=secure, httponly=True, samesite="lax")


def clear_cookie(response: Response, name: str, secure: bool) -> None:
    response.delete_cookie(name, path="/", secure=secure, httponly=True, samesite="lax")


def new_presession() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(key: str) -> str:
    """The token forms carry: an HMAC of the session (or pre-session) cookie's value."""
    return hmac.new(key.encode(), _CSRF_PURPOSE, hashlib.sha256).hexdigest()


def csrf_valid(key: str | None, submitted: str | None) -> bool:
    if not key or not submitted:
        return False
    return hmac.compare_digest(csrf_token(key), submitted)


def proof_of(key: str, purpose: str, text: str) -> str:
    """An HMAC binding `text` to this session: a two-step form proves the second step saw the first."""
    message = f"{purpose}\x00{text}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def proof_valid(key: str | None, purpose: str, text: str, submitted: str | None) -> bool:
    if not key or not submitted:
        return False
    return hmac.compare_digest(proof_of(key, purpose, text), submitted)
