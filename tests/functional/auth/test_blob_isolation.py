"""A digest is not a capability: no request links, serves or reveals a blob of a repository the caller cannot read.

Each test plays bob, who may push to his own repositories and knows the digest of something in
alice's private repository (digests leak: build logs, SBOMs, a shared base image), and tries to get
at it through his own repository.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.functional.helpers import (
    Blob,
    Manifest,
    assert_error,
    canonical_json,
    image_manifest,
    index_manifest,
    push_artifact,
    push_blob,
    push_image,
    push_manifest,
    put_manifest,
    random_bytes,
    resolve,
    sha256,
    with_query,
)
from tests.support.auth import api, client_for, create_user, grant, token_for, unique_name
from tests.support.server import RunningRegistry

User = tuple[str, str]


@pytest.fixture
def alice(secured: RunningRegistry) -> User:
    return create_user(secured, unique_name("alice"))


@pytest.fixture
def bob(secured: RunningRegistry) -> User:
    return create_user(secured, unique_name("bob"))


@pytest.fixture
def secret(secured: RunningRegistry, alice: User) -> Blob:
    """A blob that only `alice/private` holds."""
    with client_for(secured, alice) as client:
        return push_blob(client, f"{alice[0]}/private", random_bytes(1500))


def mount(client: httpx.Client, to: str, digest: str, *sources: str, token: str | None = None) -> httpx.Response:
    params = [("mount", digest), *[("from", source) for source in sources]]
    headers = {"Content-Length": "0"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return client.post(f"/v2/{to}/blobs/uploads/", params=params, headers=headers)


def get_blob(secured: RunningRegistry, repository: str, digest: str, token: str) -> httpx.Response:
    return httpx.get(f"{secured.url}/v2/{repository}/blobs/{digest}", headers={"Authorization": f"Bearer {token}"})


def assert_plain_upload(response: httpx.Response) -> None:
    """A refused mount is indistinguishable from a mount of an unknown digest: 202 and a fresh session."""
    assert response.status_code == 202, response.text
    assert "/blobs/uploads/" in response.headers["location"]
    assert "docker-content-digest" not in response.headers


def touched_at(secured: RunningRegistry, digest: str) -> datetime | None:
    """The blob's GC grace clock, read from the metadata store itself."""
    url = secured.database_url or f"sqlite:///{secured.data_dir / 'metadata.db'}"  # type: ignore[operator]
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            value: Any = connection.execute(
                sa.text("SELECT touched_at FROM blobs WHERE digest = :digest"), {"digest": digest}
            ).scalar_one()
    finally:
        engine.dispose()
    return value if value is None or isinstance(value, datetime) else datetime.fromisoformat(str(value))


# -- mounts -------------------------------------------------------------------------------------


def test_mount_without_from_does_not_link_a_blob_the_caller_cannot_read(
    secured: RunningRegistry, bob: User, secret: Blob
) -> None:
    with client_for(secured, bob) as client:
        push_blob(client, f"{bob[0]}/loot")  # bob's repository exists and he may push to it
        response = mount(client, f"{bob[0]}/loot", secret.digest)
        assert_plain_upload(response)
        assert_error(client.get(f"/v2/{bob[0]}/loot/blobs/{secret.digest}"), 404, "BLOB_UNKNOWN")
        # The session it opened is an ordinary upload: only the bytes themselves make the blob bob's.
        finished = client.put(with_query(resolve(response), digest=secret.digest), content=secret.data)
        assert finished.status_code == 201, finished.text


def test_a_refused_mount_looks_like_a_mount_of_an_unknown_digest(
    secured: RunningRegistry, bob: User, secret: Blob
) -> None:
    unknown = sha256(random_bytes(32))
    with client_for(secured, bob) as client:
        refused = mount(client, f"{bob[0]}/loot", secret.digest)
        absent = mount(client, f"{bob[0]}/loot", unknown)
    assert refused.status_code == absent.status_code == 202
    assert sorted(refused.headers.keys()) == sorted(absent.headers.keys())


def test_a_second_from_cannot_smuggle_an_unreadable_repository_past_the_check(
    secured: RunningRegistry, alice: User, bob: User, secret: Blob
) -> None:
    with client_for(secured, bob) as client:
        push_blob(client, f"{bob[0]}/other")
    token = token_for(secured.url, bob, f"repository:{bob[0]}/loot:pull,push", f"repository:{bob[0]}/other:pull")
    with httpx.Client(base_url=secured.url, timeout=60) as client:
        for sources in ((f"{bob[0]}/other", f"{alice[0]}/private"), (f"{alice[0]}/private", f"{bob[0]}/other")):
            assert_plain_upload(mount(client, f"{bob[0]}/loot", secret.digest, *sources, token=token))
    assert_error(get_blob(secured, f"{bob[0]}/loot", secret.digest, token), 404, "BLOB_UNKNOWN")


