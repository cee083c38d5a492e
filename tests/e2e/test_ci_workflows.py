"""docs/ci.md, replayed: the administrator's commands and the GitHub Actions and GitLab CI jobs, as written.

The test reads the page itself: it runs every `moorage issuers …` command of its `sh` blocks against a
registry with authentication on, then runs the `run:` steps of the GitHub workflow and the `script:`
of the GitLab job in bash (`-eo pipefail`, as both runners do) in a workspace that plays the checkout,
with the variables the platforms set. Two loopback issuers stand in for GitHub and GitLab and issue ID
tokens with their claim shapes: GitHub's through the `ACTIONS_ID_TOKEN_REQUEST_URL` endpoint the
workflow calls, GitLab's in the `id_tokens` variable. Only names change: the registry's host and the
issuers' URLs. The jobs run docker's own client (podman behind a `docker` shim where docker cannot
run, never under CI) and must push the image tagged with the commit SHA and, on a version tag, the
semver version; jobs whose claims the rules do not match must be refused before anything is pushed.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shlex
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from tests.support.auth import ADMIN, ADMIN_PASSWORD, client_for
from tests.support.clients import container_tools, require_root, require_tools
from tests.support.dockerd import DOCKER, docker_cli, docker_problems
from tests.support.oidc_issuer import OidcIssuer, running_issuer
from tests.support.server import RunningRegistry, start_server

pytestmark = pytest.mark.e2e

DOC = Path(__file__).resolve().parents[2] / "docs" / "ci.md"
REGISTRY_URL_IN_DOC = "https://registry.acme.example"
REGISTRY_IN_DOC = "registry.acme.example"
GITHUB_IN_DOC = "https://token.actions.githubusercontent.com"
GITLAB_IN_DOC = "https://gitlab.com"


# --- the page -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """What docs/ci.md tells the administrator to run and the CI platforms to execute."""

    admin_commands: list[list[str]]
    github_workflow: dict[str, Any]
    gitlab_pipeline: dict[str, Any]


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.S | re.M)


def read_recipe(substitutions: dict[str, str]) -> Recipe:
    text = DOC.read_text()
    for old, new in substitutions.items():
        text = text.replace(old, new)
    commands = []
    for block in code_blocks(text, "sh"):
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith("moorage issuers "):
                commands.append(shlex.split(line))
    documents = [yaml.safe_load(block) for block in code_blocks(text, "yaml")]
    github = [document for document in documents if "jobs" in document]
    gitlab = [document for document in documents if any("id_tokens" in job for job in document.values())]
    assert len(github) == 1 and len(gitlab) == 1, "docs/ci.md shows one GitHub workflow and one GitLab job"
    return Recipe(commands, github[0], gitlab[0])


# --- the platforms: ID tokens with their claims, and the job runners ------------------------------------


def github_claims(issuer: OidcIssuer, repository: str, ref: str, sha: str, audience: str) -> dict[str, Any]:
    """The claims of a GitHub Actions ID token for a push workflow (docs.github.com, "About security hardening
    with OpenID Connect")."""
    now = int(time.time())
    owner = repository.split("/", 1)[0]
    workflow_ref = f"{repository}/.github/workflows/image.yml@{ref}"
    return {
        "jti": uuid.uuid4().hex,
        "iss": issuer.url,
        "aud": audience,
        "sub": f"repo:{repository}:ref:{ref}",
        "ref": ref,
        "ref_type": "tag" if ref.startswith("refs/tags/") else "branch",
        "ref_protected": "false",
        "sha": sha,
        "repository": repository,
        "repository_id": "690001",
        "repository_owner": owner,
        "repository_owner_id": "4200",
        "repository_visibility": "private",
        "run_id": "8000000001",
        "run_number": "17",
        "run_attempt": "1",
        "runner_environment": "github-hosted",
        "actor": "octocat",
        "actor_id": "583231",
        "event_name": "push",
        "workflow": "image",
        "workflow_ref": workflow_ref,
        "workflow_sha": sha,
        "job_workflow_ref": workflow_ref,
        "job_workflow_sha": sha,
        "iat": now,
        "nbf": now - 5,
        "exp": now + 300,
    }


def gitlab_claims(
    issuer: OidcIssuer, project: str, ref_type: str, ref: str, sha: str, audience: str, protected: bool = True
) -> dict[str, Any]:
    """The claims of a GitLab CI `id_tokens` token (docs.gitlab.com, "OpenID Connect (OIDC) ID token claims")."""
    now = int(time.time())
    namespace = project.rsplit("/", 1)[0]
    return {
        "jti": uuid.uuid4().hex,
        "iss": issuer.url,
        "aud": audience,
        "sub": f"project_path:{project}:ref_type:{ref_type}:ref:{ref}",
        "namespace_id": "72",
        "namespace_path": namespace,
        "project_id": "4711",
        "project_path": project,
        "user_id": "1001",
        "user_login": "mona",
        "user_email": "mona@acme.example",
        "user_access_level": "maintainer",
        "pipeline_id": "1000001",
        "pipeline_source": "push",
        "job_id": "5000001",
        "ref": ref,
        "ref_type": ref_type,
        "ref_path": f"refs/{'heads' if ref_type == 'branch' else 'tags'}/{ref}",
        "ref_protected": "true" if protected else "false",
        "runner_id": 12,
        "runner_environment": "gitlab-hosted",
        "sha": sha,
        "project_visibility": "private",
        "ci_config_ref_uri": f"gitlab.com/{project}//.gitlab-ci.yml@refs/heads/main",
        "ci_config_sha": sha,
        "iat": now,
        "nbf": now - 5,
        "exp": now + 300,
    }


@dataclass
class IdTokenEndpoint:
    """GitHub's `ACTIONS_ID_TOKEN_REQUEST_URL`: answers `{"value": <ID token>}` to the job's bearer token."""

    issuer: OidcIssuer
    request_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    url: str = ""
    claims: Callable[[str], dict[str, Any]] | None = None  # audience -> claims, set per job
    audiences: list[str] = field(default_factory=list)

    def answer(self, authorization: str, path: str) -> tuple[int, dict[str, Any]]:
        if authorization.lower() != f"bearer {self.request_token}".lower() or self.claims is None:
            return 401, {"message": "bad request token"}
        audience = parse_qs(urlsplit(path).query).get("audience", [""])[0]
        self.audiences.append(audience)
        return 200, {"value": self.issuer.mint(self.claims(audience))}


@contextlib.contextmanager
def running_endpoint(issuer: OidcIssuer) -> Iterator[IdTokenEndpoint]:
    endpoint = IdTokenEndpoint(issuer)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = endpoint.answer(self.headers.get("Authorization", ""), self.path)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    endpoint.url = f"http://127.0.0.1:{server.server_address[1]}/_apis/token?api-version=2.0"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass
class Job:
    """What a replayed CI job did: the step that failed (None: all passed), and the output of its steps."""

    failed_step: int | None
    log: str
    failure: str = ""

    @property
    def succeeded(self) -> bool:
        return self.failed_step is None


def run_scripts(scripts: list[str], env: dict[str, str], workspace: Path) -> Job:
    """Run scripts one after another as `bash -eo pipefail`; stop at the first that fails, like a runner."""
    log = []
    for number, script in enumerate(scripts):
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            env=env,
            cwd=workspace,
            capture_output=True,
            text=True,
            timeout=300,
        )
        log.append(f"$ {script}\n{result.stdout}{result.stderr}(exit {result.returncode})")
        if result.returncode != 0:
            return Job(number, "\n".join(log), result.stderr)
    return Job(None, "\n".join(log))


