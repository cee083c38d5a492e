"""The pull-through cache with real upstreams and real clients, all on loopback.

Upstreams: Debian's `docker-registry` (CNCF Distribution 2.8, anonymous) and a second moorage with
authentication on (token auth, the cache holds credentials). Clients: skopeo and podman pull through
a moorage whose rules map `dist/` (and, per test, other prefixes) to them. Distribution's access log shows what the
cache asked the upstream for.
"""

from __future__ import annotations

import os
import random
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from moorage.proxy.fill import PIECE_SIZE, QUEUE_PIECES
from tests.support.auth import ADMIN, ADMIN_PASSWORD
from tests.support.clients import ContainerTools, container_tools, require_tools
from tests.support.faulty_proxy import faulty_proxy
from tests.support.oci_layout import (
    random_layer,
    read_blob,
    tag_descriptor,
    with_marker,
    write_image,
    write_image_from_blobs,
    write_multi_platform_image,
)
from tests.support.server import RunningRegistry, start_server
from tests.support.upstreams import Distribution, run_distribution

pytestmark = pytest.mark.e2e

TTL = "1"
AUTH = {"auth_enabled": "true", "admin_username": ADMIN, "admin_password": ADMIN_PASSWORD}


@pytest.fixture(scope="module", autouse=True)
def _tools_installed() -> None:
    require_tools("skopeo", "podman", "docker-registry")


@pytest.fixture(scope="module")
def distribution(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Distribution]:
    with run_distribution(tmp_path_factory.mktemp("distribution")) as upstream:
        yield upstream


@pytest.fixture(scope="module")  # only the worker running the test that needs it starts it
def secured_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    with start_server(tmp_path_factory.mktemp("secured-upstream"), **AUTH) as server:
        yield server


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory, distribution: Distribution) -> Iterator[RunningRegistry]:
    settings = {"auth_enabled": "false", "proxy_tag_ttl_seconds": TTL, "proxy_upstream_timeout_seconds": "10"}
    with start_server(tmp_path_factory.mktemp("cache"), **settings) as server:
        _rule(server, "dist", distribution.url)
        yield server


def _rule(cache: RunningRegistry, prefix: str, upstream: str, **extra: str) -> None:
    with httpx.Client(base_url=f"{cache.url}/api/v1") as client:
        response = client.post("/cache-rules", json={"prefix": prefix, "upstream_url": upstream, **extra})
        assert response.status_code == 201, response.text


@pytest.fixture
def upstream_tools(distribution: Distribution) -> Iterator[ContainerTools]:
    with container_tools(distribution.host) as tools:
        yield tools


@pytest.fixture
def cache_tools(cache: RunningRegistry) -> Iterator[ContainerTools]:
    with container_tools(cache.host) as tools:
        yield tools


def _repository() -> str:
    return f"e2e/cached-{uuid.uuid4().hex[:8]}"


def _stored(cache: RunningRegistry, digest: str) -> bool:
    """Whether the cache's blob store holds the bytes (committed blobs only)."""
    assert cache.data_dir is not None
    hex_digest = digest.split(":", 1)[1]
    return (cache.data_dir / "blobs" / "sha256" / hex_digest[:2] / hex_digest).exists()


def _asked(distribution: Distribution, path: str) -> int:
    """How many GETs of `path` the upstream's access log shows."""
    return sum(1 for line in distribution.access_log().splitlines() if f'"GET {path} ' in line)


def test_skopeo_copies_an_image_through_the_cache_byte_for_byte(
    distribution: Distribution, upstream_tools: ContainerTools, cache_tools: ContainerTools, tmp_path: Path
) -> None:
    nonce, repository = uuid.uuid4().hex, _repository()
    source, copy = tmp_path / "source", tmp_path / "copy"
    image = write_image(source, "v1", with_marker(nonce, [{"etc/os-release": b"ID=cached\n"}, {"bin/x": b"x" * 999}]))
    upstream_tools.skopeo_copy(f"oci:{source}:v1", upstream_tools.docker(repository, "v1"), "--preserve-digests")

    cache_tools.skopeo_copy(cache_tools.docker(f"dist/{repository}", "v1"), f"oci:{copy}:v1", "--preserve-digests")

    assert tag_descriptor(copy, "v1")["digest"] == image.manifest_digest
    for digest in image.blob_digests:
        assert read_blob(copy, digest) == read_blob(source, digest)
    # A second pull is the cache's own: the upstream is not asked for the blobs again.
    before = _asked(distribution, f"/v2/{repository}/blobs/{image.layers[0].digest}")
    cache_tools.skopeo_copy(cache_tools.docker(f"dist/{repository}", "v1"), f"oci:{tmp_path / 'again'}:v1")
    assert _asked(distribution, f"/v2/{repository}/blobs/{image.layers[0].digest}") == before == 1


