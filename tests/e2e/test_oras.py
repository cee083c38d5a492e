"""oras-py pushes and pulls artifacts; those naming a `subject` are listed by the referrers API (spec 1.1).

oras-py pushes the artifact (blobs, empty config, manifest with `subject` and `artifactType`); the
referrers API is read over plain HTTP because oras-py never calls it. The subject's digest is taken from
the registry's `Docker-Content-Digest`, not from oras-py's `Subject.from_manifest`, which re-serialises
the JSON and so hashes different bytes.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import httpx
import oras.oci  # type: ignore[import-untyped]
import pytest

from tests.e2e.registry_checks import StoredManifest, get_manifest_bytes, head_manifest
from tests.support.clients import ContainerTools, oras_client, require_tools
from tests.support.oci_layout import sha256_digest, with_marker, write_image
from tests.support.server import RunningRegistry

pytestmark = pytest.mark.e2e

SBOM_TYPE = "application/vnd.example.sbom.v1+json"
SIGNATURE_TYPE = "application/vnd.example.signature.v1"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"


def push_subject_image(tools: ContainerTools, layout: Path, repository: str, nonce: str) -> None:
    require_tools("skopeo")
    write_image(layout, "v1", with_marker(nonce, [{"etc/motd": b"subject\n"}]))
    tools.skopeo_copy(f"oci:{layout}:v1", tools.docker(repository, "v1"), "--preserve-digests")


def push_artifact(
    registry: RunningRegistry,
    repository: str,
    tag: str,
    artifact_type: str,
    subject: StoredManifest,
    file: Path,
    annotations: dict[str, str],
) -> None:
    """Push one file as an artifact of `artifact_type` referring to `subject`, with oras-py."""
    client = oras_client(registry.host, artifact_type=artifact_type)
    response = client.push(
        target=f"{registry.host}/{repository}:{tag}",
        files=[f"{file}:{artifact_type}"],
        subject=oras.oci.Subject(subject.media_type, subject.digest, subject.size),
        manifest_annotations=annotations,
        disable_path_validation=True,
        quiet=True,
    )
    assert response.status_code == 201, response.text


def referrers(http: httpx.Client, repository: str, digest: str, **params: str) -> httpx.Response:
    response = http.get(f"/v2/{repository}/referrers/{digest}", params=params)
    assert response.status_code == 200, f"referrers -> {response.status_code}: {response.text}"
    assert response.headers["Content-Type"].split(";")[0] == INDEX_TYPE
    return response


def descriptors_by_type(index: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {descriptor["artifactType"]: descriptor for descriptor in index["manifests"]}


@pytest.fixture
def artifacts(
    embedded_registry: RunningRegistry,
    tools: ContainerTools,
    registry_http: httpx.Client,
    repository: str,
    nonce: str,
    tmp_path: Path,
) -> tuple[StoredManifest, dict[str, StoredManifest]]:
    """An image with two artifacts (an SBOM and a signature) that name it as their subject."""
    push_subject_image(tools, tmp_path / "layout", repository, nonce)
    subject = head_manifest(registry_http, repository, "v1")
    assert subject is not None
    stored: dict[str, StoredManifest] = {}
    for tag, artifact_type, content in [
        ("sbom", SBOM_TYPE, json.dumps({"spdxVersion": "SPDX-2.3", "name": nonce}).encode()),
        ("signature", SIGNATURE_TYPE, f"signed {subject.digest}".encode()),
    ]:
        file = tmp_path / f"{tag}.dat"
        file.write_bytes(content)
        push_artifact(embedded_registry, repository, tag, artifact_type, subject, file, {"org.example.kind": tag})
        artifact = head_manifest(registry_http, repository, tag)
        assert artifact is not None
        stored[artifact_type] = artifact
    return subject, stored


def test_oras_artifact_is_stored_with_its_subject_and_artifact_type(
    registry_http: httpx.Client, repository: str, artifacts: tuple[StoredManifest, dict[str, StoredManifest]]
) -> None:
    """The manifest oras-py pushed keeps `subject` and `artifactType` as sent."""
    subject, stored = artifacts
    raw = get_manifest_bytes(registry_http, repository, "sbom")
    assert sha256_digest(raw) == stored[SBOM_TYPE].digest
    manifest = json.loads(raw)
    assert manifest["artifactType"] == SBOM_TYPE
    assert manifest["subject"] == subject.as_subject()


def test_referrers_lists_every_artifact_with_its_type_and_annotations(
    registry_http: httpx.Client, repository: str, artifacts: tuple[StoredManifest, dict[str, StoredManifest]]
) -> None:
    """`GET /v2/<name>/referrers/<digest>` returns an index of both artifacts' descriptors."""
    subject, stored = artifacts

    index = referrers(registry_http, repository, subject.digest).json()

    assert index["schemaVersion"] == 2 and index["mediaType"] == INDEX_TYPE
    found = descriptors_by_type(index)
    assert set(found) == {SBOM_TYPE, SIGNATURE_TYPE}
    for artifact_type, artifact in stored.items():
        descriptor = found[artifact_type]
        assert (descriptor["digest"], descriptor["size"]) == (artifact.digest, artifact.size)
        assert descriptor["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert found[SBOM_TYPE]["annotations"]["org.example.kind"] == "sbom"


def test_referrers_filters_by_artifact_type_and_says_so(
    registry_http: httpx.Client, repository: str, artifacts: tuple[StoredManifest, dict[str, StoredManifest]]
) -> None:
    """`?artifactType=` keeps only matching artifacts and the response names the filter it applied."""
    subject, stored = artifacts

    response = referrers(registry_http, repository, subject.digest, artifactType=SBOM_TYPE)

    assert response.headers.get("OCI-Filters-Applied") == "artifactType"
    manifests = response.json()["manifests"]
    assert [(d["digest"], d["artifactType"]) for d in manifests] == [(stored[SBOM_TYPE].digest, SBOM_TYPE)]


def test_referrers_of_a_digest_nothing_refers_to_is_an_empty_index(
    registry_http: httpx.Client, repository: str, artifacts: tuple[StoredManifest, dict[str, StoredManifest]]
) -> None:
    """The spec forbids 404 here: a subject without referrers (even an unknown one) gives an empty index."""
    _, stored = artifacts
    unreferenced = stored[SBOM_TYPE].digest

    assert referrers(registry_http, repository, unreferenced).json()["manifests"] == []
    assert referrers(registry_http, repository, "sha256:" + "0" * 64).json()["manifests"] == []


def test_oras_pulls_the_artifact_back(
    embedded_registry: RunningRegistry,
    repository: str,
    artifacts: tuple[StoredManifest, dict[str, StoredManifest]],
    tmp_path: Path,
) -> None:
    """oras-py fetches the artifact's file back by tag, byte for byte."""
    outdir = tmp_path / "pulled"
    client = oras_client(embedded_registry.host)

    paths = client.pull(target=f"{embedded_registry.host}/{repository}:signature", outdir=str(outdir))

    assert [Path(path).name for path in paths] == ["signature.dat"]
    subject, _ = artifacts
    assert Path(paths[0]).read_bytes() == f"signed {subject.digest}".encode()


def test_oras_chunked_upload_round_trips_a_large_file(
    embedded_registry: RunningRegistry, registry_http: httpx.Client, repository: str, nonce: str, tmp_path: Path
) -> None:
    """oras-py's chunked upload (PATCH with `Content-Range: start-end`, 1 MiB each) stores the exact file."""
    content = random.Random(nonce).randbytes(5 * 1024 * 1024 + 123)
    file = tmp_path / "model.bin"
    file.write_bytes(content)
    client = oras_client(embedded_registry.host)

    response = client.push(
        target=f"{embedded_registry.host}/{repository}:v1",
        files=[str(file)],
        disable_path_validation=True,
        do_chunked=True,
        chunk_size=1024 * 1024,
        quiet=True,
    )
    assert response.status_code == 201, response.text
    layer = json.loads(get_manifest_bytes(registry_http, repository, "v1"))["layers"][0]
    assert (layer["digest"], layer["size"]) == (sha256_digest(content), len(content))

    paths = client.pull(target=f"{embedded_registry.host}/{repository}:v1", outdir=str(tmp_path / "pulled"))
    assert [Path(path).read_bytes() == content for path in paths] == [True]
