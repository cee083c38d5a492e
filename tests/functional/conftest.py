"""Fixtures shared by the functional tests (the `registry` and `http` fixtures live in tests/conftest.py)."""

from __future__ import annotations

import httpx
import pytest

from tests.functional.helpers import MANIFEST_ACCEPT, unique_repo


@pytest.fixture
def http(http: httpx.Client) -> httpx.Client:
    """The shared `http` client, asking for every manifest type as real clients do (spec "Pulling manifests")."""
    http.headers["Accept"] = MANIFEST_ACCEPT
    return http


@pytest.fixture
def repo() -> str:
    """A repository name that no other test in the session uses."""
    return unique_repo()
