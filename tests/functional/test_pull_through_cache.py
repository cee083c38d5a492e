"""The pull-through cache over HTTP: a moorage with authentication on caches another moorage
(authenticated upstream, token auth), plus a stub that only rate limits (the one fake upstream).

One cache and one upstream for the whole module; each test uses its own repositories.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from moorage.metadata import cache_fills
from moorage.metadata.common import now
from moorage.metadata.database import Database
from tests.functional.cli_support import Cli
from tests.functional.helpers import (
    assert_error,
    image_manifest,
    index_manifest,
    push_blob,
    push_image,
    push_manifest,
    random_bytes,
)
from tests.support.auth import ADMIN, ADMIN_PASSWORD, api, client_for, create_user, grant
from tests.support.faulty_proxy import faulty_proxy
from tests.support.server import RunningRegistry, postgres_database, start_server
from tests.support.upstreams import rate_limiting_upstream

TTL = 5.0
AUTH = {
    "auth_enabled": "true",
    "admin_username": ADMIN,
    "admin_password": ADMIN_PASSWORD,
    "login_failures_per_address": "100000",
}
UPSTREAM_PASSWORD = "upstream-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    with start_server(tmp_path_factory.mktemp("upstream"), **AUTH) as server:
        with api(server) as admin:
            response = admin.post("/users", json={"name": "mirror", "password": UPSTREAM_PASSWORD})
            assert response.status_code == 201, response.text
        grant(server, "user", "mirror", "*", "read")
        yield server


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory, upstream: RunningRegistry) -> Iterator[RunningRegistry]:
    settings = {**AUTH, "proxy_tag_ttl_seconds": str(TTL), "proxy_upstream_timeout_seconds": "5"}
    with start_server(tmp_path_factory.mktemp("cache"), **settings) as server:
        with api(server) as admin:
            body = {
                "prefix": "up",
                "upstream_url": upstream.url,
                "username": "mirror",
                "password": UPSTREAM_PASSWORD,
            }
            response = admin.post("/cache-rules", json=body)
            assert response.status_code == 201, response.text
        yield server


@pytest.fixture(scope="module")
def pusher(upstream: RunningRegistry) -> Iterator[httpx.Client]:
    with client_for(upstream, (ADMIN, ADMIN_PASSWORD)) as client:
        yield client


@pytest.fixture(scope="module")
def puller(cache: RunningRegistry) -> Iterator[httpx.Client]:
    with client_for(cache, (ADMIN, ADMIN_PASSWORD)) as client:
        yield client


def _repo() -> str:
    return f"lib/app{uuid.uuid4().hex[:8]}"


def _audit(cache: RunningRegistry, action: str, repository: str) -> list[dict[str, object]]:
    with api(cache) as admin:
        response = admin.get("/audit", params={"action": action, "repository": repository})
        assert response.status_code == 200, response.text
        entries: list[dict[str, object]] = response.json()["entries"]
        return entries


def test_a_pull_by_tag_copies_the_image_and_serves_the_upstreams_bytes(
    cache: RunningRegistry, pusher: httpx.Client, puller: httpx.Client
) -> None:
    repo = _repo()
    pushed = push_image(pusher, repo, "v1")
    response = puller.get(f"/v2/up/{repo}/manifests/v1", headers={"Accept": pushed.media_type})
    assert response.status_code == 200, response.text
    assert response.content == pushed.body
    assert response.headers["docker-content-digest"] == pushed.digest
    for descriptor in [pushed.document["config"], *pushed.document["layers"]]:
        blob = puller.get(f"/v2/up/{repo}/blobs/{descriptor['digest']}")
        assert blob.status_code == 200, blob.text
        upstream_bytes = pusher.get(f"/v2/{repo}/blobs/{descriptor['digest']}").content
        assert blob.content == upstream_bytes
    # Cached now: served by the registry itself (a range works, which only a cached blob answers).
    layer = pushed.document["layers"][0]["digest"]
    ranged = puller.get(f"/v2/up/{repo}/blobs/{layer}", headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 206
    # The fill is audited as the pull that caused it, by who pulled.
    fills = _audit(cache, "proxy.fill", f"up/{repo}")
    assert fills and fills[0]["actor"]["name"] == ADMIN  # type: ignore[index]


def test_pulling_a_tag_sees_an_upstream_move_within_the_ttl(pusher: httpx.Client, puller: httpx.Client) -> None:
    repo = _repo()
    first = push_image(pusher, repo, "latest")
    assert puller.get(f"/v2/up/{repo}/manifests/latest").headers["docker-content-digest"] == first.digest
    second = push_image(pusher, repo, "latest")
    moved_at = time.monotonic()
    seen = first.digest
    while seen != second.digest and time.monotonic() - moved_at < TTL + 5:
        seen = puller.get(f"/v2/up/{repo}/manifests/latest").headers["docker-content-digest"]
        if seen != second.digest:
            time.sleep(0.2)
    assert seen == second.digest
    assert time.monotonic() - moved_at <= TTL + 3  # within the TTL (plus one poll and the fetch, on a busy machine)
    # The old digest stays pullable by digest.
    assert puller.get(f"/v2/up/{repo}/manifests/{first.digest}").status_code == 200


def test_within_the_ttl_a_tag_is_served_without_asking_the_upstream(
    upstream: RunningRegistry, pusher: httpx.Client, puller: httpx.Client
) -> None:
    repo = _repo()
    first = push_image(pusher, repo, "v1")
    assert puller.get(f"/v2/up/{repo}/manifests/v1").headers["docker-content-digest"] == first.digest
    checked = time.monotonic()  # the tag was resolved upstream by the pull just answered
    second = push_image(pusher, repo, "v1")  # moved upstream just now
    served = puller.get(f"/v2/up/{repo}/manifests/v1").headers["docker-content-digest"]
    elapsed = time.monotonic() - checked
    if elapsed < TTL - 1:  # (the server recorded its check a little before `checked`)
        assert served == first.digest  # within the TTL: the cached tag, the upstream not asked
    elif elapsed > TTL:  # a very slow machine took longer than the TTL for the push: re-resolved
        assert served == second.digest


def test_an_index_is_cached_and_only_the_platform_asked_for_is_fetched(
    cache: RunningRegistry, pusher: httpx.Client, puller: httpx.Client
) -> None:
    repo = _repo()
    amd64 = push_image(pusher, repo)
    arm64 = push_image(pusher, repo)
    index = push_manifest(pusher, repo, index_manifest([amd64, arm64]), "multi")
    assert puller.get(f"/v2/up/{repo}/manifests/multi").content == index.body
    assert puller.get(f"/v2/up/{repo}/manifests/{amd64.digest}").content == amd64.body
    filled = {entry["target"] for entry in _audit(cache, "proxy.fill", f"up/{repo}")}
    assert filled == {index.digest, amd64.digest}
    with api(cache) as admin:
        images = admin.get(f"/repositories/up/{repo}/images").json()
    assert arm64.digest not in str(images)


def test_pushing_into_a_cached_prefix_is_refused(puller: httpx.Client) -> None:
    repo = f"up/{_repo()}"
    assert_error(puller.post(f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"}), 403, "DENIED")
    config = b"{}"
    response = puller.put(
        f"/v2/{repo}/manifests/v1",
        content=b'{"schemaVersion":2}',
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert_error(response, 403, "DENIED")
    assert "pull-through cache" in response.json()["errors"][0]["message"]
    assert config


def test_an_unknown_upstream_manifest_is_an_oci_error_naming_the_upstream(
    upstream: RunningRegistry, puller: httpx.Client
) -> None:
    response = puller.get(f"/v2/up/{_repo()}/manifests/nope")
    assert_error(response, 404, "MANIFEST_UNKNOWN")
    assert upstream.url in response.json()["errors"][0]["message"]


def test_rules_are_managed_by_registry_admins_only(cache: RunningRegistry, upstream: RunningRegistry) -> None:
    user = create_user(cache)
    grant(cache, "user", user[0], "*", "write")
    body = {"prefix": "sneaky", "upstream_url": upstream.url}
    with api(cache, user) as client:
        assert client.post("/cache-rules", json=body).status_code == 403
        assert client.get("/cache-rules").status_code == 403
        assert client.delete("/cache-rules/up").status_code == 403
    with api(cache) as admin:
        token = admin.post(f"/users/{ADMIN}/tokens", json={"name": "ro", "scopes": ["pull"], "repositories": ["*"]})
        assert token.status_code == 201, token.text
    # A leaked pull-only token of the admin manages nothing.
    with api(cache, (ADMIN, token.json()["token"])) as scoped:
        assert scoped.post("/cache-rules", json=body).status_code == 403
        assert scoped.get("/cache-rules/up").status_code == 403
        assert scoped.put("/cache-rules/up", json={"password": "x" * 20}).status_code == 403
    with httpx.Client(base_url=f"{cache.url}/api/v1") as anonymous:
        assert anonymous.get("/cache-rules").status_code == 401


def test_the_upstream_password_is_never_returned_and_is_stored_encrypted(cache: RunningRegistry) -> None:
    with api(cache) as admin:
        rules = admin.get("/cache-rules")
        one = admin.get("/cache-rules/up")
        audit = admin.get("/audit", params={"action": "cache_rule."})
    for response in (rules, one, audit):
        assert response.status_code == 200
        assert UPSTREAM_PASSWORD not in response.text
    assert one.json()["has_credentials"] is True and one.json()["username"] == "mirror"
    assert cache.data_dir is not None
    database = sqlite3.connect(cache.data_dir / "metadata.db")
    try:
        (stored,) = database.execute("SELECT password_encrypted FROM cache_rules WHERE prefix = 'up'").fetchone()
    finally:
        database.close()
    assert UPSTREAM_PASSWORD not in stored and stored.startswith("gAAAA")


def test_rotating_the_upstream_password_to_a_wrong_one_stops_new_fills(
    cache: RunningRegistry, upstream: RunningRegistry, pusher: httpx.Client, puller: httpx.Client
) -> None:
    with api(cache) as admin:
        response = admin.post(
            "/cache-rules",
            json={"prefix": "rot", "upstream_url": upstream.url, "username": "mirror", "password": "wrong"},
        )
        assert response.status_code == 201, response.text
    repo = _repo()
    push_image(pusher, repo, "v1")
    refused = puller.get(f"/v2/rot/{repo}/manifests/v1")
    assert refused.status_code == 502 and upstream.url in refused.text
    with api(cache) as admin:
        assert admin.put("/cache-rules/rot", json={"password": UPSTREAM_PASSWORD}).status_code == 200
    assert puller.get(f"/v2/rot/{repo}/manifests/v1").status_code == 200


def test_a_prefix_over_someone_elses_repositories_is_refused(cache: RunningRegistry, upstream: RunningRegistry) -> None:
    user = create_user(cache)
    namespace = f"team{uuid.uuid4().hex[:6]}"
    grant(cache, "user", user[0], f"{namespace}/*", "write")
    with client_for(cache, user) as client:
        push_image(client, f"{namespace}/app", "v1")
    with api(cache) as admin:
        response = admin.post("/cache-rules", json={"prefix": namespace, "upstream_url": upstream.url})
        assert response.status_code == 409, response.text
        assert "repositories" in response.json()["detail"]
        bad = admin.post("/cache-rules", json={"prefix": "x", "upstream_url": "ftp://example"})
        assert bad.status_code == 400
        assert bad.headers["content-type"].startswith("application/problem+json")


def test_a_pull_without_permission_of_a_never_cached_image_asks_nothing_upstream(cache: RunningRegistry) -> None:
    with rate_limiting_upstream() as stub:
        with api(cache) as admin:
            assert admin.post("/cache-rules", json={"prefix": "anon", "upstream_url": stub.url}).status_code == 201
        with httpx.Client(base_url=cache.url) as anonymous:
            response = anonymous.get("/v2/anon/library/busybox/manifests/latest")
            assert response.status_code == 401
            assert anonymous.get(f"/v2/anon/library/busybox/blobs/sha256:{'0' * 64}").status_code == 401
        # A signed-in user without pull permission on the cached repository is refused just as early.
        stranger = create_user(cache)
        with client_for(cache, stranger) as client:
            assert_error(client.get("/v2/anon/library/busybox/manifests/latest"), 403, "DENIED")
            assert_error(client.head(f"/v2/anon/library/busybox/blobs/sha256:{'0' * 64}"), 403, None)
        assert stub.requests == []


def test_an_upstream_429_is_passed_on_with_retry_after_and_respected(
    cache: RunningRegistry, puller: httpx.Client
) -> None:
    with rate_limiting_upstream(retry_after=30) as stub:
        with api(cache) as admin:
            assert admin.post("/cache-rules", json={"prefix": "busy", "upstream_url": stub.url}).status_code == 201
        response = puller.get("/v2/busy/library/busybox/manifests/latest")
        assert_error(response, 429, "TOOMANYREQUESTS")
        assert 1 <= int(response.headers["retry-after"]) <= 30
        assert stub.url in response.json()["errors"][0]["message"]
        asked = len(stub.requests)
        again = puller.get("/v2/busy/library/busybox/manifests/other")
        assert_error(again, 429, "TOOMANYREQUESTS")
        assert len(stub.requests) == asked  # backing off: the upstream is not asked again


def test_hosted_repositories_live_beside_cached_ones(puller: httpx.Client) -> None:
    repo = f"hosted/{uuid.uuid4().hex[:8]}"
    pushed = push_image(puller, repo, "v1")
    assert puller.get(f"/v2/{repo}/manifests/v1").content == pushed.body
    blob = push_blob(puller, repo, random_bytes(64))
    manifest = image_manifest(blob, [])
    assert manifest.digest


def test_the_cache_rule_commands_work_signed_in_and_never_print_the_upstream_password(
    cache: RunningRegistry, upstream: RunningRegistry, tmp_path: Path
) -> None:
    cli = Cli(cache, tmp_path / "config")
    cli.login()
    prefix = f"cli{uuid.uuid4().hex[:6]}"
    secret = "cli-upstream-" + uuid.uuid4().hex
    outputs = [
        cli.run(
            "cache-rule", "create", "--prefix", prefix, "--upstream", upstream.url,
            "--upstream-username", "mirror", "--upstream-password-stdin", stdin=secret + "\n",
        ),
        cli.run("cache-rule", "list"),
        cli.run("cache-rule", "show", prefix),
        cli.run(
            "cache-rule", "update", prefix, "--upstream-prefix", "lib", "--upstream-password-stdin", "--json",
            stdin=UPSTREAM_PASSWORD + "\n",
        ),
    ]  # fmt: skip
    assert prefix in outputs[1].stdout and "UPSTREAM_URL" in outputs[1].stdout
    assert "has_credentials:" in outputs[2].stdout
    shown = json.loads(outputs[3].stdout)
    assert shown["has_credentials"] is True and shown["username"] == "mirror"
    assert shown["upstream_prefix"] == "lib"
    for result in outputs:
        assert secret not in result.stdout + result.stderr
        assert UPSTREAM_PASSWORD not in result.stdout + result.stderr
    # The rotated password is the one in force: a pull through the rule works.
    repo = f"app{uuid.uuid4().hex[:6]}"
    with client_for(upstream, (ADMIN, ADMIN_PASSWORD)) as pusher:
        pushed = push_image(pusher, f"lib/{repo}", "v1")
    with client_for(cache, (ADMIN, ADMIN_PASSWORD)) as puller:
        assert puller.get(f"/v2/{prefix}/{repo}/manifests/v1").headers["docker-content-digest"] == pushed.digest
    assert "deleted" in cli.run("cache-rule", "delete", prefix).stdout
    # A user who is not a registry admin is refused, in one line.
    user = create_user(cache)
    other = Cli(cache, tmp_path / "other")
    other.login(*user)
    refused = other.run("cache-rule", "list", expect=None)
    assert refused.returncode != 0 and "administrator" in refused.stderr


def test_on_postgresql_the_cache_fills_and_records_its_tag_checks(
    tmp_path: Path, upstream: RunningRegistry, pusher: httpx.Client
) -> None:
    """The cache's own queries (rules, insert-or-ignore, upserts of tag checks) on the other backend."""
    repo = _repo()
    pushed = push_image(pusher, repo, "v1")
    with postgres_database() as database_url, start_server(tmp_path / "pg-cache", database_url, **AUTH) as cache:
        with api(cache) as admin:
            body = {"prefix": "up", "upstream_url": upstream.url, "username": "mirror", "password": UPSTREAM_PASSWORD}
            assert admin.post("/cache-rules", json=body).status_code == 201
            assert admin.post("/cache-rules", json=body).status_code == 409
        with client_for(cache, (ADMIN, ADMIN_PASSWORD)) as puller:
            for _ in range(2):  # the second pull is within the TTL: served from the cache
                response = puller.get(f"/v2/up/{repo}/manifests/v1")
                assert response.status_code == 200 and response.content == pushed.body
            layer = pushed.document["layers"][0]["digest"]
            for _ in range(2):
                assert puller.get(f"/v2/up/{repo}/blobs/{layer}").status_code == 200
        assert [entry["target"] for entry in _audit(cache, "proxy.fill", f"up/{repo}")] == [pushed.digest]


