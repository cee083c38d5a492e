"""CI federation with real clients: a job's OIDC ID token (or the credential exchanged for it) at podman and skopeo.

The registry runs with authentication on; the loopback test issuer plays GitHub Actions. One rule
lets the workflows of GitHub repository `acme/<app>` on `main` push to `ci/acme/<app>` and pull
`base/*`; everything else must be refused.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from tests.support.clients import ClientError, ContainerTools, container_tools, require_tools
from tests.support.oci_layout import Image, with_marker, write_image
from tests.support.oidc_issuer import AUDIENCE, OidcIssuer, exchange_form, running_issuer
from tests.support.server import RunningRegistry, start_server

pytestmark = pytest.mark.e2e

ADMIN_PASSWORD = secrets.token_urlsafe(16)


@pytest.fixture(scope="module")
def issuer() -> Iterator[OidcIssuer]:
    with running_issuer() as running:
        yield running


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory, issuer: OidcIssuer) -> Iterator[RunningRegistry]:
    """A registry with authentication on that trusts the test issuer with one rule set."""
    with start_server(
        tmp_path_factory.mktemp("oidc-e2e"), auth_enabled="true", admin_username="admin", admin_password=ADMIN_PASSWORD
    ) as server:
        rules = [
            {
                "name": "own-repository",
                "claims": {"repository_owner": "acme", "ref": "refs/heads/main"},
                "repositories": ["ci/{repository}"],
                "actions": ["push"],
            },
            {
                "name": "base-images",
                "claims": {"repository_owner": "acme"},
                "repositories": ["base/*"],
                "actions": ["pull"],
            },
        ]
        body = {"name": "github", "issuer": issuer.url, "audience": AUDIENCE, "rules": rules}
        response = httpx.post(f"{server.url}/api/v1/oidc/issuers", json=body, auth=("admin", ADMIN_PASSWORD))
        assert response.status_code == 201, response.text
        yield server


@pytest.fixture
def tools(secured: RunningRegistry) -> Iterator[ContainerTools]:
    require_tools("skopeo", "podman")
    with container_tools(secured.host) as configured:
        yield configured


@pytest.fixture
def app() -> str:
    """A GitHub repository name of the `acme` organisation unique to the test."""
    return f"acme/app-{uuid.uuid4().hex[:8]}"


def image(tmp_path: Path, nonce: str) -> Image:
    return write_image(tmp_path / "layout", "v1", with_marker(nonce, [{"etc/build-id": nonce.encode()}]))


def push(tools: ContainerTools, layout: Path, repository: str, *creds: str) -> str:
    return tools.skopeo_copy(f"oci:{layout}:v1", tools.docker(repository, "v1"), *creds)


def refused(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as caught:
        call()
    message = str(caught.value).lower()
    assert any(
        word in message
        for word in ("denied", "unauthorized", "authentication required", "invalid username/password", "401", "403")
    ), message
    return message


def test_podman_login_with_the_id_token_pushes_and_pulls_only_what_the_rule_allows(
    tools: ContainerTools, issuer: OidcIssuer, app: str, tmp_path: Path
) -> None:
    built = image(tmp_path, uuid.uuid4().hex)
    token = issuer.mint(issuer.claims(repository=app))
    tools.podman("login", "--tls-verify=false", "-u", "oidc", "-p", token, tools.registry_host)

    push(tools, tmp_path / "layout", f"ci/{app}")  # skopeo uses the credentials podman stored
    pulled = tools.skopeo_inspect(tools.docker(f"ci/{app}", "v1"))
    assert pulled["Digest"] == built.manifest_digest

    refused(lambda: push(tools, tmp_path / "layout", "ci/acme/someone-else"))
    refused(lambda: push(tools, tmp_path / "layout", "base/runtime"))  # pull only


def test_a_feature_branch_or_a_stranger_gets_no_push(
    tools: ContainerTools, issuer: OidcIssuer, app: str, tmp_path: Path
) -> None:
    image(tmp_path, uuid.uuid4().hex)
    branch_token = issuer.mint(issuer.claims(repository=app, ref="refs/heads/feature"))
    refused(lambda: push(tools, tmp_path / "layout", f"ci/{app}", "--dest-creds", f"oidc:{branch_token}"))
    with running_issuer() as stranger:
        foreign = stranger.mint(stranger.claims(repository=app))
        refused(lambda: tools.podman("login", "--tls-verify=false", "-u", "oidc", "-p", foreign, tools.registry_host))


def test_an_exchanged_credential_works_with_skopeo_creds(
    tools: ContainerTools, secured: RunningRegistry, issuer: OidcIssuer, app: str, tmp_path: Path
) -> None:
    built = image(tmp_path, uuid.uuid4().hex)
    response = httpx.post(
        f"{secured.url}/api/v1/oidc/exchange", data=exchange_form(issuer.mint(issuer.claims(repository=app)))
    )
    assert response.status_code == 200, response.text
    creds = f"{response.json()['username']}:{response.json()['password']}"

    push(tools, tmp_path / "layout", f"ci/{app}", "--dest-creds", creds)
    tools.skopeo_copy(tools.docker(f"ci/{app}", "v1"), f"oci:{tmp_path / 'back'}:v1", "--src-creds", creds)
    assert (tmp_path / "back" / "index.json").exists()
    inspected = tools.run(
        "skopeo", "inspect", "--tls-verify=false", "--creds", creds, "--raw", tools.docker(f"ci/{app}", "v1")
    )
    assert built.manifest_bytes.decode() == inspected

    refused(lambda: push(tools, tmp_path / "layout", "ci/acme/other", "--dest-creds", creds))


def test_the_secrets_never_reach_the_server_log(
    tools: ContainerTools, secured: RunningRegistry, issuer: OidcIssuer, app: str
) -> None:
    token = issuer.mint(issuer.claims(repository=app))
    tools.podman("login", "--tls-verify=false", "-u", "oidc", "-p", token, tools.registry_host)
    exchanged = httpx.post(f"{secured.url}/api/v1/oidc/exchange", data=exchange_form(token)).json()["password"]
    bad = issuer.mint(issuer.claims(repository=app), aud="someone-else")
    refused(lambda: tools.podman("login", "--tls-verify=false", "-u", "oidc", "-p", bad, tools.registry_host))
    log = secured.log()
    for secret in (token, exchanged, bad, token.split(".")[2], ADMIN_PASSWORD):
        assert secret not in log


def exchanged_password(secured: RunningRegistry, token: str) -> str:
    response = httpx.post(f"{secured.url}/api/v1/oidc/exchange", data=exchange_form(token))
    assert response.status_code == 200, response.text
    return str(response.json()["password"])


def test_buildah_login_with_an_exchanged_credential_builds_and_pushes(
    tools: ContainerTools, secured: RunningRegistry, issuer: OidcIssuer, app: str
) -> None:
    require_tools("buildah")
    password = exchanged_password(secured, issuer.mint(issuer.claims(repository=app)))
    (tools.root / "hello.txt").write_text(f"built in CI {uuid.uuid4().hex}\n")
    tools.buildah("login", "--tls-verify=false", "-u", "oidc", "-p", password, tools.registry_host)
    container = tools.buildah("from", "scratch")
    tools.buildah("copy", container, tools.root / "hello.txt", "/hello.txt")
    tools.buildah("commit", "-q", container, "built:latest")
    tools.buildah("push", "--tls-verify=false", "built:latest", tools.docker(f"ci/{app}", "v1"))
    assert tools.skopeo_list_tags(f"ci/{app}") == ["v1"]
    refused(lambda: tools.buildah("push", "--tls-verify=false", "built:latest", tools.docker("ci/acme/else", "v1")))


def test_oras_login_with_the_id_token_pushes_and_pulls_an_artifact(
    secured: RunningRegistry, issuer: OidcIssuer, app: str, tmp_path: Path
) -> None:
    import oras.client  # type: ignore[import-untyped]

    token = issuer.mint(issuer.claims(repository=app))
    payload = tmp_path / "sbom.json"
    payload.write_text('{"packages": []}')
    client = oras.client.OrasClient(hostname=secured.host, insecure=True)
    client.login(username="oidc", password=token, hostname=secured.host, config_path=str(tmp_path / "oras.json"))
    target = f"{secured.host}/ci/{app}:sbom"
    response = client.push(target=target, files=[f"{payload}:application/json"], disable_path_validation=True)
    assert response.status_code == 201, response.text
    pulled = client.pull(target=target, outdir=str(tmp_path / "out"))
    assert Path(pulled[0]).read_text() == '{"packages": []}'
    # oras-py retries a refused push for minutes, so check the refusal at the token endpoint it uses
    scope = "repository:ci/acme/else:pull,push"
    other = httpx.get(f"{secured.url}/token", params={"service": "moorage", "scope": scope}, auth=("oidc", token))
    assert other.status_code == 200
    assert jwt.decode(other.json()["token"], options={"verify_signature": False})["access"][0]["actions"] == []
    assert httpx.get(f"{secured.url}/v2/ci/acme/else/tags/list").status_code == 401