def test_podman_pulls_through_the_cache_from_an_authenticated_moorage(
    cache: RunningRegistry, secured_upstream: RunningRegistry, cache_tools: ContainerTools, tmp_path: Path
) -> None:
    nonce, repository = uuid.uuid4().hex, _repository()
    prefix = f"auth{nonce[:6]}"
    _rule(cache, prefix, secured_upstream.url, username=ADMIN, password=ADMIN_PASSWORD)
    image = write_image(tmp_path / "source", "v1", with_marker(nonce, [{"etc/motd": b"from a secured upstream\n"}]))
    with container_tools(secured_upstream.host) as pusher:
        pusher.skopeo_copy(
            f"oci:{tmp_path / 'source'}:v1",
            pusher.docker(repository, "v1"),
            "--preserve-digests",
            f"--dest-creds={ADMIN}:{ADMIN_PASSWORD}",
        )
    reference = cache_tools.ref(f"{prefix}/{repository}", "v1")
    cache_tools.podman("pull", "-q", reference)
    assert cache_tools.podman("image", "inspect", "--format", "{{.Digest}}", reference) == image.manifest_digest


def test_a_multi_arch_index_pulled_for_one_platform_fetches_only_that_platform(
    distribution: Distribution, upstream_tools: ContainerTools, cache_tools: ContainerTools, tmp_path: Path
) -> None:
    nonce, repository = uuid.uuid4().hex, _repository()
    index = write_multi_platform_image(tmp_path / "source", "multi", with_marker(nonce, [{"etc/motd": b"hi\n"}]))
    upstream_tools.skopeo_copy(
        f"oci:{tmp_path / 'source'}:multi", upstream_tools.docker(repository, "multi"), "--all", "--preserve-digests"
    )
    amd64, arm64 = index.images

    cache_tools.run(
        "skopeo", "--insecure-policy", "--override-arch", "arm64", "--override-os", "linux", "copy",
        "--src-tls-verify=false", cache_tools.docker(f"dist/{repository}", "multi"), f"oci:{tmp_path / 'copy'}:arm",
    )  # fmt: skip

    assert tag_descriptor(tmp_path / "copy", "arm")["digest"] == arm64.manifest_digest
    assert _asked(distribution, f"/v2/{repository}/manifests/{arm64.manifest_digest}") == 1
    assert _asked(distribution, f"/v2/{repository}/manifests/{amd64.manifest_digest}") == 0
    only_amd64 = set(amd64.blob_digests) - set(arm64.blob_digests)
    assert only_amd64
    for digest in only_amd64:
        assert _asked(distribution, f"/v2/{repository}/blobs/{digest}") == 0


def test_cached_images_still_pull_when_the_upstream_is_stopped(
    cache: RunningRegistry, cache_tools: ContainerTools, tmp_path: Path
) -> None:
    nonce, repository = uuid.uuid4().hex, _repository()
    image = write_image(tmp_path / "source", "v1", with_marker(nonce, [{"etc/motd": b"stays\n"}]))
    with run_distribution(tmp_path / "gone") as gone, container_tools(gone.host) as pusher:
        pusher.skopeo_copy(f"oci:{tmp_path / 'source'}:v1", pusher.docker(repository, "v1"), "--preserve-digests")
        prefix = f"gone{nonce[:6]}"
        _rule(cache, prefix, gone.url)
        cached = f"{prefix}/{repository}"
        _wait_for_rule(cache, cached)
        cache_tools.skopeo_copy(cache_tools.docker(cached, "v1"), f"oci:{tmp_path / 'first'}:v1")
    time.sleep(float(TTL))  # the tag's TTL passes
    # The upstream is gone and the tag's TTL has passed: stale, but served, and said so.
    with httpx.Client(base_url=cache.url, timeout=30) as client:
        response = client.get(f"/v2/{cached}/manifests/v1")
        assert response.status_code == 200
        assert response.headers["docker-content-digest"] == image.manifest_digest
        assert "stale" in response.headers["warning"]
        missing = client.get(f"/v2/{cached}/manifests/never-cached")
        assert missing.status_code == 502
        assert gone.url in missing.json()["errors"][0]["message"]
        metrics = client.get("/metrics").text
        assert f'moorage_proxy_stale_responses_total{{upstream="{gone.url}"}}' in metrics
    cache_tools.skopeo_copy(cache_tools.docker(cached, "v1"), f"oci:{tmp_path / 'second'}:v1", "--preserve-digests")
    assert tag_descriptor(tmp_path / "second", "v1")["digest"] == image.manifest_digest


