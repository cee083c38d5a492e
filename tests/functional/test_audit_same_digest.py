"""A same-digest re-push changes nothing, so it records nothing (docs/governance.md)."""

from __future__ import annotations

import httpx

from tests.functional.governance_helpers import audit, unique_namespace
from tests.functional.helpers import push_image, put_manifest


def test_pushing_the_same_manifest_and_tag_again_adds_no_audit_entry(http: httpx.Client) -> None:
    repo = f"{unique_namespace('repush')}/app"
    first = push_image(http, repo, "v1")
    before = audit(http, repository=repo)
    assert put_manifest(http, repo, "v1", first.body, first.media_type).status_code == 201
    assert put_manifest(http, repo, first.digest, first.body, first.media_type).status_code == 201
    assert audit(http, repository=repo) == before
    assert sorted(e["action"] for e in before) == ["manifest.push", "repository.create", "tag.create"]


def test_the_same_manifest_under_a_new_tag_records_only_the_tag(http: httpx.Client) -> None:
    repo = f"{unique_namespace('repush')}/app"
    image = push_image(http, repo, "v1")
    count = len(audit(http, repository=repo))
    assert put_manifest(http, repo, "stable", image.body, image.media_type).status_code == 201
    added = audit(http, repository=repo)[count:]
    assert [(e["action"], e["target"]) for e in added] == [("tag.create", "stable")]