# --- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def github() -> Iterator[OidcIssuer]:
    with running_issuer() as issuer:
        yield issuer


@pytest.fixture(scope="module")
def gitlab() -> Iterator[OidcIssuer]:
    with running_issuer() as issuer:
        yield issuer


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    settings = {"auth_enabled": "true", "admin_username": ADMIN, "admin_password": ADMIN_PASSWORD}
    with start_server(tmp_path_factory.mktemp("ci-e2e"), **settings) as server:
        yield server


@pytest.fixture(scope="module")
def recipe(secured: RunningRegistry, github: OidcIssuer, gitlab: OidcIssuer) -> Recipe:
    """docs/ci.md with this test's registry and issuers, after its administrator commands ran."""
    recipe = read_recipe(
        {
            REGISTRY_URL_IN_DOC: secured.url,
            REGISTRY_IN_DOC: secured.host,
            GITHUB_IN_DOC: github.url,
            GITLAB_IN_DOC: gitlab.url,
        }
    )
    assert [command[:3] for command in recipe.admin_commands[:1]] == [["moorage", "issuers", "trust"]]
    environment = {
        **os.environ,
        "MOORAGE_URL": secured.url,
        "MOORAGE_USERNAME": ADMIN,
        "MOORAGE_PASSWORD": ADMIN_PASSWORD,
    }
    for command in recipe.admin_commands:
        result = subprocess.run(
            [sys.executable, "-m", "moorage", *command[1:]], env=environment, capture_output=True, text=True
        )
        assert result.returncode == 0, f"{shlex.join(command)}\n{result.stdout}{result.stderr}"
    return recipe


