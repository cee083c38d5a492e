"""The one HTTP client every `moorage` command uses to talk to a registry's management API.

It carries the credential the command resolved (see `connection.py`), turns problem details into
the one error format (`errors.py`), never prints a credential, and with `--verbose` shows each
request line with any userinfo in the URL masked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import typer

from moorage.cli.errors import LOGIN_NEEDED, REFUSED, UNREACHABLE, CliError


@dataclass(frozen=True)
class Credential:
    """Who the command signs in as, and where that came from (for hints, never the secret)."""

    username: str
    secret: str
    source: str  # "--username", "the URL", "stored login (login password, expires …)"
    stored: bool = False

    def __repr__(self) -> str:  # a stray print or traceback never shows the secret
        return f"Credential(username={self.username!r}, source={self.source!r})"


def masked(url: str) -> str:
    """The URL without any `user:password@`."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))


class Registry:
    """A registry's `/api/v1`, signed in with one credential (or anonymous)."""

    def __init__(self, url: str, credential: Credential | None, verbose: bool = False, timeout: float = 60) -> None:
        self.url = without_userinfo(url).rstrip("/")
        self.credential = credential
        hooks: dict[str, list[Any]] = {"request": [_show_request], "response": [_show_response]} if verbose else {}
        auth = (credential.username, credential.secret) if credential else None
        self.http = httpx.Client(base_url=self.url, auth=auth, timeout=timeout, event_hooks=hooks)

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request to `/api/v1<path>`: the JSON answer, or a `CliError` in the one format."""
        response = self._send(method, path, **kwargs)
        if response.is_error:
            raise self.refusal(response)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise CliError(f"{self.url} answered {method} {path} with something that is not JSON", REFUSED) from None

    def stream_lines(self, path: str, params: dict[str, Any]) -> Iterator[str]:
        try:
            with self.http.stream("GET", "/api/v1" + path, params=params) as response:
                if response.is_error:
                    response.read()
                    raise self.refusal(response)
                yield from response.iter_lines()
        except httpx.HTTPError as error:
            raise self.unreachable(error) from None

    def user(self) -> str:
        """The name the caller signs in as (commands on "your own" tokens need one)."""
        if self.credential is not None:
            return self.credential.username
        raise CliError(
            "this command acts on your own account, but no one is signed in",
            LOGIN_NEEDED,
            hint=f"run `moorage login {self.url}`, or pass --username",
        )

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.request(method, "/api/v1" + path, **kwargs)
        except httpx.HTTPError as error:
            raise self.unreachable(error) from None

    def unreachable(self, error: httpx.HTTPError) -> CliError:
        reason = str(error) or type(error).__name__
        return CliError(f"cannot reach {self.url}: {reason}", UNREACHABLE, hint=_reach_hint(error))

    def refusal(self, response: httpx.Response) -> CliError:
        message = problem_message(response)
        hint = None
        if response.status_code == 401:
            if self.credential is None:
                hint = f"run `moorage login {self.url}`, or pass --username"
            elif self.credential.stored:
                hint = f"the stored login was refused; run `moorage login {self.url}` again"
            else:
                hint = f"check the password for {self.credential.username}"
        return CliError(f"{message} (HTTP {response.status_code})", REFUSED, hint=hint)


def problem_message(response: httpx.Response) -> str:
    """The detail of an RFC 9457 problem (or an OCI error), on one line."""
    try:
        problem = response.json()
    except ValueError:
        text = response.text.strip().splitlines()
        return text[0][:200] if text else response.reason_phrase
    if not isinstance(problem, dict):
        return json.dumps(problem)[:200]
    message = str(problem.get("detail") or problem.get("title") or response.reason_phrase)
    details = []
    for error in problem.get("errors") or []:
        if isinstance(error, dict) and "loc" in error:
            details.append(f"{'.'.join(str(p) for p in error.get('loc', []))}: {error.get('msg')}")
        elif isinstance(error, dict) and "message" in error:
            details.append(str(error["message"]))
    return "; ".join([message, *details]) if details else message


def _reach_hint(error: httpx.HTTPError) -> str | None:
    if isinstance(error, httpx.ConnectError):
        return "is the registry running, and is --url (or MOORAGE_URL) right?"
    if isinstance(error, httpx.RemoteProtocolError):
        return "the connection was dropped; try again, or check a proxy in between"
    return None


def _show_request(request: httpx.Request) -> None:
    typer.echo(f"moorage: > {request.method} {masked(str(request.url))}", err=True)


def _show_response(response: httpx.Response) -> None:
    typer.echo(f"moorage: < {response.status_code} {response.reason_phrase}", err=True)
