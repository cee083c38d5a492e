"""For any name, tag or digest, the server accepts exactly what the spec's grammar accepts.

Property tests (Hypothesis) over generated strings: each example is one HTTP request, so the
number of examples is kept small enough for the suite's time budget.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.functional.helpers import OCI_MANIFEST, Manifest, push_image, raw_request, unique_repo
from tests.support.server import RunningRegistry

# Spec "Pulling manifests": the grammar of <name> and of a tag <reference>.
NAME = re.compile(r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*")
TAG = re.compile(r"[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}")
# image-spec descriptor.md "Registered algorithms": lowercase hex of the exact length.
DIGEST = re.compile(r"sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}")

PROPERTY = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], derandomize=True
)

name_parts = st.text(alphabet="abcxyz019._-/A", min_size=1, max_size=24)
tags = st.one_of(
    st.text(alphabet="aZ09._-", min_size=1, max_size=12),
    st.integers(min_value=125, max_value=131).map(lambda n: "t" * n),
    st.text(alphabet="aZ09._-+:~", min_size=1, max_size=6),
)
hex_text = st.text(alphabet="0123456789abcdefABCDEFgz", min_size=0, max_size=130)
digests = st.one_of(
    st.builds(lambda h: f"sha256:{h}", hex_text),
    st.builds(lambda h: f"sha512:{h}", hex_text),
    st.builds(lambda h: f"sha256:{h}", st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)),
    st.builds(lambda a, h: f"{a}:{h}", st.sampled_from(["md5", "sha1", "SHA256", "blake3", "sha384"]), hex_text),
)


@pytest.fixture
def image(http: httpx.Client, repo: str) -> tuple[str, Manifest]:
    return repo, push_image(http, repo)


@PROPERTY
@given(suffix=name_parts)
def test_upload_is_opened_exactly_for_names_the_grammar_accepts(registry: RunningRegistry, suffix: str) -> None:
    name = f"{unique_repo('grammar')}/{suffix}"
    event(f"name valid: {bool(NAME.fullmatch(name))}")
    response = raw_request(registry.url, "POST", f"/v2/{quote(name, safe='/')}/blobs/uploads/", b"")
    if NAME.fullmatch(name) and len(name) <= 255:
        assert response.status_code == 202, (name, response.status_code, response.text)
    else:
        assert response.status_code in (400, 404), (name, response.status_code, response.text)
        codes = {error["code"] for error in response.json()["errors"]}
        assert codes & {"NAME_INVALID", "NAME_UNKNOWN"}, (name, response.text)


@PROPERTY
@given(tag=tags)
def test_manifest_is_tagged_exactly_for_tags_the_grammar_accepts(
    registry: RunningRegistry, http: httpx.Client, image: tuple[str, Manifest], tag: str
) -> None:
    repo, manifest = image
    event(f"tag valid: {bool(TAG.fullmatch(tag))}")
    path = f"/v2/{repo}/manifests/{quote(tag, safe='')}"  # sent as written: "." and ".." are tags to refuse
    response = raw_request(registry.url, "PUT", path, manifest.body, {"Content-Type": OCI_MANIFEST})
    if TAG.fullmatch(tag):
        assert response.status_code == 201, (tag, response.text)
        assert http.get(f"/v2/{repo}/manifests/{tag}").content == manifest.body
    else:
        assert response.status_code == 400, (tag, response.status_code, response.text)
        assert response.json()["errors"], response.text


@PROPERTY
@given(digest=digests)
def test_blob_lookup_refuses_exactly_the_digests_the_grammar_refuses(
    http: httpx.Client, image: tuple[str, Manifest], digest: str
) -> None:
    repo, _ = image
    event(f"digest valid: {bool(DIGEST.fullmatch(digest))}")
    response = http.get(f"/v2/{repo}/blobs/{digest}")
    if DIGEST.fullmatch(digest):
        assert response.status_code == 404, (digest, response.text)
        assert response.json()["errors"][0]["code"] == "BLOB_UNKNOWN"
    else:
        assert response.status_code == 400, (digest, response.status_code, response.text)
        assert response.json()["errors"][0]["code"] == "DIGEST_INVALID"


@PROPERTY
@given(digest=digests)
def test_manifest_delete_by_digest_refuses_exactly_the_digests_the_grammar_refuses(
    http: httpx.Client, image: tuple[str, Manifest], digest: str
) -> None:
    """A lookup of a digest the grammar refuses finds nothing (404, as Distribution); a delete is refused (400)."""
    repo, manifest = image
    response = http.get(f"/v2/{repo}/manifests/{digest}")
    if DIGEST.fullmatch(digest):
        assert response.status_code == (200 if digest == manifest.digest else 404), (digest, response.text)
    else:
        assert response.status_code == 404, (digest, response.status_code, response.text)
        assert response.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
        refused = http.delete(f"/v2/{repo}/manifests/{digest}")
        assert refused.status_code == 400, (digest, refused.status_code, refused.text)
        assert refused.json()["errors"][0]["code"] == "DIGEST_INVALID"
