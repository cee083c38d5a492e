"""The media types the registry understands: the one module that spells them."""

from __future__ import annotations

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST_V1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
DOCKER_MANIFEST_V1 = "application/vnd.docker.distribution.manifest.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"

IMAGE_MANIFESTS = frozenset({DOCKER_MANIFEST, OCI_MANIFEST})
INDEXES = frozenset({DOCKER_MANIFEST_LIST, OCI_INDEX})
MANIFESTS = IMAGE_MANIFESTS | INDEXES
LEGACY_MANIFESTS = frozenset({DOCKER_MANIFEST_V1, DOCKER_MANIFEST_V1_SIGNED})

OCTET_STREAM = "application/octet-stream"
JSON = "application/json"
