"""Storage usage per repository and namespace is exact: it always equals what the blob store holds for them."""

from __future__ import annotations

import httpx

from tests.functional.governance_helpers import create_repository, unique_namespace, usage
from tests.functional.helpers import Blob, image_manifest, push_blob, push_manifest, random_bytes
from tests.support.server import RunningRegistry


def mount(client: httpx.Client, repo: str, blob: Blob, source: str) -> None:
    response = client.post(f"/v2/{repo}/blobs/uploads/", params={"mount": blob.digest, "from": source})
    assert response.status_code == 201, response.text


def test_usage_matches_the_blob_store_after_pushes_mounts_and_deletes(registry: RunningRegistry) -> None:
    namespace, elsewhere = unique_namespace(), unique_namespace()
    a, b, c = f"{namespace}/a", f"{namespace}/b", f"{elsewhere}/c"
    linked: dict[str, set[str]] = {a: set(), b: set(), c: set()}
    manifest_bytes: dict[str, int] = {a: 0, b: 0, c: 0}
    logical: dict[str, int] = {a: 0, b: 0, c: 0}

    def check() -> None:
        def disk(digests: set[str]) -> int:
            return sum(registry.stored_blob_size(d) for d in digests)

        for repo in (a, b):
            others = set().union(*(linked[r] for r in linked if r != repo))
            found = usage(http, repo)
            assert found["stored_bytes"] == disk(linked[repo]) + manifest_bytes[repo], repo
            assert found["exclusive_bytes"] == disk(linked[repo] - others) + manifest_bytes[repo], repo
            assert found["logical_bytes"] == logical[repo], repo
            assert found["manifest_bytes"] == manifest_bytes[repo]
        inside = linked[a] | linked[b]
        found = usage(http, namespace, namespace=True)
        assert found["repositories"] == 2
        assert found["stored_bytes"] == disk(inside) + manifest_bytes[a] + manifest_bytes[b]
        assert found["exclusive_bytes"] == disk(inside - linked[c]) + manifest_bytes[a] + manifest_bytes[b]
        assert found["logical_bytes"] == logical[a] + logical[b]

    with httpx.Client(base_url=registry.url, timeout=60) as http:
        for repo in (b, c):
            create_repository(http, repo)
        config = push_blob(http, a, b'{"os":"linux","n":"' + namespace.encode() + b'"}')
        layer1, layer2 = push_blob(http, a, random_bytes(5000)), push_blob(http, a, random_bytes(7000))
        image1 = push_manifest(http, a, image_manifest(config, [layer1, layer2]), "v1")
        linked[a] |= {config.digest, layer1.digest, layer2.digest}
        manifest_bytes[a] += image1.size
        logical[a] += image1.size + config.size + layer1.size + layer2.size
        check()

        mount(http, b, layer1, a)
        mount(http, b, config, a)
        layer3 = push_blob(http, b, random_bytes(3000))
        image2 = push_manifest(http, b, image_manifest(config, [layer1, layer3]), "v1")
        linked[b] |= {layer1.digest, config.digest, layer3.digest}
        manifest_bytes[b] += image2.size
        logical[b] += image2.size + config.size + layer1.size + layer3.size
        check()

        mount(http, c, layer2, a)
        linked[c].add(layer2.digest)
        check()

        assert http.delete(f"/v2/{c}/blobs/{layer2.digest}").status_code == 202
        linked[c].discard(layer2.digest)
        check()

        assert http.delete(f"/v2/{a}/manifests/{image1.digest}").status_code == 202
        manifest_bytes[a] -= image1.size
        logical[a] -= image1.size + config.size + layer1.size + layer2.size
        check()

        assert http.delete(f"/v2/{a}/blobs/{layer1.digest}").status_code == 202
        linked[a].discard(layer1.digest)
        check()
