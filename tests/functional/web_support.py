"""Driving the web UI over HTTP like a browser without JavaScript: sign in, read CSRF tokens, post forms."""

from __future__ import annotations

import re

import httpx

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]*)"')


def csrf_of(page: httpx.Response) -> str:
    match = CSRF.search(page.text)
    assert match is not None, f"no CSRF token on {page.url}"
    return match.group(1)


def browser(url: str) -> httpx.Client:
    """A cookie-keeping client that does not follow redirects (tests look at them)."""
    return httpx.Client(base_url=url, timeout=30, follow_redirects=False)


def sign_in(client: httpx.Client, username: str, password: str) -> httpx.Response:
    form = client.get("/login")
    return client.post(
        "/login", data={"csrf_token": csrf_of(form), "username": username, "password": password, "next": "/"}
    )


def signed_in(url: str, username: str, password: str) -> httpx.Client:
    client = browser(url)
    response = sign_in(client, username, password)
    assert response.status_code == 303, response.text
    return client


def post_form(client: httpx.Client, form_page: str, action: str, **fields: str | list[str]) -> httpx.Response:
    """Post a form the way a browser does: with the CSRF token of the page that shows it."""
    token = csrf_of(client.get(form_page))
    return client.post(action, data={"csrf_token": token, **fields})
