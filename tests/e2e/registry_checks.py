"""What the registry says over plain HTTP about content real clients pushed."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

ACCEPT_MANIFESTS = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)


@dataclass(frozen=True)
class StoredManifest:
    """A manifest as the registry serves it: digest and size of the exact stored bytes."""

    digest: str
    size: int
    media_type: str

    def as_subject(self) -> dict[str, object]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


def head_manifest(http: httpx.Client, repository: str, reference: str) -> StoredManifest | None:
    """`HEAD /v2/<name>/manifests/<reference>`; None when the registry answers 404."""
    response = http.head(f"/v2/{repository}/manifests/{reference}", headers={"Accept": ACCEPT_MANIFESTS})
    if response.status_code == 404:
        return None
    assert response.status_code == 200, f"HEAD manifest {repository}:{reference} -> {response.status_code}"
    return StoredManifest(
        digest=response.headers["Docker-Content-Digest"],
        size=int(response.headers["Content-Length"]),
        media_type=response.headers["Content-Type"].split(";")[0].strip(),
    )


def get_manifest_bytes(http: httpx.Client, repository: str, reference: str) -> bytes:
    """The stored manifest bytes, as `GET /v2/<name>/manifests/<reference>` returns them."""
    response = http.get(f"/v2/{repository}/manifests/{reference}", headers={"Accept": ACCEPT_MANIFESTS})
    assert response.status_code == 200, f"GET manifest {repository}:{reference} -> {response.status_code}"
    return response.content