@pytest.fixture
def engine(request: pytest.FixtureRequest, secured: RunningRegistry) -> Iterator[dict[str, str]]:
    """The environment that makes `docker` in a job script Docker's own CLI on the session's private daemon.

    Where docker cannot run (not root, not installed) and CI is not set, podman stands in through a
    `docker` shim: the scripts use only login, build, tag and push, which podman accepts alike.
    """
    bin_dir = Path(tempfile.mkdtemp(prefix="ci-bin-"))
    path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    try:
        if not docker_problems() or os.environ.get("CI"):
            with docker_cli(request.getfixturevalue("dockerd")) as cli:
                (bin_dir / "docker").symlink_to(DOCKER)
                yield {**cli.env, "PATH": path}
        else:
            require_tools("podman")
            require_root("rootful podman")
            with container_tools(secured.host) as tools:
                shim = bin_dir / "docker"
                shim.write_text('#!/bin/sh\nexec podman "$@"\n')
                shim.chmod(0o755)
                yield {**tools.env, "PATH": path}
    finally:
        for entry in bin_dir.iterdir():
            entry.unlink()
        bin_dir.rmdir()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """The checked-out repository: a Dockerfile (FROM scratch + COPY) and a file of unique content."""
    workspace = tmp_path / "checkout"
    workspace.mkdir()
    (workspace / "Dockerfile").write_text("FROM scratch\nCOPY version.txt /version.txt\n")
    (workspace / "version.txt").write_text(f"built in CI {uuid.uuid4().hex}\n")
    return workspace


@pytest.fixture(scope="module")
def id_token_endpoint(github: OidcIssuer) -> Iterator[IdTokenEndpoint]:
    with running_endpoint(github) as endpoint:
        yield endpoint


def sha() -> str:
    return secrets.token_hex(20)


# --- replaying the jobs ---------------------------------------------------------------------------------


