"""Fixtures for end-to-end tests: real clients configured inside the test's own directories.

Every test gets a fresh repository name and fresh content (`with_marker(nonce, ...)` stamps every layer),
so reruns against a long-lived registry never hit blobs that earlier runs or other tests (via client-side
blob caches) already stored: each push really uploads.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Generator, Iterator

import httpx
import pytest

from tests.support.clients import ContainerTools, container_tools
from tests.support.dockerd import DockerCli, Dockerd, docker_cli, require_docker, running_dockerd
from tests.support.server import RunningRegistry


@pytest.fixture
def tools(embedded_registry: RunningRegistry) -> Iterator[ContainerTools]:
    """skopeo, podman and buildah pointed at the registry, all config in a temporary directory."""
    with container_tools(embedded_registry.host) as configured:
        yield configured


@pytest.fixture(scope="session")
def dockerd() -> Iterator[Dockerd]:
    """One private Docker daemon per test session (per xdist worker), stopped at the end even on failure."""
    require_docker()
    with running_dockerd() as daemon:
        yield daemon


@pytest.fixture
def docker(dockerd: Dockerd) -> Iterator[DockerCli]:
    """The Docker CLI on the session's daemon, with a config directory (logins, helpers) of this test only."""
    with docker_cli(dockerd) as cli:
        yield cli


@pytest.fixture
def nonce() -> str:
    """A value unique to this test run, to put in image content so that digests are new."""
    return uuid.uuid4().hex


@pytest.fixture
def repository(request: pytest.FixtureRequest, nonce: str) -> str:
    """A repository name no other test (or earlier run) uses: `e2e/<test-name>-<nonce>`."""
    name = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower().removeprefix("test_")).strip("-")
    return f"e2e/{name[:60].strip('-')}-{nonce[:8]}"


@pytest.fixture
def registry_http(embedded_registry: RunningRegistry) -> Iterator[httpx.Client]:
    """Plain HTTP access to the registry, to check what clients left there."""
    with httpx.Client(base_url=embedded_registry.url, timeout=60) as client:
        yield client


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On failure, attach the tails of the registry's and dockerd's logs: clients rarely say what the server did."""
    report = yield
    if not report.failed:
        return report
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, RunningRegistry) and value.log_path is not None:
            report.sections.append(("moorage server log (tail)", value.log()[-6000:]))
        elif isinstance(value, Dockerd):
            report.sections.append(("dockerd log (tail)", value.log()))
    return report
