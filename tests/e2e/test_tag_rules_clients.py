"""Tag naming rules with a real client: skopeo's push of a refused tag fails and shows the rule and its source."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.registry_checks import head_manifest
from tests.support.clients import ClientError, ContainerTools, require_tools
from tests.support.oci_layout import with_marker, write_image

pytestmark = pytest.mark.e2e


def test_skopeo_push_of_latest_under_prod_is_refused_naming_the_rule(
    tools: ContainerTools, registry_http: httpx.Client, nonce: str, tmp_path: Path
) -> None:
    require_tools("skopeo")
    namespace = f"prod{nonce[:10]}"
    rules = {"allowed": ["v[0-9]*.[0-9]*.[0-9]*", "re:^sha-[0-9a-f]{7,40}$"], "refused": ["latest"]}
    response = registry_http.put(f"/api/v1/namespaces/{namespace}/tag-rules", json=rules)
    assert response.status_code == 200, response.text
    repository = f"{namespace}/api"
    layout = tmp_path / "layout"
    image = write_image(layout, "app", with_marker(nonce, [{"app": b"release 1\n"}]))

    def push(tag: str) -> None:
        tools.skopeo_copy(f"oci:{layout}:{image.tag}", tools.docker(repository, tag), "--preserve-digests")

    push("v1.0.0")
    push(f"sha-{nonce[:12]}")
    with pytest.raises(ClientError) as refused:
        push("latest")
    shown = refused.value.result.stderr.decode(errors="replace")
    assert f"tag 'latest' is refused by {namespace}/*'s rule 'latest'" in shown, shown
    with pytest.raises(ClientError) as unmatched:
        push("main")
    shown = unmatched.value.result.stderr.decode(errors="replace")
    assert f"tag 'main' matches none of {namespace}/*'s allowed patterns" in shown, shown

    assert head_manifest(registry_http, repository, "latest") is None
    assert sorted(tools.skopeo_list_tags(repository)) == sorted(["v1.0.0", f"sha-{nonce[:12]}"])