def run_github_workflow(
    recipe: Recipe,
    endpoint: IdTokenEndpoint,
    engine: dict[str, str],
    workspace: Path,
    repository: str,
    ref: str,
    commit: str,
) -> Job:
    """The workflow's job on a push of `ref`: its `run:` steps with the variables GitHub's runner sets."""
    workflow = recipe.github_workflow
    assert workflow["permissions"]["id-token"] == "write"
    (job,) = workflow["jobs"].values()
    steps = job["steps"]
    assert steps[0]["uses"].startswith("actions/checkout@"), "the workspace stands for the checkout"
    endpoint.claims = lambda audience: github_claims(endpoint.issuer, repository, ref, commit, audience)
    env = {
        **os.environ,
        **engine,
        **{name: str(value) for name, value in workflow.get("env", {}).items()},
        **{name: str(value) for name, value in job.get("env", {}).items()},
        "GITHUB_ACTIONS": "true",
        "GITHUB_REPOSITORY": repository,
        "GITHUB_REPOSITORY_OWNER": repository.split("/", 1)[0],
        "GITHUB_SHA": commit,
        "GITHUB_REF": ref,
        "GITHUB_REF_NAME": ref.split("/", 2)[2],
        "GITHUB_REF_TYPE": "tag" if ref.startswith("refs/tags/") else "branch",
        "GITHUB_WORKSPACE": str(workspace),
        "ACTIONS_ID_TOKEN_REQUEST_URL": endpoint.url,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": endpoint.request_token,
    }
    return run_scripts([step["run"] for step in steps[1:]], env, workspace)


def run_gitlab_job(
    recipe: Recipe, gitlab: OidcIssuer, engine: dict[str, str], workspace: Path, claims: dict[str, Any]
) -> Job:
    """The pipeline's job with the variables GitLab's runner sets; `claims` shape its ID token.

    `before_script` only installs curl and jq into the `docker` image; here scripts/test installed them.
    """
    ((_, job),) = [(name, job) for name, job in recipe.gitlab_pipeline.items() if "script" in job]
    project, ref_type, ref = claims["project_path"], claims["ref_type"], claims["ref"]
    env = {
        **os.environ,
        **engine,
        **{name: str(value) for name, value in job.get("variables", {}).items()},
        "GITLAB_CI": "true",
        "CI_PROJECT_PATH": project,
        "CI_PROJECT_NAMESPACE": claims["namespace_path"],
        "CI_COMMIT_SHA": claims["sha"],
        "CI_COMMIT_REF_NAME": ref,
        "CI_DEFAULT_BRANCH": "main",
        "CI_PIPELINE_SOURCE": "push",
        ("CI_COMMIT_BRANCH" if ref_type == "branch" else "CI_COMMIT_TAG"): ref,
    }
    for variable, spec in job["id_tokens"].items():
        env[variable] = gitlab.mint({**claims, "aud": spec["aud"]})
    return run_scripts(["\n".join(job["script"])], env, workspace)


def tags_of(secured: RunningRegistry, repository: str) -> dict[str, str]:
    """Every tag of `repository` with the digest it points to, read as the administrator."""
    with client_for(secured, (ADMIN, ADMIN_PASSWORD)) as registry:
        listed = registry.get(f"/v2/{repository}/tags/list")
        if listed.status_code == 404:
            return {}
        assert listed.status_code == 200, listed.text
        return {
            tag: registry.head(f"/v2/{repository}/manifests/{tag}").headers["docker-content-digest"]
            for tag in listed.json()["tags"]
        }


# --- GitHub Actions -------------------------------------------------------------------------------------


def test_github_workflow_on_main_pushes_the_image_tagged_with_the_commit_sha(
    recipe: Recipe,
    id_token_endpoint: IdTokenEndpoint,
    engine: dict[str, str],
    workspace: Path,
    secured: RunningRegistry,
) -> None:
    repository, commit = f"acme/api-{uuid.uuid4().hex[:8]}", sha()
    job = run_github_workflow(recipe, id_token_endpoint, engine, workspace, repository, "refs/heads/main", commit)
    assert job.succeeded, job.log
    assert list(tags_of(secured, repository)) == [commit]
    assert id_token_endpoint.audiences[-1] == "moorage"


def test_github_workflow_on_a_version_tag_pushes_the_sha_and_the_semver_tags(
    recipe: Recipe,
    id_token_endpoint: IdTokenEndpoint,
    engine: dict[str, str],
    workspace: Path,
    secured: RunningRegistry,
) -> None:
    repository, commit = f"acme/Web-{uuid.uuid4().hex[:8]}", sha()  # GitHub names may have capitals
    job = run_github_workflow(recipe, id_token_endpoint, engine, workspace, repository, "refs/tags/v1.4.2", commit)
    assert job.succeeded, job.log
    tags = tags_of(secured, repository.lower())
    assert sorted(tags) == sorted([commit, "1.4.2"])
    assert tags[commit] == tags["1.4.2"]


