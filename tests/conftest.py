"""Fixtures that run the real registry as a separate process and talk to it over HTTP.

`registry` runs once per metadata backend (SQLite and PostgreSQL), so every functional test that
uses it passes on both. `embedded_registry` is the SQLite default alone, for slow end-to-end
tests. `start_registry` starts a private server for tests that stop, kill or reconfigure it.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.object_store import ObjectStoreServer, object_store, stop_object_store
from tests.support.server import RunningRegistry, postgres_database, start_server

StartRegistry = Callable[..., RunningRegistry]


@pytest.fixture(autouse=True)
def _private_cli_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test's `moorage` and credential helper keep their logins in a fresh directory, never the user's."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))
    for variable in ("MOORAGE_URL", "MOORAGE_USERNAME", "MOORAGE_PASSWORD", "MOORAGE_OIDC_TOKEN_FILE"):
        monkeypatch.delenv(variable, raising=False)


def _external() -> RunningRegistry | None:
    """A registry started elsewhere (MOORAGE_TEST_EXTERNAL_URL), to run the suite against a peer."""
    url = os.environ.get("MOORAGE_TEST_EXTERNAL_URL")
    if not url:
        return None
    return RunningRegistry.external(url)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def registry(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    """A running moorage server in each of its two shapes.

    `sqlite`: the embedded default, SQLite and blobs in the data directory. `postgres`: the shape of
    several nodes, PostgreSQL and blobs in an S3-compatible object store (SeaweedFS on loopback).
    """
    external = _external()
    if external is not None:
        if request.param != "sqlite":
            pytest.skip("an external registry runs on one backend only")
        yield external
        return
    data_dir = tmp_path_factory.mktemp(f"registry-{request.param}")
    if request.param == "postgres":
        s3 = request.getfixturevalue("s3_server")
        storage = s3.registry_settings(s3.new_bucket())
        with postgres_database() as database_url, start_server(data_dir, database_url, **storage) as server:
            yield server
    else:
        with start_server(data_dir) as server:
            yield server


@pytest.fixture(scope="session")
def embedded_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    """A running moorage server on the embedded default (SQLite + local disk)."""
    external = _external()
    if external is not None:
        yield external
        return
    with start_server(tmp_path_factory.mktemp("embedded")) as server:
        yield server


@pytest.fixture
def start_registry(tmp_path: Path) -> Iterator[StartRegistry]:
    """Start private servers for one test; all are stopped when the test ends."""
    numbers = itertools.count()
    with contextlib.ExitStack() as servers:

        def start(data_dir: Path | None = None, port: int | None = None, **settings: str) -> RunningRegistry:
            directory = data_dir or tmp_path / f"data-{next(numbers)}"
            if port is not None:
                settings["port"] = str(port)
            return servers.enter_context(start_server(directory, **settings))

        yield start


@pytest.fixture
def http(registry: RunningRegistry) -> Iterator[httpx.Client]:
    """An HTTP client for the `registry` under test that follows no redirects by itself."""
    with httpx.Client(base_url=registry.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def s3_server() -> Iterator[ObjectStoreServer]:
    """A real S3-compatible server (SeaweedFS) on loopback, one per test process."""
    yield object_store()
    stop_object_store()
