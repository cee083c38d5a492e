"""The web UI's pages over HTTP on both metadata backends, with authentication off (loopback default):
what each page shows, and that bad input gets an error page, never a 500."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from moorage.scanning.model import Severity
from tests.functional.helpers import index_manifest, push_artifact, push_image
from tests.functional.web_support import csrf_of, post_form
from tests.support.scan_gate import record_scan, vulnerability
from tests.support.server import RunningRegistry

SBOM = "application/vnd.example.sbom+json"
SIGNATURE = "application/vnd.example.signature"


@pytest.fixture(scope="module")
def pushed(registry: RunningRegistry) -> dict[str, str]:
    """A repository with two platform images in an index, an SBOM of the index and a signature of the SBOM."""
    name = f"webpages{uuid.uuid4().hex[:6]}/app"
    with httpx.Client(base_url=registry.url, timeout=30) as client:
        amd64 = push_image(client, name, "amd64-only")
        arm64 = push_image(client, name)
        index = index_manifest([amd64, arm64])
        client.put(f"/v2/{name}/manifests/v1", content=index.body, headers={"Content-Type": index.media_type})
        sbom = push_artifact(client, name, SBOM, subject=index)
        signature = push_artifact(client, name, SIGNATURE, subject=sbom)
    return {
        "name": name,
        "amd64": amd64.digest,
        "arm64": arm64.digest,
        "index": index.digest,
        "sbom": sbom.digest,
        "signature": signature.digest,
    }


@pytest.fixture
def web(registry: RunningRegistry) -> httpx.Client:
    return httpx.Client(base_url=registry.url, timeout=30, follow_redirects=False)


def test_the_repository_page_shows_tags_platforms_pull_commands_and_the_referrer_tree(
    web: httpx.Client, registry: RunningRegistry, pushed: dict[str, str]
) -> None:
    name = pushed["name"]
    page = web.get(f"/repositories/{name}")
    assert page.status_code == 200
    assert f"podman pull {registry.host}/{name}:v1" in page.text
    assert f"podman pull {registry.host}/{name}@{pushed['index']}" in page.text
    assert "linux/amd64" in page.text and "linux/arm64" in page.text
    tree = page.text.split('<ul class="tree">', 1)[1]
    assert tree.index(pushed["sbom"]) < tree.index(pushed["signature"])  # the signature hangs under the SBOM
    assert SBOM in tree and SIGNATURE in tree
    untagged = web.get(f"/repositories/{name}", params={"show": "untagged"}).text
    assert pushed["sbom"][:19] in untagged and pushed["amd64"][:19] not in untagged  # a platform is not a leftover


def test_the_image_page_shows_layers_config_referrers_and_whether_it_was_scanned(
    web: httpx.Client, pushed: dict[str, str]
) -> None:
    name = pushed["name"]
    image = web.get(f"/repositories/{name}/-/images/{pushed['amd64']}")
    assert image.status_code == 200
    assert len(re.findall(r"<tr><td>\d+</td>", image.text.split('id="layers"', 1)[1])) == 1
    assert "linux/amd64" in image.text.split('id="config"', 1)[1]
    assert 'id="vulnerabilities"' in image.text and "Not scanned" in image.text
    index = web.get(f"/repositories/{name}/-/images/{pushed['index']}")
    assert 'id="platforms"' in index.text and pushed["sbom"] in index.text


def test_the_tag_history_answers_for_a_moment(web: httpx.Client, pushed: dict[str, str]) -> None:
    name = pushed["name"]
    history = f"/repositories/{name}/-/tags/v1/history"
    later = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    answer = web.get(history, params={"at": later}).text
    assert pushed["index"] in answer.split('id="answer"', 1)[1].split("</p>", 1)[0]
    before = web.get(history, params={"at": "2001-01-01T00:00"}).text
    assert "did not exist yet" in before
    assert web.get(history, params={"at": "yesterday"}).status_code == 422


def test_usage_shows_the_figures_and_a_chart(web: httpx.Client, pushed: dict[str, str]) -> None:
    namespace = pushed["name"].split("/")[0]
    page = web.get("/usage", params={"namespace": namespace})
    assert page.status_code == 200 and "<svg" in page.text and "<circle" in page.text
    assert pushed["name"] in page.text.split('id="usage-by-repository"', 1)[1]


def test_without_authentication_the_ui_acts_as_an_anonymous_admin_but_still_needs_csrf_tokens(
    web: httpx.Client, pushed: dict[str, str]
) -> None:
    name = pushed["name"]
    settings = f"/repositories/{name}/-/settings"
    assert web.post(settings, data={"visibility": "public"}).status_code == 403
    team = f"payments-{name.split('/')[0]}"  # this test's own label: other tests' repositories do not match it
    saved = post_form(web, settings, settings, visibility="private", labels=f"team={team}", scan_on_push="on")
    assert saved.status_code == 303
    described = web.get(f"/api/v1/repositories/{name}").json()
    assert described["labels"] == {"team": team} and described["scan_on_push"] is True
    filler = f"aaa{uuid.uuid4().hex[:6]}"  # a full page of other repositories listed before this one
    for number in range(30):
        assert web.post("/api/v1/repositories", json={"name": f"{filler}/r{number:02}"}).status_code == 201
    listed = web.get("/repositories", params={"label": f"team={team}"}).text
    assert name in listed and 'id="next-page"' not in listed, "a filter fills its page, never an empty one"
    assert web.get("/tokens").status_code == 409  # no accounts without authentication
    audit = web.get("/audit", params={"repository": name, "action": "repository.update"})
    assert audit.status_code == 200 and "repository.update" in audit.text


@pytest.mark.parametrize(
    "path",
    [
        "/repositories?visibility=secret",
        "/repositories?label=nolabel",
        "/repositories?namespace=%00",
        "/repositories/NOT-A-NAME",
        "/repositories/nope/missing",
        "/repositories/nope/missing/-/images/sha256:zz",
        "/repositories/nope/missing/-/tags/bad tag/history",
        "/audit?outcome=maybe",
        "/audit?since=not-a-time",
        "/audit?actor=%01",
        "/usage",
        "/usage?namespace=%2F%2F",
        "/repositories/a%00b",
        "/namespaces/a%00b/robots",
        "/repositories/nope/missing/-/tags/v%001/history",
    ],
)
def test_bad_input_gets_an_error_page_not_a_server_error(web: httpx.Client, path: str) -> None:
    response = web.get(path)
    assert 400 <= response.status_code < 500 or response.status_code == 200, (path, response.status_code)
    assert "content-security-policy" in response.headers


def test_a_form_field_with_nul_is_refused(web: httpx.Client, pushed: dict[str, str]) -> None:
    settings = f"/repositories/{pushed['name']}/-/settings"
    response = post_form(web, settings, settings, description="a\x00b", visibility="private")
    assert response.status_code == 422


def test_a_malformed_policy_is_shown_back_with_the_reason(web: httpx.Client, pushed: dict[str, str]) -> None:
    settings = f"/repositories/{pushed['name']}/-/settings"
    response = post_form(web, settings, f"/repositories/{pushed['name']}/-/lifecycle/preview", policy='{"rules": 5}')
    assert response.status_code == 422 and "Invalid lifecycle policy" in response.text
    assert csrf_of(response)  # the form comes back, ready to fix


def test_the_image_page_shows_its_scan_worst_findings_first_and_says_when_it_was_never_scanned(
    registry: RunningRegistry, web: httpx.Client, pushed: dict[str, str]
) -> None:
    name = pushed["name"]
    findings = [vulnerability("CVE-2024-0001", Severity.MEDIUM), vulnerability("CVE-2024-0002", Severity.CRITICAL)]
    record_scan(registry, pushed["amd64"], findings=findings)
    page = web.get(f"/repositories/{name}/-/images/{pushed['amd64']}").text
    section = page[page.index('id="vulnerabilities"') :]
    assert "COMPLETE" in section and "CRITICAL 1" in section and "MEDIUM 1" in section
    assert section.index("CVE-2024-0002") < section.index("CVE-2024-0001"), "worst first"
    assert "openssl" in section and "3.0.11-1" in section
    unscanned = web.get(f"/repositories/{name}/-/images/{pushed['arm64']}").text
    assert "Not scanned" in unscanned[unscanned.index('id="vulnerabilities"') :]
