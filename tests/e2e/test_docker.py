"""Docker's own client (Debian's docker.io: the CLI and a private dockerd) against a registry with authentication on.

`docker login` with every kind of credential (password, access token, robot secret, a login password
piped from `moorage login-password`, and the `docker-credential-moorage` helper through `credHelpers`),
`docker build` (FROM scratch + COPY: no network, no container run) then push, rmi and pull of the
very same image, a two-platform manifest list with `docker manifest`, and the refusals docker shows
for a push without rights and for a pull after `docker logout`.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.auth import ADMIN, ADMIN_PASSWORD, api, client_for, create_user, grant
from tests.support.clients import ClientError, run
from tests.support.dockerd import DOCKER, DockerCli, Dockerd, docker_cli
from tests.support.server import RunningRegistry, start_server

pytestmark = pytest.mark.e2e

CREDENTIAL_HELPER = Path(sys.executable).parent / "docker-credential-moorage"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    settings = {"auth_enabled": "true", "admin_username": ADMIN, "admin_password": ADMIN_PASSWORD}
    with start_server(tmp_path_factory.mktemp("docker-e2e"), **settings) as server:
        yield server


@pytest.fixture
def user(secured: RunningRegistry) -> tuple[str, str]:
    return create_user(secured)


def build(docker: DockerCli, context: Path, reference: str, content: str | None = None) -> str:
    """`docker build` of FROM scratch + COPY of one small file of unique content; returns the image ID."""
    context.mkdir(parents=True, exist_ok=True)
    (context / "hello.txt").write_text(content or f"built by docker {uuid.uuid4().hex}\n")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /hello.txt\n")
    docker.run("build", "-q", "-t", reference, context)
    return docker.image_id(reference)


def file_in_image(docker: DockerCli, reference: str, path: str) -> bytes:
    """A file's bytes from an image, through a created (never started) container."""
    container = docker.run("create", reference, "/none")
    try:
        archive = run([DOCKER, "cp", f"{container}:{path}", "-"], env=docker.env).stdout
    finally:
        docker.run("rm", container)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        member = tar.extractfile(tar.getmembers()[0])
        assert member is not None
        return member.read()


def refused(call, *words: str) -> str:  # type: ignore[no-untyped-def]
    """Run a docker command that must fail; return what docker printed (lower-cased) after checking `words`."""
    with pytest.raises(ClientError) as caught:
        call()
    message = str(caught.value).lower()
    assert all(word in message for word in words), message
    return message


def access_token(secured: RunningRegistry, user: tuple[str, str], scopes: list[str], repositories: list[str]) -> str:
    with api(secured, user) as client:
        body = {"name": uuid.uuid4().hex[:8], "scopes": scopes, "repositories": repositories}
        response = client.post(f"/users/{user[0]}/tokens", json=body)
        assert response.status_code == 201, response.text
        return str(response.json()["token"])


def test_docker_login_with_a_password_builds_pushes_and_pulls_back_the_same_image(
    docker: DockerCli, secured: RunningRegistry, user: tuple[str, str], tmp_path: Path
) -> None:
    name, password = user
    refused(lambda: docker.login(secured.host, name, "wrong-password"), "unauthorized")
    assert "Login Succeeded" in docker.login(secured.host, name, password)
    stored = docker.config()["auths"][secured.host]
    assert stored["identitytoken"], stored  # docker keeps the registry's refresh token ...
    assert base64.b64decode(stored["auth"]) == f"{name}:".encode()  # ... and not the password
    reference = f"{secured.host}/{name}/app:v1"
    content = f"hello from {uuid.uuid4().hex}\n"
    built = build(docker, tmp_path / "context", reference, content)

    pushed = docker.run("push", reference)
    digest = pushed.rsplit("digest: ", 1)[1].split()[0]
    docker.run("rmi", reference)
    refused(lambda: docker.image_id(reference), "no such image")
    docker.run("pull", "-q", reference)

    assert docker.image_id(reference) == built
    repo_digests = docker.run("image", "inspect", "--format", "{{.RepoDigests}}", reference)
    assert f"{secured.host}/{name}/app@{digest}" in repo_digests
    assert file_in_image(docker, reference, "/hello.txt") == content.encode()
    with client_for(secured, (name, password)) as registry:
        served = registry.head(f"/v2/{name}/app/manifests/v1")
        assert served.headers["docker-content-digest"] == digest