def _wait_for_rule(cache: RunningRegistry, name: str) -> None:
    """A new rule is in force once the server re-read its rules (at once in the process that took the
    change, within 2 s in others); a refused push says so without writing anything."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        response = httpx.put(f"{cache.url}/v2/{name}/manifests/probe", content=b"{}", timeout=5)
        if response.status_code == 403:
            return
        time.sleep(0.2)
    raise AssertionError(f"the rule covering {name} is not in force")


@pytest.mark.parametrize("fault", ["flipped byte", "truncated"])
def test_a_blob_damaged_in_flight_is_refused_and_nothing_is_stored(
    fault: str,
    cache: RunningRegistry,
    distribution: Distribution,
    upstream_tools: ContainerTools,
    cache_tools: ContainerTools,
    tmp_path: Path,
) -> None:
    nonce, repository = uuid.uuid4().hex, _repository()
    layer = random_layer(1024 * 1024, seed=int(nonce[:8], 16))
    image = write_image_from_blobs(tmp_path / "source", "v1", [layer])
    upstream_tools.skopeo_copy(f"oci:{tmp_path / 'source'}:v1", upstream_tools.docker(repository, "v1"))
    with faulty_proxy(distribution.url) as proxy:
        prefix = f"faulty{nonce[:6]}"
        _rule(cache, prefix, proxy.url)
        cached = f"{prefix}/{repository}"
        _wait_for_rule(cache, cached)
        proxy.corrupt, proxy.truncate = image.layers[0].digest, fault == "truncated"
        with pytest.raises(AssertionError):
            cache_tools.skopeo_copy(cache_tools.docker(cached, "v1"), f"oci:{tmp_path / 'copy'}:v1")
        # The connection is aborted (or the fill refused): never a whole wrong blob with a 200.
        with httpx.Client(base_url=cache.url, timeout=30) as client, pytest.raises(httpx.HTTPError):
            client.get(f"/v2/{cached}/blobs/{image.layers[0].digest}").raise_for_status()
        assert proxy.damaged
        assert not _stored(cache, image.layers[0].digest)
        # Once the path is healthy again, the same pull succeeds: nothing bad was cached.
        proxy.corrupt = None
        cache_tools.skopeo_copy(cache_tools.docker(cached, "v1"), f"oci:{tmp_path / 'good'}:v1", "--preserve-digests")
    assert read_blob(tmp_path / "good", image.layers[0].digest) == read_blob(
        tmp_path / "source", image.layers[0].digest
    )
    assert _stored(cache, image.layers[0].digest)


def test_a_blob_streams_to_the_first_client_and_concurrent_pulls_fetch_it_once(
    cache: RunningRegistry, distribution: Distribution, upstream_tools: ContainerTools, tmp_path: Path
) -> None:
    nonce, repository = uuid.uuid4().hex, _repository()
    # Larger than the pieces the fill may queue for the client plus socket buffers (several MiB), so
    # the fill cannot finish, and commit, while this client holds back after its first bytes.
    size = (QUEUE_PIECES + 24) * PIECE_SIZE
    layer = random_layer(size, seed=random.Random(nonce).randrange(1 << 30))
    image = write_image_from_blobs(tmp_path / "source", "v1", [layer])
    upstream_tools.skopeo_copy(f"oci:{tmp_path / 'source'}:v1", upstream_tools.docker(repository, "v1"))
    digest = image.layers[0].digest
    expected = read_blob(tmp_path / "source", digest)
    url = f"{cache.url}/v2/dist/{repository}/blobs/{digest}"
    others: list[bytes] = []

    def pull() -> None:
        others.append(httpx.get(url, timeout=60).content)

    with httpx.stream("GET", url, timeout=60) as first:
        pieces = first.iter_bytes()
        received = next(pieces)
        # The first client has bytes before the blob is committed: streamed, not fetched then served.
        assert received and not _stored(cache, digest)
        threads = [threading.Thread(target=pull) for _ in range(3)]
        for thread in threads:
            thread.start()
        received += b"".join(pieces)
    for thread in threads:
        thread.join(timeout=60)
    assert received == expected
    assert others == [expected] * 3
    assert _asked(distribution, f"/v2/{repository}/blobs/{digest}") == 1
    assert os.path.getsize(tmp_path / "source" / "blobs" / "sha256" / digest.split(":")[1]) == len(expected)


def test_a_transparent_mirror_serves_upstream_names_beside_hosted_repositories(
    cache: RunningRegistry, upstream_tools: ContainerTools, cache_tools: ContainerTools, tmp_path: Path
) -> None:
    nonce, repository = uuid.uuid4().hex, _repository()
    image = write_image(tmp_path / "source", "v1", with_marker(nonce, [{"etc/motd": b"mirrored\n"}]))
    upstream_tools.skopeo_copy(f"oci:{tmp_path / 'source'}:v1", upstream_tools.docker(repository, "v1"))
    _rule(cache, "ROOT", upstream_tools_url(upstream_tools))
    try:
        # An upstream name, unprefixed, comes through the mirror.
        cache_tools.skopeo_copy(cache_tools.docker(repository, "v1"), f"oci:{tmp_path / 'copy'}:v1")
        assert tag_descriptor(tmp_path / "copy", "v1")["digest"] == image.manifest_digest
        # A name nobody created is the upstream's: a push is refused, nothing is created.
        hosted = f"hosted/{nonce[:8]}"
        with pytest.raises(AssertionError, match="pull-through cache"):
            cache_tools.skopeo_copy(f"oci:{tmp_path / 'source'}:v1", cache_tools.docker(hosted, "v1"))
        # A repository created here is hosted: pushes and pulls stay local.
        with httpx.Client(base_url=f"{cache.url}/api/v1") as client:
            assert client.post("/repositories", json={"name": hosted}).status_code == 201
        cache_tools.skopeo_copy(f"oci:{tmp_path / 'source'}:v1", cache_tools.docker(hosted, "v1"), "--preserve-digests")
        cache_tools.skopeo_copy(cache_tools.docker(hosted, "v1"), f"oci:{tmp_path / 'hosted'}:v1")
        assert tag_descriptor(tmp_path / "hosted", "v1")["digest"] == image.manifest_digest
    finally:
        with httpx.Client(base_url=f"{cache.url}/api/v1") as client:
            assert client.delete("/cache-rules/ROOT").status_code == 204


def upstream_tools_url(tools: ContainerTools) -> str:
    return f"http://{tools.registry_host}"


def test_curl_gets_a_range_of_a_blob_not_cached_yet_as_206_from_distribution(
    cache: RunningRegistry, distribution: Distribution, upstream_tools: ContainerTools, tmp_path: Path
) -> None:
    nonce, repository = uuid.uuid4().hex, _repository()
    layer = random_layer(2 * 1024 * 1024, seed=random.Random(nonce).randrange(1 << 30))
    image = write_image_from_blobs(tmp_path / "source", "v1", [layer])
    upstream_tools.skopeo_copy(f"oci:{tmp_path / 'source'}:v1", upstream_tools.docker(repository, "v1"))
    digest = image.layers[0].digest
    expected = read_blob(tmp_path / "source", digest)
    url = f"{cache.url}/v2/dist/{repository}/blobs/{digest}"
    for attempt in ("cold", "warm"):
        out = tmp_path / f"range-{attempt}.bin"
        command = ["curl", "-sS", "-r", "1000-1999", "-o", str(out), "-D", "-", "-w", "%{http_code}", url]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
        assert result.stdout.endswith("206"), result.stdout
        assert f"content-range: bytes 1000-1999/{len(expected)}" in result.stdout.lower()
        assert out.read_bytes() == expected[1000:2000]
    assert _stored(cache, digest)
    assert _asked(distribution, f"/v2/{repository}/blobs/{digest}") == 1
