"""Forcing the delete of an image that carries an immutable tag is for registry admins only."""

from __future__ import annotations

from tests.functional.helpers import push_image
from tests.support.auth import ADMIN, ADMIN_PASSWORD, api, client_for, create_user, grant, unique_name
from tests.support.server import RunningRegistry


def test_a_repository_admin_cannot_force_the_delete_of_an_immutable_image_and_a_registry_admin_can(
    secured: RunningRegistry,
) -> None:
    name = f"{unique_name('forced')}/app"
    with api(secured) as admin:
        assert admin.post("/repositories", json={"name": name, "tag_mutability": "IMMUTABLE"}).status_code == 201
    with client_for(secured, (ADMIN, ADMIN_PASSWORD)) as registry:
        release = push_image(registry, name, tag="v1")
    owner = create_user(secured)
    grant(secured, "user", owner[0], name, "admin")
    body = {"image_ids": [{"digest": release.digest}], "force": True, "reason": "cleaning up"}
    with api(secured, owner) as repository_admin:
        refused = repository_admin.post(f"/repositories/{name}/-/images/batch-delete", json=body)
        assert refused.status_code == 403, refused.text
        unforced = repository_admin.post(
            f"/repositories/{name}/-/images/batch-delete", json={"image_ids": body["image_ids"]}
        )
        assert unforced.json()["results"][0]["deleted"] is False
    with api(secured) as admin:
        forced = admin.post(f"/repositories/{name}/-/images/batch-delete", json=body)
        assert forced.json()["results"][0]["deleted"] is True, forced.text