def test_docker_login_with_an_access_token_pushes_only_where_the_token_reaches(
    docker: DockerCli, secured: RunningRegistry, user: tuple[str, str], tmp_path: Path
) -> None:
    name = user[0]
    token = access_token(secured, user, ["push"], [f"{name}/api"])
    docker.login(secured.host, name, token)
    build(docker, tmp_path / "context", f"{secured.host}/{name}/api:v1")
    docker.run("push", f"{secured.host}/{name}/api:v1")
    docker.run("tag", f"{secured.host}/{name}/api:v1", f"{secured.host}/{name}/other:v1")
    refused(lambda: docker.run("push", f"{secured.host}/{name}/other:v1"), "denied")


def test_docker_login_as_a_robot_pushes_to_its_repository(
    docker: DockerCli, secured: RunningRegistry, user: tuple[str, str], tmp_path: Path
) -> None:
    name = user[0]
    with api(secured, user) as client:
        body = {"name": "builder", "scopes": ["push"], "repositories": [f"{name}/service"]}
        response = client.post(f"/namespaces/{name}/robots", json=body)
        assert response.status_code == 201, response.text
        robot = response.json()
    docker.login(secured.host, robot["username"], robot["secret"])
    built = build(docker, tmp_path / "context", f"{secured.host}/{name}/service:v1")
    docker.run("push", f"{secured.host}/{name}/service:v1")
    docker.run("rmi", f"{secured.host}/{name}/service:v1")
    docker.run("pull", "-q", f"{secured.host}/{name}/service:v1")
    assert docker.image_id(f"{secured.host}/{name}/service:v1") == built


