"""Who may set a namespace's tag naming rules: its admins, not its readers nor strangers."""

from __future__ import annotations

import pytest

from tests.functional.helpers import assert_error, push_image, put_manifest
from tests.support.auth import ADMIN, ADMIN_PASSWORD, api, client_for, create_user, grant, unique_name
from tests.support.server import RunningRegistry

RULES = {"refused": ["latest"]}


def test_a_user_sets_tag_rules_on_their_own_namespace_and_they_bind_their_pushes(secured: RunningRegistry) -> None:
    user = create_user(secured)
    with api(secured, user) as client:
        response = client.put(f"/namespaces/{user[0]}/tag-rules", json=RULES)
        assert response.status_code == 200, response.text
        assert response.json()["updated_by"].startswith(user[0])
    with client_for(secured, user) as registry:
        image = push_image(registry, f"{user[0]}/app", "v1")
        response = put_manifest(registry, f"{user[0]}/app", "latest", image.body, image.media_type)
        assert_error(response, 403, "DENIED")
        assert f"refused by {user[0]}/*'s rule 'latest'" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("role", [None, "read", "write"])
def test_only_a_namespace_admin_sets_or_deletes_its_tag_rules(secured: RunningRegistry, role: str | None) -> None:
    namespace = unique_name("team")
    with api(secured) as admin:
        assert admin.put(f"/namespaces/{namespace}/tag-rules", json=RULES).status_code == 200
    user = create_user(secured)
    if role is not None:
        grant(secured, "user", user[0], f"{namespace}/*", role)
    with api(secured, user) as client:
        assert client.put(f"/namespaces/{namespace}/tag-rules", json={}).status_code == 403
        assert client.delete(f"/namespaces/{namespace}/tag-rules").status_code == 403
    with api(secured, (ADMIN, ADMIN_PASSWORD)) as admin:
        assert admin.get(f"/namespaces/{namespace}/tag-rules").json()["refused"] == ["latest"]
