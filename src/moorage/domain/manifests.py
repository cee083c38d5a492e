"""Parsing and checking manifests (OCI image-spec manifest/index, Docker schema 2).

`parse_manifest` is pure: it takes the pushed bytes and the request's Content-Type and returns what
the registry needs to know — the media type, the descriptors it references, its subject and
artifact type — or raises MANIFEST_INVALID explaining why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from moorage.domain import media_types as mt
from moorage.domain.digests import Digest
from moorage.domain.errors import ErrorCode, RegistryError

MAX_MANIFEST_SIZE = 4 * 1024 * 1024


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor: what a manifest points to."""

    media_type: str
    digest: Digest
    size: int
    artifact_type: str | None = None
    urls: tuple[str, ...] = ()
    annotations: dict[str, str] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ParsedManifest:
    """What the registry keeps from a pushed manifest."""

    media_type: str
    blobs: tuple[Descriptor, ...]
    """Config and layers: blobs that must already be in the repository."""
    children: tuple[Descriptor, ...]
    """Manifests of an index: manifests that must already be in the repository."""
    subject: Descriptor | None
    artifact_type: str | None
    annotations: dict[str, str] | None

    @property
    def is_index(self) -> bool:
        return self.media_type in mt.INDEXES


def _invalid(message: str) -> RegistryError:
    return RegistryError(ErrorCode.MANIFEST_INVALID, message)


def _descriptor(value: Any, where: str) -> Descriptor:
    if not isinstance(value, dict):
        raise _invalid(f"{where} must be a descriptor object")
    media_type = value.get("mediaType")
    digest = value.get("digest")
    size = value.get("size")
    if not isinstance(media_type, str) or not media_type:
        raise _invalid(f"{where}.mediaType must be a non-empty string")
    if not isinstance(digest, str):
        raise _invalid(f"{where}.digest must be a string")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise _invalid(f"{where}.size must be a non-negative integer")
    try:
        parsed = Digest.parse(digest)
    except RegistryError as error:
        raise _invalid(f"{where}.digest: {error.message}") from None
    urls = value.get("urls") or ()
    if not isinstance(urls, list | tuple) or not all(isinstance(url, str) for url in urls):
        raise _invalid(f"{where}.urls must be a list of strings")
    artifact_type = value.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise _invalid(f"{where}.artifactType must be a string")
    return Descriptor(media_type, parsed, size, artifact_type, tuple(urls), _annotations(value, where))


def _annotations(value: dict[str, Any], where: str) -> dict[str, str] | None:
    annotations = value.get("annotations")
    if annotations is None:
        return None
    if not isinstance(annotations, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()
    ):
        raise _invalid(f"{where}.annotations must map strings to strings")
    return annotations


def _descriptor_list(document: dict[str, Any], key: str, *, required: bool) -> tuple[Descriptor, ...]:
    value = document.get(key)
    if value is None:
        if required:
            raise _invalid(f"{key} is required")
        return ()
    if not isinstance(value, list):
        raise _invalid(f"{key} must be a list")
    return tuple(_descriptor(item, f"{key}[{index}]") for index, item in enumerate(value))


def _media_type(document: dict[str, Any], content_type: str | None) -> str:
    declared = document.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise _invalid("mediaType must be a string")
    content_type = (content_type or "").split(";", 1)[0].strip().lower() or None
    if content_type in mt.LEGACY_MANIFESTS or declared in mt.LEGACY_MANIFESTS:
        raise RegistryError(ErrorCode.MANIFEST_INVALID, "Docker schema 1 manifests are not supported")
    if declared and content_type and content_type not in (declared, mt.JSON, mt.OCTET_STREAM):
        raise _invalid(f"mediaType {declared!r} does not match Content-Type {content_type!r}")
    media_type = declared or (content_type if content_type in mt.MANIFESTS else None)
    if media_type is None:
        # OCI allows an omitted mediaType; tell an index from an image manifest by shape.
        media_type = mt.OCI_INDEX if "manifests" in document else mt.OCI_MANIFEST
    if media_type not in mt.MANIFESTS:
        raise _invalid(f"unsupported manifest media type {media_type!r}")
    return media_type


def parse_manifest(payload: bytes, content_type: str | None) -> ParsedManifest:
    """Check a pushed manifest and extract its references; raise MANIFEST_INVALID if it is not one."""
    if len(payload) > MAX_MANIFEST_SIZE:
        raise RegistryError(ErrorCode.MANIFEST_TOO_LARGE, f"manifest larger than {MAX_MANIFEST_SIZE} bytes")
    try:
        document = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as error:
        raise _invalid(f"manifest is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise _invalid("manifest must be a JSON object")
    if document.get("schemaVersion") != 2:
        raise _invalid("schemaVersion must be 2")
    media_type = _media_type(document, content_type)
    artifact_type = document.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise _invalid("artifactType must be a string")
    subject = _descriptor(document["subject"], "subject") if document.get("subject") is not None else None
    annotations = _annotations(document, "manifest")
    if media_type in mt.INDEXES:
        if "layers" in document or "config" in document:
            raise _invalid("an index has manifests, not config or layers")
        children = _descriptor_list(document, "manifests", required=True)
        return ParsedManifest(media_type, (), children, subject, artifact_type, annotations)
    if "manifests" in document:
        raise _invalid("an image manifest has config and layers, not manifests")
    config = _descriptor(document.get("config"), "config")
    layers = _descriptor_list(document, "layers", required=True)
    if media_type == mt.DOCKER_MANIFEST and (subject is not None or artifact_type is not None):
        raise _invalid("Docker schema 2 manifests have no subject or artifactType")
    if artifact_type is None and config.media_type == mt.OCI_EMPTY and media_type == mt.OCI_MANIFEST:
        # image-spec: an artifact with the empty config MUST set artifactType.
        raise _invalid("artifactType is required when config.mediaType is the empty descriptor")
    return ParsedManifest(media_type, (config, *layers), (), subject, artifact_type, annotations)


def referrer_artifact_type(manifest: ParsedManifest) -> str | None:
    """The artifactType a referrers listing shows: artifactType, else the config's media type."""
    if manifest.artifact_type:
        return manifest.artifact_type
    if manifest.blobs:
        return manifest.blobs[0].media_type
    return None
