"""podman and skopeo get their credentials from `docker-credential-moorage`, set up by `moorage configure-docker`.

No password or token is written to the clients' auth file: after `moorage login` (or, for a CI
workload, with only an OIDC token file) the clients run the helper, which answers with a fresh
short-lived credential. `podman login` through the helper stores a login password, never the password.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.auth import ADMIN, ADMIN_PASSWORD, create_user
from tests.support.clients import ClientError, ContainerTools, container_tools, require_tools
from tests.support.oci_layout import Image, with_marker, write_image
from tests.support.oidc_issuer import OidcIssuer, issuer_body, push_rule, running_issuer
from tests.support.server import RunningRegistry, start_server

pytestmark = pytest.mark.e2e

BIN = str(Path(sys.executable).parent)
SERVICE = "moorage"


@pytest.fixture(scope="module")
def issuer() -> Iterator[OidcIssuer]:
    with running_issuer() as running:
        yield running


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, issuer: OidcIssuer) -> Iterator[RunningRegistry]:
    settings = {"auth_enabled": "true", "admin_username": ADMIN, "admin_password": ADMIN_PASSWORD}
    with start_server(tmp_path_factory.mktemp("helper-e2e"), **settings) as server:
        body = issuer_body(issuer, "ci", [push_rule("acme/helper")], audience=SERVICE)
        assert httpx.post(f"{server.url}/api/v1/oidc/issuers", json=body, auth=(ADMIN, ADMIN_PASSWORD)).is_success
        yield server


@pytest.fixture
def tools(secured: RunningRegistry, tmp_path: Path) -> Iterator[ContainerTools]:
    """Clients whose PATH finds the helper, with a private moorage config and docker config."""
    require_tools("skopeo", "podman")
    with container_tools(secured.host) as configured:
        configured.env.update(
            {
                "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
                "XDG_CONFIG_HOME": str(tmp_path / "config"),
                "DOCKER_CONFIG": str(tmp_path / "docker"),
                "MOORAGE_URL": secured.url,
            }
        )
        moorage(configured, "configure-docker", secured.host)
        yield configured


def moorage(tools: ContainerTools, *args: str, stdin: str = "") -> str:
    result = subprocess.run(
        [sys.executable, "-m", "moorage", *args],
        input=stdin,
        env={**os.environ, **tools.env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def build(tmp_path: Path) -> tuple[Path, Image]:
    nonce = uuid.uuid4().hex
    layout = tmp_path / f"layout-{nonce[:6]}"
    return layout, write_image(layout, "v1", with_marker(nonce, [{"etc/build-id": nonce.encode()}]))


def auth_file(tools: ContainerTools) -> dict[str, object]:
    return dict(json.loads((tools.root / "auth.json").read_text()))


def test_after_moorage_login_skopeo_pushes_and_podman_pulls_through_the_helper(
    tools: ContainerTools, secured: RunningRegistry, tmp_path: Path
) -> None:
    name, password = create_user(secured)
    layout, image = build(tmp_path)
    with pytest.raises(ClientError):  # configured, but nobody logged in: the helper knows nothing
        tools.skopeo_copy(f"oci:{layout}:v1", tools.docker(f"{name}/app", "v1"))
    moorage(tools, "login", "-u", name, "--password-stdin", stdin=password)
    tools.skopeo_copy(f"oci:{layout}:v1", tools.docker(f"{name}/app", "v1"))
    pulled = tools.podman("pull", "-q", tools.ref(f"{name}/app", "v1"))
    assert pulled.endswith(image.config_digest.removeprefix("sha256:"))
    assert auth_file(tools) == {"credHelpers": {tools.registry_host: "moorage"}}  # no secret in the clients' file
    moorage(tools, "logout")
    with pytest.raises(ClientError):
        tools.skopeo_inspect(tools.docker(f"{name}/app", "v1"))


def test_podman_login_through_the_helper_stores_a_login_password_not_the_password(
    tools: ContainerTools, secured: RunningRegistry, tmp_path: Path
) -> None:
    name, password = create_user(secured)
    layout, _ = build(tmp_path)
    tools.podman("login", "--tls-verify=false", "-u", name, "-p", password, tools.registry_host)
    logins = (tmp_path / "config" / "moorage" / "logins.json").read_text()
    assert password not in logins and name in logins
    assert "auths" not in auth_file(tools) or not auth_file(tools)["auths"]
    tools.skopeo_copy(f"oci:{layout}:v1", tools.docker(f"{name}/podman", "v1"))
    tools.podman("logout", tools.registry_host)
    assert json.loads((tmp_path / "config" / "moorage" / "logins.json").read_text())["logins"] == {}


def test_a_workload_with_only_an_oidc_token_file_pushes_through_the_helper(
    tools: ContainerTools, issuer: OidcIssuer, tmp_path: Path
) -> None:
    token_file = tmp_path / "projected-token"
    token_file.write_text(issuer.mint(issuer.claims(repository="acme/helper", aud=SERVICE)))
    tools.env["MOORAGE_OIDC_TOKEN_FILE"] = str(token_file)
    layout, image = build(tmp_path)
    tools.skopeo_copy(f"oci:{layout}:v1", tools.docker("acme/helper", "v1"))
    assert tools.skopeo_inspect(tools.docker("acme/helper", "v1"))["Digest"] == image.manifest_digest
    with pytest.raises(ClientError):  # the rules grant acme/helper only
        tools.skopeo_copy(f"oci:{layout}:v1", tools.docker("acme/other", "v1"))