def test_a_login_password_from_moorage_login_password_piped_into_docker_login(
    docker: DockerCli, secured: RunningRegistry, user: tuple[str, str], tmp_path: Path
) -> None:
    """The documented one-liner: `moorage login-password | docker login -u NAME --password-stdin HOST`."""
    name, password = user
    environment = {
        **os.environ,
        **docker.env,
        "MOORAGE_URL": secured.url,
        "MOORAGE_USERNAME": name,
        "MOORAGE_PASSWORD": password,
    }
    script = (
        f'set -o pipefail; "{sys.executable}" -m moorage login-password'
        f' | /usr/bin/docker login -u "{name}" --password-stdin {secured.host}'
    )
    result = subprocess.run(["bash", "-c", script], env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "Login Succeeded" in result.stdout
    assert password not in result.stdout + result.stderr
    build(docker, tmp_path / "context", f"{secured.host}/{name}/nightly:v1")
    docker.run("push", f"{secured.host}/{name}/nightly:v1")
    assert password not in (docker.config_dir / "config.json").read_text()


def test_docker_manifest_pushes_a_two_platform_list_that_lists_both_platforms(
    docker: DockerCli, secured: RunningRegistry, user: tuple[str, str], tmp_path: Path
) -> None:
    name, password = user
    docker.login(secured.host, name, password)
    repository = f"{secured.host}/{name}/multi"
    build(docker, tmp_path / "amd64", f"{repository}:amd64")
    build(docker, tmp_path / "arm64", f"{repository}:arm64")
    digests = {}
    for platform in ("amd64", "arm64"):
        digests[platform] = docker.run("push", f"{repository}:{platform}").rsplit("digest: ", 1)[1].split()[0]

    docker.run("manifest", "create", "--insecure", f"{repository}:v1", f"{repository}:amd64", f"{repository}:arm64")
    docker.run("manifest", "annotate", "--arch", "arm64", f"{repository}:v1", f"{repository}:arm64")
    docker.run("manifest", "annotate", "--arch", "amd64", f"{repository}:v1", f"{repository}:amd64")
    pushed = docker.run("manifest", "push", "--insecure", f"{repository}:v1")

    with client_for(secured, (name, password)) as registry:
        response = registry.get(f"/v2/{name}/multi/manifests/v1", headers={"Accept": DOCKER_LIST})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == DOCKER_LIST
    assert response.headers["docker-content-digest"] == pushed
    listed = {entry["platform"]["architecture"]: entry["digest"] for entry in response.json()["manifests"]}
    assert listed == digests
    assert {entry["platform"]["os"] for entry in response.json()["manifests"]} == {"linux"}


def test_a_push_with_pull_rights_only_is_refused_with_the_reason_docker_prints(
    docker: DockerCli, secured: RunningRegistry, user: tuple[str, str], tmp_path: Path
) -> None:
    owner, owner_password = user
    reader, reader_password = create_user(secured)
    grant(secured, "user", reader, f"{owner}/app", "read")
    with docker_cli(docker.daemon) as owner_docker:
        owner_docker.login(secured.host, owner, owner_password)
        build(owner_docker, tmp_path / "context", f"{secured.host}/{owner}/app:v1")
        owner_docker.run("push", f"{secured.host}/{owner}/app:v1")

    docker.login(secured.host, reader, reader_password)
    docker.run("pull", "-q", f"{secured.host}/{owner}/app:v1")
    docker.run("tag", f"{secured.host}/{owner}/app:v1", f"{secured.host}/{owner}/app:v2")
    message = refused(lambda: docker.run("push", f"{secured.host}/{owner}/app:v2"), "denied")
    assert f"{reader} may not push {owner}/app" in message, message
    with client_for(secured, (owner, owner_password)) as registry:
        assert registry.get(f"/v2/{owner}/app/tags/list").json()["tags"] == ["v1"]


def test_after_docker_logout_a_pull_of_a_private_repository_is_refused(
    docker: DockerCli, secured: RunningRegistry, user: tuple[str, str], tmp_path: Path
) -> None:
    name, password = user
    docker.login(secured.host, name, password)
    reference = f"{secured.host}/{name}/private:v1"
    build(docker, tmp_path / "context", reference)
    docker.run("push", reference)
    docker.run("logout", secured.host)
    assert secured.host not in docker.config().get("auths", {})
    docker.run("rmi", reference)
    message = refused(lambda: docker.run("pull", reference), "pull access denied", "denied")
    assert "docker login" in message
    assert httpx.get(f"{secured.url}/v2/{name}/private/tags/list").status_code == 401


def test_docker_gets_its_credentials_from_docker_credential_moorage_after_moorage_login(
    dockerd: Dockerd, secured: RunningRegistry, user: tuple[str, str], tmp_path: Path
) -> None:
    """`credHelpers: {HOST: "moorage"}`: docker asks `docker-credential-moorage get` for HOST, never stores a secret."""
    if not CREDENTIAL_HELPER.exists():  # the package's console script: always there after scripts/test
        missing = f"the credential helper is not installed next to {sys.executable}"
        if os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    name, password = user
    environment = {
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PATH": f"{CREDENTIAL_HELPER.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    login = [sys.executable, "-m", "moorage", "login", secured.url, "--username", name, "--password-stdin"]
    run(login, env=environment, input=password.encode())

    answer = run([CREDENTIAL_HELPER, "get"], env=environment, input=secured.host.encode()).stdout
    credential = json.loads(answer)
    assert credential["ServerURL"] and credential["Username"] == name
    assert credential["Secret"] and credential["Secret"] != password

    with docker_cli(dockerd, **environment) as docker:
        docker.write_config({"credHelpers": {secured.host: "moorage"}})
        reference = f"{secured.host}/{name}/helped:v1"
        built = build(docker, tmp_path / "context", reference)
        docker.run("push", reference)
        docker.run("rmi", reference)
        docker.run("pull", "-q", reference)
        assert docker.image_id(reference) == built
        assert password not in (docker.config_dir / "config.json").read_text()
        assert "auths" not in docker.config() or secured.host not in docker.config()["auths"]
