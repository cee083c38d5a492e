"""Turning what a user or a CI job holds into a short-lived registry credential, over the management API.

- a password (or access token, robot secret): `POST /api/v1/login-password` signed in with it;
- a CI job's OIDC ID token: the RFC 8693 exchange at `POST /api/v1/oidc/exchange`; the token is
  read from a file (`--oidc-token-file`, MOORAGE_OIDC_TOKEN_FILE, e.g. a Kubernetes projected
  service-account token) or requested from GitHub Actions (ACTIONS_ID_TOKEN_REQUEST_URL and
  ACTIONS_ID_TOKEN_REQUEST_TOKEN) for the registry's token service as the audience.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from moorage.cli.client import Credential, Registry
from moorage.cli.errors import REFUSED, UNREACHABLE, USAGE, CliError
from moorage.cli.logins import StoredLogin, normalise

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
_SERVICE = re.compile(r'service="([^"]*)"')


def login_password(registry: Registry, lifetime_hours: float | None = None) -> StoredLogin:
    """A login password for whoever `registry` is signed in as (never the password itself)."""
    body = {"lifetime_hours": lifetime_hours} if lifetime_hours else None
    answer = registry.call("POST", "/login-password", json=body)
    return _stored(registry.url, answer, "login password")


def oidc_exchange(registry: Registry, id_token: str) -> StoredLogin:
    """The exchanged credential for a CI job's ID token."""
    form = {"grant_type": TOKEN_EXCHANGE, "subject_token": id_token, "subject_token_type": ID_TOKEN}
    answer = registry.call("POST", "/oidc/exchange", data=form)
    return _stored(registry.url, answer, "oidc credential")


def _stored(url: str, answer: Any, kind: str) -> StoredLogin:
    try:
        expires = answer.get("expires_at")
        return StoredLogin(
            url=normalise(url),
            username=str(answer["username"]),
            secret=str(answer["password"]),
            kind=kind,
            expires_at=datetime.fromisoformat(expires) if isinstance(expires, str) else None,
        )
    except (AttributeError, KeyError, TypeError, ValueError):
        raise CliError(f"{url} did not answer with a credential; is it a moorage registry?", REFUSED) from None


def token_file(path: Path) -> str:
    try:
        token = path.read_text().strip()
    except OSError as error:
        raise CliError(f"cannot read the OIDC token file {path}: {error.strerror or error}", USAGE) from None
    if not token:
        raise CliError(f"the OIDC token file {path} is empty", USAGE)
    return token


def workload_id_token(registry_url: str) -> str | None:
    """A CI job's ID token, if the environment offers one: a token file, else GitHub Actions' request."""
    path = os.environ.get("MOORAGE_OIDC_TOKEN_FILE")
    if path:
        return token_file(Path(path))
    request_url = os.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL")
    request_token = os.environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if request_url and request_token:
        return github_actions_id_token(request_url, request_token, audience(registry_url))
    return None


def audience(registry_url: str) -> str:
    """MOORAGE_OIDC_AUDIENCE, else the registry's token service (the `service` of its `/v2/` challenge)."""
    configured = os.environ.get("MOORAGE_OIDC_AUDIENCE")
    if configured:
        return configured
    try:
        challenge = httpx.get(registry_url.rstrip("/") + "/v2/", timeout=30).headers.get("www-authenticate", "")
    except httpx.HTTPError as error:
        raise CliError(f"cannot reach {registry_url}: {error}", UNREACHABLE) from None
    found = _SERVICE.search(challenge)
    if not found:
        raise CliError(
            f"{registry_url} names no token service to use as the OIDC audience",
            REFUSED,
            hint="set MOORAGE_OIDC_AUDIENCE to the audience the registry's issuer expects",
        )
    return found.group(1)


def github_actions_id_token(request_url: str, request_token: str, wanted_audience: str) -> str:
    """Ask GitHub Actions for the job's ID token (the job needs `permissions: id-token: write`)."""
    try:
        response = httpx.get(
            httpx.URL(request_url).copy_add_param("audience", wanted_audience),
            headers={"Authorization": f"bearer {request_token}"},
            timeout=30,
        )
    except httpx.HTTPError as error:
        raise CliError(f"cannot reach GitHub Actions' token service: {error}", UNREACHABLE) from None
    if response.is_error:
        raise CliError(f"GitHub Actions refused an ID token (HTTP {response.status_code})", REFUSED)
    try:
        value = response.json()["value"]
    except (ValueError, KeyError, TypeError):
        value = None
    if not isinstance(value, str) or not value:
        raise CliError("GitHub Actions answered without an ID token", REFUSED)
    return value


def signed_in(url: str, username: str, secret: str, verbose: bool = False) -> Registry:
    return Registry(url, Credential(username, secret, "--username"), verbose)
