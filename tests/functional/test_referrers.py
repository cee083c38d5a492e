"""The referrers API and the `subject` field.

Spec 1.1 "Listing Referrers" (end-12a, end-12b) and "Pushing Manifests with Subject".
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.functional.helpers import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    Manifest,
    artifact_manifest,
    assert_error,
    index_manifest,
    push_artifact,
    push_blob,
    push_empty_config,
    push_image,
    push_manifest,
    put_manifest,
    random_bytes,
    sha256,
    unique_repo,
)

SBOM = "application/vnd.example.sbom.v1"
SIGNATURE = "application/vnd.example.signature.v1"


def referrers(client: httpx.Client, repo: str, digest: str, artifact_type: str | None = None) -> httpx.Response:
    params = {"artifactType": artifact_type} if artifact_type else {}
    return client.get(f"/v2/{repo}/referrers/{digest}", params=params)


def listed(response: httpx.Response) -> list[dict[str, Any]]:
    """The descriptors of a referrers answer, after checking it is an image index (spec "Listing Referrers")."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == OCI_INDEX
    body = response.json()
    assert body["schemaVersion"] == 2
    assert body["mediaType"] == OCI_INDEX
    assert isinstance(body["manifests"], list)
    return list(body["manifests"])


def by_digest(descriptors: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {descriptor["digest"]: descriptor for descriptor in descriptors}


def test_manifest_without_referrers_has_an_empty_list(http: httpx.Client, repo: str) -> None:
    """Spec: If a query results in no matching referrers, an empty manifest list MUST be returned."""
    subject = push_image(http, repo)
    assert listed(referrers(http, repo, subject.digest)) == []


def test_unknown_subject_has_an_empty_list(http: httpx.Client, repo: str) -> None:
    push_image(http, repo)
    assert listed(referrers(http, repo, sha256(random_bytes(8)))) == []


def test_referrers_in_unknown_repository_is_not_a_404(http: httpx.Client) -> None:
    """Spec: If the registry supports the referrers API, the registry MUST NOT return a 404 Not Found."""
    assert listed(referrers(http, unique_repo(), sha256(random_bytes(8)))) == []


def test_referrers_with_malformed_digest_is_400(http: httpx.Client, repo: str) -> None:
    """Spec: If the request is invalid, such as a <digest> with invalid syntax, a 400 Bad Request MUST be returned."""
    push_image(http, repo)
    assert_error(referrers(http, repo, "sha256:" + "Q" * 64), 400, "DIGEST_INVALID")
    assert_error(referrers(http, repo, "latest"), 400, "DIGEST_INVALID")


def test_push_with_subject_answers_with_oci_subject_header(http: httpx.Client, repo: str) -> None:
    """Spec: When a manifest with a subject is pushed ... the registry MUST set the OCI-Subject header."""
    subject = push_image(http, repo, "v1")
    layer = push_blob(http, repo, random_bytes(64))
    artifact = artifact_manifest(push_empty_config(http, repo), SBOM, layers=[layer], subject=subject)
    response = put_manifest(http, repo, artifact.digest, artifact.body, OCI_MANIFEST)
    assert response.status_code == 201, response.text
    assert response.headers["oci-subject"] == subject.digest


def test_push_without_subject_has_no_oci_subject_header(http: httpx.Client, repo: str) -> None:
    manifest = push_image(http, repo)
    response = put_manifest(http, repo, manifest.digest, manifest.body, OCI_MANIFEST)
    assert response.status_code == 201
    assert "oci-subject" not in response.headers


def test_artifact_is_listed_with_its_descriptor_fields(http: httpx.Client, repo: str) -> None:
    """Each descriptor carries mediaType, digest, size, artifactType and the manifest's annotations."""
    subject = push_image(http, repo, "v1")
    annotations = {"org.opencontainers.image.created": "2024-01-01T00:00:00Z", "org.example.format": "spdx"}
    artifact = push_artifact(http, repo, SBOM, subject=subject, annotations=annotations)
    (descriptor,) = listed(referrers(http, repo, subject.digest))
    assert descriptor["mediaType"] == OCI_MANIFEST
    assert descriptor["digest"] == artifact.digest
    assert descriptor["size"] == artifact.size
    assert descriptor["artifactType"] == SBOM
    assert descriptor["annotations"] == annotations


def test_image_manifest_without_artifact_type_is_listed_with_its_config_media_type(
    http: httpx.Client, repo: str
) -> None:
    """Spec: If the artifactType is empty or missing in the image manifest, the value of artifactType MUST be set to
    the config descriptor mediaType value."""
    subject = push_image(http, repo)
    referrer = push_image(http, repo, subject=subject)
    (descriptor,) = listed(referrers(http, repo, subject.digest))
    assert descriptor["digest"] == referrer.digest
    assert descriptor["artifactType"] == OCI_CONFIG


def test_index_with_subject_is_listed(http: httpx.Client, repo: str) -> None:
    """An index may have a subject; without artifactType its descriptor has none ("MUST be omitted")."""
    subject = push_image(http, repo)
    typed = push_manifest(http, repo, index_manifest([push_image(http, repo)], artifact_type=SBOM, subject=subject))
    untyped = push_manifest(http, repo, index_manifest([push_image(http, repo)], subject=subject))
    found = by_digest(listed(referrers(http, repo, subject.digest)))
    assert set(found) == {typed.digest, untyped.digest}
    assert found[typed.digest]["mediaType"] == OCI_INDEX
    assert found[typed.digest]["artifactType"] == SBOM
    assert found[typed.digest]["size"] == typed.size
    assert "artifactType" not in found[untyped.digest]


def test_several_referrers_are_all_listed(http: httpx.Client, repo: str) -> None:
    subject = push_image(http, repo)
    pushed = [push_artifact(http, repo, SBOM, subject=subject), push_artifact(http, repo, SIGNATURE, subject=subject)]
    unrelated = push_artifact(http, repo, SBOM, subject=push_image(http, repo))
    found = by_digest(listed(referrers(http, repo, subject.digest)))
    assert set(found) == {artifact.digest for artifact in pushed}
    assert unrelated.digest not in found


def test_artifact_type_filter_keeps_matching_referrers_and_says_so(http: httpx.Client, repo: str) -> None:
    """Spec: if filtering is requested and applied, the response MUST include `OCI-Filters-Applied: artifactType`."""
    subject = push_image(http, repo)
    sbom = push_artifact(http, repo, SBOM, subject=subject)
    push_artifact(http, repo, SIGNATURE, subject=subject)
    response = referrers(http, repo, subject.digest, artifact_type=SBOM)
    assert [descriptor["digest"] for descriptor in listed(response)] == [sbom.digest]
    assert response.headers["oci-filters-applied"] == "artifactType"


def test_artifact_type_filter_matching_nothing_gives_an_empty_list(http: httpx.Client, repo: str) -> None:
    subject = push_image(http, repo)
    push_artifact(http, repo, SBOM, subject=subject)
    response = referrers(http, repo, subject.digest, artifact_type="application/vnd.example.none")
    assert listed(response) == []
    assert response.headers["oci-filters-applied"] == "artifactType"


def test_unfiltered_request_has_no_filters_applied_header(http: httpx.Client, repo: str) -> None:
    subject = push_image(http, repo)
    push_artifact(http, repo, SBOM, subject=subject)
    assert "oci-filters-applied" not in referrers(http, repo, subject.digest).headers


def test_referrer_may_be_pushed_before_its_subject(http: httpx.Client, repo: str) -> None:
    """Spec: A registry MUST accept an otherwise valid manifest with a subject field that references a manifest that
    does not exist, so referrers and subject can be pushed in either order."""
    future = Manifest(b'{"schemaVersion":2,"future":"' + random_bytes(4).hex().encode() + b'"}', OCI_MANIFEST)
    artifact = push_artifact(http, repo, SBOM, subject=future)
    (descriptor,) = listed(referrers(http, repo, future.digest))
    assert descriptor["digest"] == artifact.digest


def test_deleted_referrer_is_no_longer_listed(http: httpx.Client, repo: str) -> None:
    subject = push_image(http, repo)
    gone = push_artifact(http, repo, SBOM, subject=subject)
    kept = push_artifact(http, repo, SIGNATURE, subject=subject)
    assert http.delete(f"/v2/{repo}/manifests/{gone.digest}").status_code == 202
    assert [d["digest"] for d in listed(referrers(http, repo, subject.digest))] == [kept.digest]


def test_referrers_are_scoped_to_the_repository(http: httpx.Client, repo: str) -> None:
    subject = push_image(http, repo)
    other = unique_repo()
    elsewhere = push_artifact(http, other, SBOM, subject=subject)
    assert listed(referrers(http, repo, subject.digest)) == []
    assert [d["digest"] for d in listed(referrers(http, other, subject.digest))] == [elsewhere.digest]


def test_tagged_referrer_is_listed_and_its_subject_stays_pullable(http: httpx.Client, repo: str) -> None:
    subject = push_image(http, repo, "v1")
    artifact = push_artifact(http, repo, SIGNATURE, subject=subject, tag="sig")
    assert [d["digest"] for d in listed(referrers(http, repo, subject.digest))] == [artifact.digest]
    assert http.get(f"/v2/{repo}/manifests/v1").content == subject.body