def test_mount_from_a_repository_the_caller_cannot_pull_starts_an_upload_even_if_the_token_asked_for_it(
    secured: RunningRegistry, alice: User, bob: User, secret: Blob
) -> None:
    token = token_for(secured.url, bob, f"repository:{bob[0]}/loot:pull,push", f"repository:{alice[0]}/private:pull")
    with httpx.Client(base_url=secured.url, timeout=60) as client:
        assert_plain_upload(mount(client, f"{bob[0]}/loot", secret.digest, f"{alice[0]}/private", token=token))
    assert_error(get_blob(secured, f"{bob[0]}/loot", secret.digest, token), 404, "BLOB_UNKNOWN")


def test_mount_from_a_repository_the_caller_may_pull_links_the_blob(
    secured: RunningRegistry, alice: User, bob: User
) -> None:
    with client_for(secured, alice) as client:
        shared = push_blob(client, f"{alice[0]}/shared", random_bytes(700))
    grant(secured, "user", bob[0], f"{alice[0]}/shared", "read")
    token = token_for(secured.url, bob, f"repository:{bob[0]}/loot:pull,push", f"repository:{alice[0]}/shared:pull")
    with httpx.Client(base_url=secured.url, timeout=60) as client:
        response = mount(client, f"{bob[0]}/loot", shared.digest, f"{alice[0]}/shared", token=token)
    assert response.status_code == 201, response.text
    assert get_blob(secured, f"{bob[0]}/loot", shared.digest, token).content == shared.data


def test_mount_without_from_links_a_blob_of_another_repository_the_caller_may_read(
    secured: RunningRegistry, alice: User, bob: User
) -> None:
    """The token names only the target; the caller's own rights decide which other repositories count."""
    with client_for(secured, alice) as client:
        shared = push_blob(client, f"{alice[0]}/shared", random_bytes(700))
    grant(secured, "user", bob[0], f"{alice[0]}/shared", "read")
    with client_for(secured, bob) as client:
        own = push_blob(client, f"{bob[0]}/one", random_bytes(300))
        for blob in (shared, own):
            response = mount(client, f"{bob[0]}/two", blob.digest)
            assert response.status_code == 201, response.text
            assert client.get(f"/v2/{bob[0]}/two/blobs/{blob.digest}").content == blob.data


def test_a_leaked_push_only_access_token_mounts_nothing_beyond_its_own_repository(
    secured: RunningRegistry, alice: User, bob: User
) -> None:
    """Bob may read alice/shared, but his CI token may only push bob/loot: whoever steals it gets no more."""
    with client_for(secured, alice) as client:
        shared = push_blob(client, f"{alice[0]}/shared", random_bytes(900))
    grant(secured, "user", bob[0], f"{alice[0]}/shared", "read")
    with api(secured, bob) as client:
        body = {"name": "ci", "scopes": ["push"], "repositories": [f"{bob[0]}/loot"]}
        created = client.post(f"/users/{bob[0]}/tokens", json=body)
        assert created.status_code == 201, created.text
    stolen = (bob[0], str(created.json()["token"]))
    with client_for(secured, stolen) as thief:
        push_blob(thief, f"{bob[0]}/loot")  # the token works for what it was made for
        assert_plain_upload(mount(thief, f"{bob[0]}/loot", shared.digest))
        assert_plain_upload(mount(thief, f"{bob[0]}/loot", shared.digest, f"{alice[0]}/shared"))
        assert_error(thief.get(f"/v2/{bob[0]}/loot/blobs/{shared.digest}"), 404, "BLOB_UNKNOWN")
    token = token_for(secured.url, stolen, f"repository:{bob[0]}/loot:pull,push", f"repository:{alice[0]}/shared:pull")
    with httpx.Client(base_url=secured.url, timeout=60) as client:
        assert_plain_upload(mount(client, f"{bob[0]}/loot", shared.digest, f"{alice[0]}/shared", token=token))
    assert_error(get_blob(secured, f"{bob[0]}/loot", shared.digest, token), 404, "BLOB_UNKNOWN")


# -- HEAD and the GC grace clock ---------------------------------------------------------------------


def test_a_cross_repository_blob_head_is_404_and_renews_nothing(
    secured: RunningRegistry, bob: User, secret: Blob
) -> None:
    before = touched_at(secured, secret.digest)
    with client_for(secured, bob) as client:
        push_blob(client, f"{bob[0]}/loot")
        assert client.head(f"/v2/{bob[0]}/loot/blobs/{secret.digest}").status_code == 404
    assert touched_at(secured, secret.digest) == before


def test_a_refused_mount_does_not_renew_the_blob_it_names(secured: RunningRegistry, bob: User, secret: Blob) -> None:
    """Otherwise bob could keep alice's deleted blob from being collected by asking for it now and then."""
    before = touched_at(secured, secret.digest)
    with client_for(secured, bob) as client:
        assert_plain_upload(mount(client, f"{bob[0]}/loot", secret.digest))
    assert touched_at(secured, secret.digest) == before


