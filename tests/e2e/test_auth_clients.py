"""Real clients against a registry with authentication on: login, push and pull with every identity type.

podman, skopeo, buildah and oras log in exactly as they would against GHCR or Harbor (Bearer challenge,
`/token` with Basic credentials) with a password, a personal access token, a robot secret and a
short-lived login password; missing rights and stale credentials are refused with a message that
says so. (The OIDC-exchanged credential has its own file, test_oidc_clients.py.)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import oras.client  # type: ignore[import-untyped]
import pytest

from tests.support.auth import ADMIN, ADMIN_PASSWORD, api, client_for, create_user
from tests.support.clients import ClientError, ContainerTools, container_tools, require_tools, run
from tests.support.oci_layout import Image, with_marker, write_image
from tests.support.server import RunningRegistry, start_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    settings = {"auth_enabled": "true", "admin_username": ADMIN, "admin_password": ADMIN_PASSWORD}
    with start_server(tmp_path_factory.mktemp("auth-e2e"), **settings) as server:
        yield server


@pytest.fixture
def tools(secured: RunningRegistry) -> Iterator[ContainerTools]:
    require_tools("skopeo", "podman", "buildah")
    with container_tools(secured.host) as configured:
        yield configured


@pytest.fixture
def user(secured: RunningRegistry) -> tuple[str, str]:
    return create_user(secured)


def build(tmp_path: Path) -> tuple[Path, Image]:
    nonce = uuid.uuid4().hex
    layout = tmp_path / f"layout-{nonce[:6]}"
    return layout, write_image(layout, "v1", with_marker(nonce, [{"etc/build-id": nonce.encode()}]))


def refused(call, *words: str) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as caught:
        call()
    message = str(caught.value).lower()
    expected = words or ("denied", "forbidden", "unauthorized", "authentication required", "invalid username/password")
    assert any(word in message for word in expected), message
    return message


def access_token(secured: RunningRegistry, user: tuple[str, str], scopes: list[str], repositories: list[str]) -> str:
    with api(secured, user) as client:
        body = {"name": uuid.uuid4().hex[:8], "scopes": scopes, "repositories": repositories}
        response = client.post(f"/users/{user[0]}/tokens", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["token"])


def test_podman_login_with_a_password_then_skopeo_push_and_podman_pull(
    tools: ContainerTools, user: tuple[str, str], tmp_path: Path
) -> None:
    layout, image = build(tmp_path)
    name, password = user
    refused(
        lambda: tools.podman("login", "--tls-verify=false", "-u", name, "-p", "wrong-password", tools.registry_host)
    )
    tools.podman("login", "--tls-verify=false", "-u", name, "-p", password, tools.registry_host)
    tools.skopeo_copy(f"oci:{layout}:v1", tools.docker(f"{name}/app", "v1"))  # credentials from podman's auth file
    pulled = tools.podman("pull", "-q", tools.ref(f"{name}/app", "v1"))
    assert pulled.endswith(image.config_digest.removeprefix("sha256:"))
    refused(lambda: tools.skopeo_copy(f"oci:{layout}:v1", tools.docker(f"{ADMIN}/app", "v1")))
    tools.podman("logout", tools.registry_host)
    refused(lambda: tools.skopeo_inspect(tools.docker(f"{name}/app", "v1")))


def test_skopeo_login_and_creds_with_an_access_token(
    tools: ContainerTools, secured: RunningRegistry, user: tuple[str, str], tmp_path: Path
) -> None:
    layout, image = build(tmp_path)
    name = user[0]
    pusher = access_token(secured, user, ["push"], [f"{name}/api"])
    reader = access_token(secured, user, ["pull"], [f"{name}/*"])
    tools.run("skopeo", "login", "--tls-verify=false", "-u", name, "-p", pusher, tools.registry_host)
    tools.skopeo_copy(f"oci:{layout}:v1", tools.docker(f"{name}/api", "v1"))
    assert tools.skopeo_inspect(tools.docker(f"{name}/api", "v1"))["Digest"] == image.manifest_digest
    refused(lambda: tools.skopeo_copy(f"oci:{layout}:v1", tools.docker(f"{name}/other", "v1")))
    tools.run("skopeo", "logout", tools.registry_host)
    creds = f"{name}:{reader}"
    tools.skopeo_copy(tools.docker(f"{name}/api", "v1"), f"oci:{tmp_path / 'back'}:v1", "--src-creds", creds)
    assert (tmp_path / "back" / "index.json").exists()
    refused(lambda: tools.skopeo_copy(f"oci:{layout}:v1", tools.docker(f"{name}/api", "v2"), "--dest-creds", creds))


def test_buildah_login_as_a_robot_builds_and_pushes(
    tools: ContainerTools, secured: RunningRegistry, user: tuple[str, str]
) -> None:
    name = user[0]
    with api(secured, user) as client:
        body = {"name": "builder", "scopes": ["push"], "repositories": [f"{name}/service"]}
        robot = client.post(f"/namespaces/{name}/robots", json=body).json()
    (tools.root / "hello.txt").write_text(f"built by a robot {uuid.uuid4().hex}\n")
    tools.buildah("login", "--tls-verify=false", "-u", robot["username"], "-p", robot["secret"], tools.registry_host)
    container = tools.buildah("from", "scratch")
    tools.buildah("copy", container, tools.root / "hello.txt", "/hello.txt")
    tools.buildah("commit", "-q", container, "built:latest")
    tools.buildah("push", "--tls-verify=false", "built:latest", tools.docker(f"{name}/service", "v1"))
    assert tools.skopeo_list_tags(f"{name}/service") == ["v1"]
    refused(lambda: tools.buildah("push", "--tls-verify=false", "built:latest", tools.docker(f"{name}/else", "v1")))


def test_a_short_lived_login_password_works_until_it_expires_and_then_says_so(
    tools: ContainerTools, secured: RunningRegistry, user: tuple[str, str], tmp_path: Path
) -> None:
    layout, image = build(tmp_path)
    name = user[0]
    with api(secured, user) as client:
        login = client.post("/login-password").json()["password"]
        short = client.post("/login-password", json={"lifetime_hours": 2 / 3600}).json()["password"]
    tools.podman("login", "--tls-verify=false", "-u", name, "-p", login, tools.registry_host)
    tools.skopeo_copy(f"oci:{layout}:v1", tools.docker(f"{name}/nightly", "v1"))
    tools.podman("logout", tools.registry_host)
    tools.skopeo_copy(
        tools.docker(f"{name}/nightly", "v1"), f"oci:{tmp_path / 'back'}:v1", "--src-creds", f"{name}:{short}"
    )
    time.sleep(2.5)
    message = refused(
        lambda: tools.skopeo_copy(
            tools.docker(f"{name}/nightly", "v1"), f"oci:{tmp_path / 'again'}:v1", "--src-creds", f"{name}:{short}"
        ),
        "expired",
    )
    assert "login password expired" in message
    assert image.manifest_digest


def test_oras_login_with_an_access_token_pushes_and_pulls_an_artifact(
    secured: RunningRegistry, user: tuple[str, str], tmp_path: Path
) -> None:
    name = user[0]
    token = access_token(secured, user, ["push"], [f"{name}/artifacts"])
    payload = tmp_path / "sbom.json"
    payload.write_text('{"packages": []}')
    client = oras.client.OrasClient(hostname=secured.host, insecure=True)
    client.login(username=name, password=token, hostname=secured.host, config_path=str(tmp_path / "oras.json"))
    target = f"{secured.host}/{name}/artifacts:sbom"
    response = client.push(target=target, files=[f"{payload}:application/json"], disable_path_validation=True)
    assert response.status_code == 201, response.text
    pulled = client.pull(target=target, outdir=str(tmp_path / "out"))
    assert Path(pulled[0]).read_text() == '{"packages": []}'
    # A wrong password gets no token (oras-py itself would retry the refusal with back-off for two minutes).
    scope = {"service": "moorage", "scope": f"repository:{name}/artifacts:pull"}
    refused = httpx.get(f"{secured.url}/token", params=scope, auth=(ADMIN, "wrong-password"))
    assert refused.status_code == 401
    assert httpx.get(f"{secured.url}/v2/{name}/artifacts/tags/list").status_code == 401


def test_containerd_pulls_and_pushes_with_credentials_and_is_refused_without(
    tools: ContainerTools, secured: RunningRegistry, user: tuple[str, str], tmp_path: Path
) -> None:
    """What a Kubernetes node does with an image pull secret: `ctr --user` against the token protocol."""
    from tests.support.clients import require_root, running_containerd

    require_tools("containerd", "ctr")
    require_root("a private containerd daemon")
    layout, image = build(tmp_path)
    name, password = user
    tools.skopeo_copy(f"oci:{layout}:v1", tools.docker(f"{name}/node", "v1"), "--dest-creds", f"{name}:{password}")
    reference = f"{secured.host}/{name}/node:v1"
    with running_containerd() as containerd:
        refused(lambda: containerd.ctr("images", "pull", "--plain-http", reference), "access denied", "unauthorized")
        containerd.ctr("images", "pull", "--plain-http", "--user", f"{name}:{password}", reference)
        assert image.manifest_digest in containerd.ctr("images", "ls")
        copy = f"{secured.host}/{name}/node-copy:v1"
        containerd.ctr("images", "tag", reference, copy)
        containerd.ctr("images", "push", "--plain-http", "--user", f"{name}:{password}", copy)
    inspected = tools.run(
        "skopeo",
        "inspect",
        "--tls-verify=false",
        "--creds",
        f"{name}:{password}",
        "--raw",
        tools.docker(f"{name}/node-copy", "v1"),
    )
    assert inspected.encode() == image.manifest_bytes


def skopeo_copy_debug(tools: ContainerTools, source: str, destination: str, credentials: str) -> str:
    """`skopeo --debug copy`; its log (stderr), which says which blobs it mounted."""
    command = ["skopeo", "--debug", "--insecure-policy", "--tmpdir", str(tools.root / "tmp"), "copy"]
    command += ["--src-tls-verify=false", "--dest-tls-verify=false", "--dest-creds", credentials]
    return run([*command, source, destination], env=tools.env, cwd=tools.root).stderr.decode()


def test_skopeo_mounts_layers_across_repositories_its_user_may_pull_and_not_from_others(
    tools: ContainerTools, secured: RunningRegistry, tmp_path: Path
) -> None:
    """skopeo's blob-info cache remembers where each layer lives and mounts it from there (with `from`).

    The owner's copy to a second repository mounts from the first; another user's copy of the same
    image mounts nothing from repositories they cannot pull, uploads the layers, and still succeeds.
    """
    layout, image = build(tmp_path)
    owner, password = create_user(secured)
    other, other_password = create_user(secured)
    tools.skopeo_copy(f"oci:{layout}:v1", tools.docker(f"{owner}/a", "v1"), "--dest-creds", f"{owner}:{password}")
    # skopeo's blob-info cache is one file shared by every skopeo on the machine; when another test's
    # skopeo holds its lock, skopeo silently finds no candidate and uploads. Try a few fresh repositories.
    for attempt in range(3):
        copied = skopeo_copy_debug(
            tools, f"oci:{layout}:v1", tools.docker(f"{owner}/b{attempt}", "v1"), f"{owner}:{password}"
        )
        if f"from={owner}%2Fa&mount=" in copied:
            break
    assert f"from={owner}%2Fa&mount=" in copied and "mount OK" in copied, copied
    stranger = skopeo_copy_debug(
        tools, f"oci:{layout}:v1", tools.docker(f"{other}/c", "v1"), f"{other}:{other_password}"
    )
    assert "mount OK" not in stranger, stranger
    with client_for(secured, (other, other_password)) as client:
        assert client.get(f"/v2/{other}/c/manifests/v1").headers["docker-content-digest"] == image.manifest_digest
    with client_for(secured, (owner, password)) as client:
        copy = client.get(f"/v2/{owner}/b{attempt}/manifests/v1")
        assert copy.headers["docker-content-digest"] == image.manifest_digest