@pytest.mark.parametrize(
    ("repository", "ref"),
    [
        (f"acme/api-{uuid.uuid4().hex[:8]}", "refs/heads/feature"),  # not the default branch
        (f"acme/api-{uuid.uuid4().hex[:8]}", "refs/tags/nightly"),  # a tag that is no version
        (f"mallory/api-{uuid.uuid4().hex[:8]}", "refs/heads/main"),  # another organisation's workflow
    ],
    ids=["feature-branch", "non-version-tag", "other-owner"],
)
def test_a_github_job_whose_claims_no_rule_matches_is_refused_at_login_and_pushes_nothing(
    recipe: Recipe,
    id_token_endpoint: IdTokenEndpoint,
    engine: dict[str, str],
    workspace: Path,
    secured: RunningRegistry,
    repository: str,
    ref: str,
) -> None:
    job = run_github_workflow(recipe, id_token_endpoint, engine, workspace, repository, ref, sha())
    assert job.failed_step == 0, job.log  # the login step
    assert "invalid username" in job.failure.lower(), job.log  # docker: "…or password", podman: "…/password"
    assert tags_of(secured, repository.lower()) == {}


# --- GitLab CI ------------------------------------------------------------------------------------------


def test_gitlab_job_on_the_default_branch_pushes_the_image_tagged_with_the_commit_sha(
    recipe: Recipe, gitlab: OidcIssuer, engine: dict[str, str], workspace: Path, secured: RunningRegistry
) -> None:
    project, commit = f"acme/api-{uuid.uuid4().hex[:8]}", sha()
    claims = gitlab_claims(gitlab, project, "branch", "main", commit, "moorage")
    job = run_gitlab_job(recipe, gitlab, engine, workspace, claims)
    assert job.succeeded, job.log
    assert list(tags_of(secured, project)) == [commit]


def test_gitlab_job_on_a_version_tag_pushes_the_sha_and_the_semver_tags(
    recipe: Recipe, gitlab: OidcIssuer, engine: dict[str, str], workspace: Path, secured: RunningRegistry
) -> None:
    project, commit = f"acme/worker-{uuid.uuid4().hex[:8]}", sha()
    claims = gitlab_claims(gitlab, project, "tag", "v2.0.1", commit, "moorage")
    job = run_gitlab_job(recipe, gitlab, engine, workspace, claims)
    assert job.succeeded, job.log
    tags = tags_of(secured, project)
    assert sorted(tags) == sorted([commit, "2.0.1"])
    assert tags[commit] == tags["2.0.1"]


@pytest.mark.parametrize(
    ("project", "ref_type", "ref", "protected"),
    [
        (f"acme/api-{uuid.uuid4().hex[:8]}", "branch", "main", False),  # main is not protected
        (f"acme/api-{uuid.uuid4().hex[:8]}", "branch", "feature", True),  # not the default branch
        (f"mallory/api-{uuid.uuid4().hex[:8]}", "branch", "main", True),  # another group's project
    ],
    ids=["unprotected-main", "feature-branch", "other-group"],
)
def test_a_gitlab_job_whose_claims_no_rule_matches_is_refused_at_the_exchange_and_pushes_nothing(
    recipe: Recipe,
    gitlab: OidcIssuer,
    engine: dict[str, str],
    workspace: Path,
    secured: RunningRegistry,
    project: str,
    ref_type: str,
    ref: str,
    protected: bool,
) -> None:
    claims = gitlab_claims(gitlab, project, ref_type, ref, sha(), "moorage", protected=protected)
    job = run_gitlab_job(recipe, gitlab, engine, workspace, claims)
    assert not job.succeeded
    assert "error: 403" in job.failure, job.log  # curl -f: the exchange answered 403 access_denied
    assert tags_of(secured, project) == {}
