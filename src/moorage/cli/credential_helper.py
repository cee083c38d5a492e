"""`docker-credential-moorage`: the docker credential-helper protocol, answered with fresh short-lived credentials.

docker, podman, skopeo and buildah run `docker-credential-moorage <action>` for a registry listed
under `credHelpers` (see `moorage configure-docker`), with the input on stdin:

- `get` (stdin: the registry, e.g. `registry.example.com:5000`) prints
  `{"ServerURL": …, "Username": …, "Secret": …}` where the secret is a FRESH login password
  (one hour) made from the login `moorage login` stored for that registry; with no stored login
  (CI, Kubernetes) it exchanges the job's OIDC ID token (MOORAGE_OIDC_TOKEN_FILE, or GitHub
  Actions' ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN) for a short-lived credential. Nothing known:
  `credentials not found in native keychain`, exit 1, as every helper answers.
- `store` (stdin: `{"ServerURL", "Username", "Secret"}`, sent by `docker login`/`podman login`)
  exchanges the secret for a login password and stores that, never the secret itself (a docker
  refresh token, username `<token>`, is kept as it is: docker needs it back).
- `erase` (stdin: the registry) forgets the stored login; `list` prints `{registry: username}`.

As in docker-credential-helpers, errors go to stdout, one line, with exit status 1; secrets never
go to stderr or logs.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from datetime import UTC, datetime
from typing import IO, Any

from moorage.cli.client import Credential, Registry
from moorage.cli.connection import stored_credential
from moorage.cli.errors import CliError
from moorage.cli.exchange import login_password, oidc_exchange, workload_id_token
from moorage.cli.logins import LoginStore, LoginStoreError, StoredLogin, host_of, normalise

NOT_FOUND = "credentials not found in native keychain"
MISSING_URL = "no credentials server URL"
MISSING_USERNAME = "no credentials username"
TOKEN_USERNAME = "<token>"  # docker's username for an identity (refresh) token
FRESH_HOURS = 1.0


class HelperError(Exception):
    """Reported on stdout, exit status 1 (the protocol's convention)."""


def registry_url(server: str, store: LoginStore) -> str:
    """The registry URL for what a client calls the server: a stored login's, MOORAGE_URL's, or derived."""
    login = store.find(server)
    if login is not None:
        return login.url
    configured = os.environ.get("MOORAGE_URL")
    if configured and host_of(configured) == host_of(server):
        return normalise(configured)
    return normalise(server)


def get(server: str, store: LoginStore) -> dict[str, str]:
    login = store.find(server)
    if login is not None and login.kind == "refresh token":
        return {"ServerURL": server, "Username": TOKEN_USERNAME, "Secret": login.secret}
    url = registry_url(server, store)
    if login is not None and not login.expired():
        with Registry(url, stored_credential(login)) as registry:
            fresh = login_password(registry, FRESH_HOURS)
        return {"ServerURL": server, "Username": fresh.username, "Secret": fresh.secret}
    id_token = workload_id_token(url)
    if id_token is not None:
        with Registry(url, None) as registry:
            exchanged = oidc_exchange(registry, id_token)
        return {"ServerURL": server, "Username": exchanged.username, "Secret": exchanged.secret}
    if login is not None:
        stored_credential(login)  # raises the "expired: run moorage login" error
    raise HelperError(NOT_FOUND)


def store_credentials(document: Any, store: LoginStore) -> None:
    if not isinstance(document, dict) or not document.get("ServerURL"):
        raise HelperError(MISSING_URL)
    if not document.get("Username"):
        raise HelperError(MISSING_USERNAME)
    server, username, secret = str(document["ServerURL"]), str(document["Username"]), str(document.get("Secret", ""))
    url = registry_url(server, store)
    if username == TOKEN_USERNAME:
        store.save(StoredLogin(normalise(url), username, secret, "refresh token", _jwt_expiry(secret)))
        return
    if not secret:
        raise HelperError(f"no secret for {username}")
    with Registry(url, Credential(username, secret, "docker login")) as registry:
        store.save(login_password(registry))


def erase(server: str, store: LoginStore) -> None:
    if store.remove(server) is None:
        raise HelperError(NOT_FOUND)


def listing(store: LoginStore) -> dict[str, str]:
    return {login.host: login.username for login in store.all()}


def _jwt_expiry(token: str) -> datetime | None:
    """The `exp` of a JWT, read without verifying (only to know when to stop offering it)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return datetime.fromtimestamp(int(claims["exp"]), UTC)
    except (IndexError, ValueError, KeyError, TypeError):
        return None


def handle(action: str, stdin: IO[str], stdout: IO[str]) -> int:
    """Run one protocol action; the exit status."""
    store = LoginStore()
    try:
        if action == "get":
            server = stdin.read().strip()
            if not server:
                raise HelperError(MISSING_URL)
            stdout.write(json.dumps(get(server, store)) + "\n")
        elif action == "store":
            try:
                document = json.loads(stdin.read())
            except ValueError as error:
                raise HelperError(f"the credentials are not JSON: {error}") from None
            store_credentials(document, store)
        elif action == "erase":
            server = stdin.read().strip()
            if not server:
                raise HelperError(MISSING_URL)
            erase(server, store)
        elif action == "list":
            stdout.write(json.dumps(listing(store)) + "\n")
        elif action == "version":
            stdout.write("docker-credential-moorage (moorage)\n")
        else:
            raise HelperError(f"Unknown credential action `{action}`")
    except HelperError as error:
        stdout.write(f"{error}\n")
        return 1
    except (CliError, LoginStoreError) as error:
        hint = f" ({error.hint})" if isinstance(error, CliError) and error.hint else ""
        stdout.write(f"moorage: {error}{hint}\n")
        return 1
    return 0


def main() -> None:
    """The `docker-credential-moorage` console script."""
    if len(sys.argv) != 2:
        sys.stdout.write("Usage: docker-credential-moorage <store|get|erase|list|version>\n")
        sys.exit(1)
    sys.exit(handle(sys.argv[1], sys.stdin, sys.stdout))
