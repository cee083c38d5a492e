"""An image's page: what it is made of (layers, config, platforms), who points at it, what refers to it.

It answers "what is in this image?" without pulling it: the layers with their sizes, the config a
container starts with (entrypoint, cmd, env, labels), when it was built and how (history), and the
signatures, SBOMs and attestations attached to it. The config blob is read through the registry's
blob service, which only serves blobs linked to this repository (a digest is not a capability).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

from moorage.domain.digests import Digest
from moorage.domain.errors import RegistryError
from moorage.domain.manifests import parse_manifest
from moorage.scanning.results import FindingsPage
from moorage.web.pages import Page, not_found
from moorage.web.views.repositories import readable_repository, referrers_of

MAX_CONFIG_BYTES = 1 << 20
"""A config larger than this is not shown (real ones are a few KB; this is not a blob viewer)."""


def _config(page: Page, repository: str, digest: str) -> dict[str, Any] | None:
    blobs = page.services.blobs
    try:
        info = blobs.stat(repository, Digest.parse(digest))
    except RegistryError:
        return None
    if info.size > MAX_CONFIG_BYTES:
        return None
    try:
        document = json.loads(b"".join(blobs.read(info, 0, info.size)))
    except (ValueError, UnicodeDecodeError):
        return None
    return document if isinstance(document, dict) else None


def _runtime(config: dict[str, Any] | None) -> dict[str, Any]:
    """The parts of an image config people ask about, with absent ones empty."""
    if config is None:
        return {}
    found = config.get("config")
    runtime: dict[str, Any] = found if isinstance(found, dict) else {}
    steps = config.get("history")
    history: list[Any] = steps if isinstance(steps, list) else []
    return {
        "created": config.get("created"),
        "author": config.get("author"),
        "platform": "/".join(str(config[k]) for k in ("os", "architecture", "variant") if config.get(k)),
        "entrypoint": runtime.get("Entrypoint"),
        "cmd": runtime.get("Cmd"),
        "env": [str(item) for item in runtime.get("Env") or []],
        "labels": runtime.get("Labels") or {},
        "workdir": runtime.get("WorkingDir"),
        "user": runtime.get("User"),
        "exposed_ports": sorted((runtime.get("ExposedPorts") or {}).keys()),
        "history": [h for h in history if isinstance(h, dict)],
    }


def image_page(page: Page) -> Response:
    name, reference = page.param("name"), page.param("digest")
    readable_repository(page, name)
    try:
        Digest.parse(reference)
        stored = page.services.manifests.get(name, reference)
    except RegistryError:
        raise not_found("This image") from None
    governance = page.services.governance
    assert governance.images is not None
    details, _ = governance.images.describe(name, None, False, None, 1, [stored.digest])
    detail = details[0] if details else None
    document = json.loads(stored.payload)
    parsed = parse_manifest(stored.payload, stored.media_type)
    layers = [d for d in parsed.blobs if str(d.digest) != str(document.get("config", {}).get("digest"))]
    config_descriptor = document.get("config") if isinstance(document.get("config"), dict) else None
    config = None
    if config_descriptor and not parsed.is_index:
        config = _config(page, name, str(config_descriptor.get("digest")))
    children = document.get("manifests", []) if parsed.is_index else []
    return page.render(
        "image.html",
        title=f"{name}@{stored.digest[:19]}",
        repository=name,
        digest=stored.digest,
        media_type=stored.media_type,
        detail=detail,
        layers=layers,
        layer_bytes=sum(layer.size for layer in layers),
        config_descriptor=config_descriptor,
        runtime=_runtime(config),
        children=[c for c in children if isinstance(c, dict)],
        subject=str(parsed.subject.digest) if parsed.subject is not None else None,
        artifact_type=parsed.artifact_type,
        annotations=parsed.annotations or {},
        referrers=referrers_of(page, name, [stored.digest], depth=3)[stored.digest],
        manifest_json=json.dumps(document, indent=2)[:20000],
        scan=_scan(page, stored.digest),
    )


FINDINGS_SHOWN = 100


def _scan(page: Page, digest: str) -> FindingsPage | None:
    """The image's scan: state, counts and its worst findings first (all of them: `moorage findings`)."""
    results = page.services.scan_results
    return results.findings_page(digest, limit=FINDINGS_SHOWN) if results is not None else None