# -- manifests ----------------------------------------------------------------------------------


@pytest.fixture
def private_image(secured: RunningRegistry, alice: User) -> Iterator[tuple[Manifest, Any]]:
    """alice/private:1 and its document (config and layer descriptors)."""
    with client_for(secured, alice) as client:
        manifest = push_image(client, f"{alice[0]}/private", tag="1")
    yield manifest, manifest.document


def test_a_manifest_naming_blobs_only_another_repository_holds_is_refused_and_links_nothing(
    secured: RunningRegistry, bob: User, private_image: tuple[Manifest, Any]
) -> None:
    stolen, document = private_image
    layer = document["layers"][0]["digest"]
    with client_for(secured, bob) as client:
        push_blob(client, f"{bob[0]}/loot")
        response = put_manifest(client, f"{bob[0]}/loot", "copy", stolen.body, stolen.media_type)
        assert_error(response, 400, "MANIFEST_BLOB_UNKNOWN")
        assert_error(client.get(f"/v2/{bob[0]}/loot/blobs/{layer}"), 404, "BLOB_UNKNOWN")
        assert_error(client.get(f"/v2/{bob[0]}/loot/manifests/copy"), 404, "MANIFEST_UNKNOWN")
        assert_error(client.get(f"/v2/{bob[0]}/loot/manifests/{stolen.digest}"), 404, "MANIFEST_UNKNOWN")


def test_an_index_naming_a_manifest_only_another_repository_holds_is_refused(
    secured: RunningRegistry, bob: User, private_image: tuple[Manifest, Any]
) -> None:
    stolen, _ = private_image
    index = index_manifest([stolen])
    with client_for(secured, bob) as client:
        response = put_manifest(client, f"{bob[0]}/loot", "multi", index.body, index.media_type)
        assert_error(response, 400, "MANIFEST_BLOB_UNKNOWN")
        assert_error(client.get(f"/v2/{bob[0]}/loot/manifests/{stolen.digest}"), 404, "MANIFEST_UNKNOWN")


def test_a_foreign_layer_naming_another_repositorys_blob_reveals_neither_its_existence_nor_its_size(
    secured: RunningRegistry, bob: User, secret: Blob
) -> None:
    """A layer with `urls` need not be in the repository, so naming alice's digest there must change nothing."""
    repository = f"{bob[0]}/loot"

    def foreign(digest: str) -> dict[str, Any]:
        return {
            "mediaType": "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
            "digest": digest,
            "size": 1,
            "urls": ["https://example.invalid/layer"],
        }

    with client_for(secured, bob) as client:
        config = push_blob(client, repository, canonical_json({"architecture": "amd64", "os": "linux"}))
        pushed = []
        for digest in (secret.digest, sha256(random_bytes(32))):
            manifest = image_manifest(config, [])
            document = {**manifest.document, "layers": [foreign(digest)]}
            pushed.append(push_manifest(client, repository, Manifest(canonical_json(document), manifest.media_type)))
        assert_error(client.get(f"/v2/{repository}/blobs/{secret.digest}"), 404, "BLOB_UNKNOWN")
    with api(secured, bob) as client:
        usage = client.get(f"/repositories/{repository}/-/usage")
        assert usage.status_code == 200, usage.text
    manifest_bytes = sum(manifest.size for manifest in pushed)
    # Each image counts its config; neither foreign layer counts, alice's no more than the unknown one.
    assert usage.json()["logical_bytes"] == manifest_bytes + 2 * config.size


# -- referrers ----------------------------------------------------------------------------------


def test_a_referrer_naming_another_repositorys_manifest_reveals_nothing_about_it(
    secured: RunningRegistry, alice: User, bob: User, private_image: tuple[Manifest, Any]
) -> None:
    subject, _ = private_image
    with client_for(secured, alice) as client:
        signature = push_artifact(client, f"{alice[0]}/private", "application/vnd.example.signature", subject=subject)
    with client_for(secured, bob) as client:
        note = push_artifact(client, f"{bob[0]}/loot", "application/vnd.example.note", subject=subject)
        listed = client.get(f"/v2/{bob[0]}/loot/referrers/{subject.digest}")
        assert listed.status_code == 200, listed.text
        assert [d["digest"] for d in listed.json()["manifests"]] == [note.digest]
        assert_error(client.get(f"/v2/{bob[0]}/loot/manifests/{subject.digest}"), 404, "MANIFEST_UNKNOWN")
        assert_error(client.get(f"/v2/{alice[0]}/private/referrers/{subject.digest}"), 403, "DENIED")
    with client_for(secured, alice) as client:
        listed = client.get(f"/v2/{alice[0]}/private/referrers/{subject.digest}")
        assert [d["digest"] for d in listed.json()["manifests"]] == [signature.digest]
