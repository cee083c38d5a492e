import json

import pytest

from moorage.domain import media_types as mt
from moorage.domain.digests import Digest
from moorage.domain.errors import ErrorCode, RegistryError
from moorage.domain.manifests import MAX_MANIFEST_SIZE, parse_manifest

CONFIG = {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": str(Digest.of(b"{}")), "size": 2}
LAYER = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": str(Digest.of(b"l")), "size": 1}


def image(**extra: object) -> bytes:
    return json.dumps(
        {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "config": CONFIG, "layers": [LAYER], **extra}
    ).encode()


def test_image_manifest_lists_config_and_layers_as_blobs() -> None:
    parsed = parse_manifest(image(), mt.OCI_MANIFEST)
    assert [str(d.digest) for d in parsed.blobs] == [CONFIG["digest"], LAYER["digest"]]
    assert parsed.children == () and parsed.subject is None


def test_index_lists_its_manifests_as_children() -> None:
    child = {"mediaType": mt.OCI_MANIFEST, "digest": str(Digest.of(image())), "size": len(image())}
    payload = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [child]}).encode()
    parsed = parse_manifest(payload, mt.OCI_INDEX)
    assert parsed.is_index and [str(d.digest) for d in parsed.children] == [child["digest"]]


def test_subject_and_artifact_type_are_extracted() -> None:
    subject = {"mediaType": mt.OCI_MANIFEST, "digest": str(Digest.of(b"s")), "size": 1}
    parsed = parse_manifest(image(subject=subject, artifactType="application/x.sbom"), None)
    assert parsed.subject is not None and str(parsed.subject.digest) == subject["digest"]
    assert parsed.artifact_type == "application/x.sbom"


def test_media_type_contradicting_content_type_is_invalid() -> None:
    with pytest.raises(RegistryError) as raised:
        parse_manifest(image(), mt.DOCKER_MANIFEST)
    assert raised.value.code is ErrorCode.MANIFEST_INVALID


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"[]", b'{"schemaVersion": 1}', json.dumps({"schemaVersion": 2, "config": CONFIG}).encode()],
)
def test_malformed_manifests_are_manifest_invalid(payload: bytes) -> None:
    with pytest.raises(RegistryError) as raised:
        parse_manifest(payload, mt.OCI_MANIFEST)
    assert raised.value.code is ErrorCode.MANIFEST_INVALID


def test_manifest_over_four_mebibytes_is_refused_with_413() -> None:
    with pytest.raises(RegistryError) as raised:
        parse_manifest(b" " * (MAX_MANIFEST_SIZE + 1), mt.OCI_MANIFEST)
    assert raised.value.status == 413


def test_empty_config_without_artifact_type_is_invalid() -> None:
    empty = {"mediaType": mt.OCI_EMPTY, "digest": str(Digest.of(b"{}")), "size": 2}
    payload = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "config": empty, "layers": []})
    with pytest.raises(RegistryError):
        parse_manifest(payload.encode(), mt.OCI_MANIFEST)
