"""Immutable tags with real clients: same digest again is fine, a new digest is refused and the user sees why.

The repository is `IMMUTABLE_WITH_EXCLUSION` with `latest` excluded, as a production repository would be:
`v1.0.0` is fixed once pushed, `latest` moves with every release.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.registry_checks import head_manifest
from tests.support.clients import ClientError, ContainerTools, require_tools
from tests.support.oci_layout import Image, with_marker, write_image

pytestmark = pytest.mark.e2e


def create_production_repository(registry_http: httpx.Client, repository: str) -> None:
    response = registry_http.post(
        "/api/v1/repositories",
        json={
            "name": repository,
            "tag_mutability": "IMMUTABLE_WITH_EXCLUSION",
            "tag_mutability_exclusion_filters": ["latest"],
        },
    )
    assert response.status_code == 201, response.text


def two_images(layout: Path, nonce: str) -> tuple[Image, Image]:
    first = write_image(layout, "first", with_marker(nonce, [{"app": b"release 1\n"}]))
    second = write_image(layout, "second", with_marker(nonce, [{"app": b"release 2\n"}]))
    return first, second


def history(registry_http: httpx.Client, repository: str, tag: str) -> list[tuple[str, str | None]]:
    response = registry_http.get(f"/api/v1/repositories/{repository}/-/tags/{tag}/history")
    assert response.status_code == 200, response.text
    return [(e["action"], e["new_digest"]) for e in response.json()["events"]]


def assert_refusal_shown(error: ClientError) -> None:
    """The client failed and printed the registry's reason, naming the tag and the rule."""
    shown = error.result.stderr.decode(errors="replace")
    assert "v1.0.0" in shown and "immutable" in shown, shown
    assert "IMMUTABLE_WITH_EXCLUSION" in shown, shown


def test_skopeo_immutable_tag_accepts_same_digest_and_refuses_a_new_one(
    tools: ContainerTools, registry_http: httpx.Client, repository: str, nonce: str, tmp_path: Path
) -> None:
    require_tools("skopeo")
    create_production_repository(registry_http, repository)
    first, second = two_images(tmp_path / "layout", nonce)
    layout = tmp_path / "layout"

    def push(image: Image, tag: str) -> None:
        tools.skopeo_copy(f"oci:{layout}:{image.tag}", tools.docker(repository, tag), "--preserve-digests")

    push(first, "v1.0.0")
    push(first, "v1.0.0")
    with pytest.raises(ClientError) as refused:
        push(second, "v1.0.0")
    assert_refusal_shown(refused.value)
    stored = head_manifest(registry_http, repository, "v1.0.0")
    assert stored is not None and stored.digest == first.manifest_digest

    push(first, "latest")
    push(second, "latest")
    stored = head_manifest(registry_http, repository, "latest")
    assert stored is not None and stored.digest == second.manifest_digest
    assert history(registry_http, repository, "v1.0.0") == [("create", first.manifest_digest)]
    assert history(registry_http, repository, "latest") == [
        ("create", first.manifest_digest),
        ("move", second.manifest_digest),
    ]


def test_podman_immutable_tag_accepts_same_digest_and_refuses_a_new_one(
    tools: ContainerTools, registry_http: httpx.Client, repository: str, nonce: str, tmp_path: Path
) -> None:
    require_tools("podman")
    create_production_repository(registry_http, repository)
    first, second = two_images(tmp_path / "layout", nonce)
    layout = tmp_path / "layout"
    first_id = tools.podman("pull", "-q", f"oci:{layout}:{first.tag}")
    second_id = tools.podman("pull", "-q", f"oci:{layout}:{second.tag}")
    digest_file = tools.root / "pushed.digest"

    def push(image_id: str, tag: str) -> str:
        tools.podman("push", "--digestfile", str(digest_file), image_id, tools.docker(repository, tag))
        return digest_file.read_text().strip()

    pushed = push(first_id, "v1.0.0")
    assert push(first_id, "v1.0.0") == pushed
    with pytest.raises(ClientError) as refused:
        push(second_id, "v1.0.0")
    assert_refusal_shown(refused.value)
    stored = head_manifest(registry_http, repository, "v1.0.0")
    assert stored is not None and stored.digest == pushed

    push(first_id, "latest")
    moved = push(second_id, "latest")
    stored = head_manifest(registry_http, repository, "latest")
    assert stored is not None and stored.digest == moved != pushed
    assert [action for action, _ in history(registry_http, repository, "latest")] == ["create", "move"]
    assert history(registry_http, repository, "v1.0.0") == [("create", pushed)]
