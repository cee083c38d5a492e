"""A registry with authentication on, once on SQLite and once on PostgreSQL, shared by the session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.auth import ADMIN, ADMIN_PASSWORD
from tests.support.server import RunningRegistry, postgres_database, start_server

AUTH_SETTINGS = {
    "auth_enabled": "true",
    "admin_username": ADMIN,
    "admin_password": ADMIN_PASSWORD,
    "login_failures_per_address": "100000",  # every test logs in from 127.0.0.1
}


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def secured(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    data_dir = tmp_path_factory.mktemp(f"secured-{request.param}")
    if request.param == "postgres":
        with postgres_database() as database_url, start_server(data_dir, database_url, **AUTH_SETTINGS) as server:
            yield server
    else:
        with start_server(data_dir, **AUTH_SETTINGS) as server:
            yield server