def _processes_serving(servers: list[RunningRegistry], path: str) -> set[int]:
    """The server processes whose access log shows a GET of `path`."""
    processes = set()
    for line in {line for server in servers for line in server.log().splitlines()}:
        if line.startswith("{") and path in line:
            record = json.loads(line)
            if record.get("logger") == "moorage.access" and record.get("method") == "GET":
                processes.add(int(record["process"]))
    return processes


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_pulls_of_a_missing_blob_on_several_processes_fetch_it_once(
    tmp_path: Path, upstream: RunningRegistry, pusher: httpx.Client, backend: str
) -> None:
    """Two servers on one metadata store and blob store (two processes, as two nodes or two workers
    would be), eight clients at once, half on each: one upstream GET, and every client served."""
    repo = _repo()
    pushed = push_image(pusher, repo, "v1")
    layer = pushed.document["layers"][0]["digest"]
    expected = pusher.get(f"/v2/{repo}/blobs/{layer}").content
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(postgres_database()) if backend == "postgresql" else None
        proxy = stack.enter_context(faulty_proxy(upstream.url))
        nodes = [stack.enter_context(start_server(tmp_path / "shared", database_url, **AUTH)) for _ in range(2)]
        with api(nodes[0]) as admin:
            body = {"prefix": "up", "upstream_url": proxy.url, "username": "mirror", "password": UPSTREAM_PASSWORD}
            assert admin.post("/cache-rules", json=body).status_code == 201
        clients = [stack.enter_context(client_for(nodes[n % 2], (ADMIN, ADMIN_PASSWORD))) for n in range(8)]
        for client in clients:  # signed in, and the manifest cached, before the race
            assert client.get(f"/v2/up/{repo}/manifests/v1").status_code == 200
        proxy.blob_delay = 2.0  # a slow upstream: every pull arrives while the first fill runs
        start = threading.Barrier(len(clients))
        answers: list[tuple[int, bytes]] = []

        def pull(client: httpx.Client) -> None:
            start.wait()
            response = client.get(f"/v2/up/{repo}/blobs/{layer}")
            answers.append((response.status_code, response.content))

        threads = [threading.Thread(target=pull, args=(client,)) for client in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert answers == [(200, expected)] * len(clients)
        assert [path for path in proxy.blob_gets if path.endswith(layer)] == [f"/v2/{repo}/blobs/{layer}"]
        # Both servers served some (their access logs may reach the file a moment after the answers).
        served = f"/v2/up/{repo}/blobs/{layer}"
        deadline = time.monotonic() + 15
        while len(_processes_serving(nodes, served)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(_processes_serving(nodes, served)) == 2


def test_pulls_through_a_server_with_two_workers_fetch_a_missing_blob_once(
    tmp_path: Path, upstream: RunningRegistry, pusher: httpx.Client
) -> None:
    """The same through one server with two granian workers (which worker serves what is the kernel's
    choice, so this one does not insist that both served)."""
    repo = _repo()
    pushed = push_image(pusher, repo, "v1")
    layer = pushed.document["layers"][0]["digest"]
    with contextlib.ExitStack() as stack:
        proxy = stack.enter_context(faulty_proxy(upstream.url))
        cache = stack.enter_context(start_server(tmp_path / "workers", workers="2", **AUTH))
        with api(cache) as admin:
            body = {"prefix": "up", "upstream_url": proxy.url, "username": "mirror", "password": UPSTREAM_PASSWORD}
            assert admin.post("/cache-rules", json=body).status_code == 201
        clients = [stack.enter_context(client_for(cache, (ADMIN, ADMIN_PASSWORD))) for _ in range(8)]
        for client in clients:
            assert client.get(f"/v2/up/{repo}/manifests/v1").status_code == 200
        proxy.blob_delay = 2.0
        start = threading.Barrier(len(clients))
        statuses: list[int] = []

        def pull(client: httpx.Client) -> None:
            start.wait()
            statuses.append(client.get(f"/v2/up/{repo}/blobs/{layer}").status_code)

        threads = [threading.Thread(target=pull, args=(client,)) for client in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert statuses == [200] * len(clients)
        assert len([path for path in proxy.blob_gets if path.endswith(layer)]) == 1


def test_a_range_of_a_blob_not_cached_yet_is_answered_206_with_that_range(
    pusher: httpx.Client, puller: httpx.Client
) -> None:
    repo = _repo()
    layers = [push_blob(pusher, repo, random_bytes(300_000)) for _ in range(3)]
    config = push_blob(pusher, repo, b'{"architecture": "amd64", "os": "linux"}')
    push_manifest(pusher, repo, image_manifest(config, layers), "v1")
    assert puller.get(f"/v2/up/{repo}/manifests/v1").status_code == 200
    whole = [pusher.get(f"/v2/{repo}/blobs/{layer.digest}").content for layer in layers]
    # Cold: a middle range, a suffix range, an open-ended range, each of a blob not cached yet.
    for layer, body, (header, part, content_range) in zip(
        layers,
        whole,
        [
            ("bytes=1000-1999", slice(1000, 2000), "bytes 1000-1999/300000"),
            ("bytes=-500", slice(299_500, None), "bytes 299500-299999/300000"),
            ("bytes=299990-", slice(299_990, None), "bytes 299990-299999/300000"),
        ],
        strict=True,
    ):
        cold = puller.get(f"/v2/up/{repo}/blobs/{layer.digest}", headers={"Range": header})
        assert cold.status_code == 206, cold.headers
        assert cold.content == body[part]
        assert cold.headers["content-range"] == content_range
        # Warm: the fill the range caused cached the whole blob.
        warm = puller.get(f"/v2/up/{repo}/blobs/{layer.digest}")
        assert warm.status_code == 200 and warm.content == body
        assert puller.get(f"/v2/up/{repo}/blobs/{layer.digest}", headers={"Range": header}).content == body[part]


def test_an_unsatisfiable_range_of_a_blob_not_cached_yet_is_416(pusher: httpx.Client, puller: httpx.Client) -> None:
    repo = _repo()
    pushed = push_image(pusher, repo, "v1")
    assert puller.get(f"/v2/up/{repo}/manifests/v1").status_code == 200
    layer = pushed.document["layers"][0]["digest"]
    answer = puller.get(f"/v2/up/{repo}/blobs/{layer}", headers={"Range": "bytes=999999-"})
    assert answer.status_code == 416
    assert answer.headers["content-range"] == "bytes */256"


def test_the_fill_lease_of_a_process_that_died_is_taken_over_once_it_runs_out(
    cache: RunningRegistry, pusher: httpx.Client, puller: httpx.Client
) -> None:
    repo = _repo()
    pushed = push_image(pusher, repo, "v1")
    layer = pushed.document["layers"][0]["digest"]
    assert puller.get(f"/v2/up/{repo}/manifests/v1").status_code == 200
    assert cache.data_dir is not None
    store = Database(f"sqlite:///{cache.data_dir / 'metadata.db'}")
    try:
        with store.write() as connection:  # a holder that died two seconds into its lease
            moment = now()
            assert cache_fills.take(connection, f"up/{repo}", layer, "dead", moment, moment + timedelta(seconds=2))
        blob = puller.get(f"/v2/up/{repo}/blobs/{layer}")
        assert blob.status_code == 200 and blob.content == pusher.get(f"/v2/{repo}/blobs/{layer}").content
        with store.read() as connection:
            assert not cache_fills.held(connection, f"up/{repo}", layer, now())
    finally:
        store.dispose()
