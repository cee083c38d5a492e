"""The web UI in a real headless Chromium (Debian's `chromium` and `chromium-driver`, driven by Selenium).

A user signs in, browses to an image skopeo pushed, reads its tags, pull commands, layers and config,
asks the tag history what a tag pointed to, changes a setting, sees the lifecycle preview before
saving, and creates an access token whose secret is shown once. A form post without its CSRF token
(plain HTTP with the browser's own session cookie) is refused. Screenshots of the main pages go to
`test-artifacts/web-ui/` (git-ignored; `MOORAGE_TEST_ARTIFACTS` moves it).

One registry and one browser serve the whole module.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.auth import ADMIN, ADMIN_PASSWORD
from tests.support.clients import ContainerTools, container_tools, require_tools
from tests.support.oci_layout import Image, with_marker, write_image
from tests.support.server import RunningRegistry, start_server

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(os.environ.get("MOORAGE_TEST_ARTIFACTS", "test-artifacts")) / "web-ui"
USER_PASSWORD = "browser-" + uuid.uuid4().hex


def _require_chromium() -> None:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        message = f"{', '.join(missing)} missing: apt-get install chromium chromium-driver"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set: browser tests are required)")
        pytest.skip(message)


@pytest.fixture(scope="module")
def web_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRegistry]:
    settings = {"auth_enabled": "true", "admin_username": ADMIN, "admin_password": ADMIN_PASSWORD}
    with start_server(tmp_path_factory.mktemp("web-ui"), **settings) as server:
        yield server


@pytest.fixture(scope="module")
def driver() -> Iterator[object]:
    _require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="moorage-chromium-")
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in a container: Chromium's sandbox needs user namespaces it may not have
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(argument)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.implicitly_wait(5)
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def pushed(web_registry: RunningRegistry, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Image]:
    """An image with two layers and a real-looking config, pushed by skopeo as `web/app:v1` and `:latest`."""
    require_tools("skopeo")
    layout = tmp_path_factory.mktemp("layout")
    nonce = uuid.uuid4().hex
    config = {
        "config": {
            "Entrypoint": ["/usr/bin/app"],
            "Cmd": ["--serve"],
            "Env": ["PATH=/usr/bin", "APP_MODE=production"],
            "Labels": {"org.opencontainers.image.source": "https://example.com/app"},
        }
    }
    files = with_marker(nonce, [{"etc/os-release": b"ID=moorage\n"}, {"usr/bin/app": b"#!/bin/sh\necho app\n" * 50}])
    image = write_image(layout, "v1", files, config_extra=config)
    repository = f"web{nonce[:6]}/app"
    with container_tools(web_registry.host) as tools:
        _skopeo_push(tools, layout, repository, "v1")
        _skopeo_push(tools, layout, repository, "latest")
    return repository, image


def _skopeo_push(tools: ContainerTools, layout: Path, repository: str, tag: str) -> None:
    creds = f"{ADMIN}:{ADMIN_PASSWORD}"
    tools.skopeo_copy(f"oci:{layout}:v1", tools.docker(repository, tag), "--preserve-digests", "--dest-creds", creds)


def screenshot(driver: object, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))  # type: ignore[attr-defined]


def sign_in(driver: object, registry: RunningRegistry, username: str, password: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{registry.url}/login")  # type: ignore[attr-defined]
    screenshot(driver, "00-sign-in")
    driver.find_element(By.ID, "username").send_keys(username)  # type: ignore[attr-defined]
    driver.find_element(By.ID, "password").send_keys(password)  # type: ignore[attr-defined]
    driver.find_element(By.ID, "sign-in").click()  # type: ignore[attr-defined]
    assert driver.find_element(By.ID, "signed-in-as").text == username  # type: ignore[attr-defined]


def test_a_user_browses_to_an_image_pushed_by_skopeo(
    web_registry: RunningRegistry, driver: object, pushed: tuple[str, Image]
) -> None:
    from selenium.webdriver.common.by import By

    repository, image = pushed
    d = driver
    sign_in(d, web_registry, ADMIN, ADMIN_PASSWORD)
    d.get(f"{web_registry.url}/repositories")  # type: ignore[attr-defined]
    screenshot(d, "01-repositories")
    d.find_element(By.LINK_TEXT, repository).click()  # type: ignore[attr-defined]
    assert d.find_element(By.ID, "repository-name").text == repository  # type: ignore[attr-defined]
    rows = d.find_elements(By.CSS_SELECTOR, "#images tbody tr")  # type: ignore[attr-defined]
    assert len(rows) == 1  # both tags point at the one image
    tags = {e.text for e in rows[0].find_elements(By.CSS_SELECTOR, "a.tag")}
    assert tags == {"v1", "latest"}
    pulls = [e.text for e in rows[0].find_elements(By.CSS_SELECTOR, ".pull code")]
    assert f"podman pull {web_registry.host}/{repository}@{image.manifest_digest}" in pulls
    assert any(p.startswith(f"podman pull {web_registry.host}/{repository}:") for p in pulls)
    screenshot(d, "02-repository")

    rows[0].find_element(By.CSS_SELECTOR, "a.digest").click()
    layers = d.find_elements(By.CSS_SELECTOR, "#layers tbody tr")  # type: ignore[attr-defined]
    assert len(layers) == len(image.layers) == 2
    for row, layer in zip(layers, image.layers, strict=True):
        assert row.find_element(By.TAG_NAME, "code").get_attribute("title") == layer.digest
    config = d.find_element(By.ID, "config").text  # type: ignore[attr-defined]
    assert '["/usr/bin/app"]' in config and "APP_MODE=production" in config
    assert "org.opencontainers.image.source=https://example.com/app" in config
    assert "moorage test layer 1" in d.find_element(By.ID, "build-history").text  # type: ignore[attr-defined]
    assert "Not scanned" in d.find_element(By.ID, "vulnerabilities").text  # type: ignore[attr-defined]
    screenshot(d, "03-image")

    d.get(f"{web_registry.url}/repositories/{repository}/-/tags/latest/history?at=2999-01-01T00:00")  # type: ignore[attr-defined]
    assert image.manifest_digest in d.find_element(By.ID, "answer").text  # type: ignore[attr-defined]
    assert d.find_elements(By.CSS_SELECTOR, "#timeline li.create")  # type: ignore[attr-defined]
    screenshot(d, "04-tag-history")
    d.get(f"{web_registry.url}/usage?namespace={repository.split('/')[0]}")  # type: ignore[attr-defined]
    assert d.find_element(By.CSS_SELECTOR, "svg.chart circle")  # type: ignore[attr-defined]
    screenshot(d, "05-usage")
    d.get(f"{web_registry.url}/audit")  # type: ignore[attr-defined]
    assert d.find_elements(By.CSS_SELECTOR, "#audit tbody tr")  # type: ignore[attr-defined]
    screenshot(d, "06-audit")


def test_a_user_changes_a_setting_previews_a_policy_and_creates_a_token(
    web_registry: RunningRegistry, driver: object, pushed: tuple[str, Image]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    repository, image = pushed
    d = driver
    d.delete_all_cookies()  # type: ignore[attr-defined]
    sign_in(d, web_registry, ADMIN, ADMIN_PASSWORD)
    d.get(f"{web_registry.url}/repositories/{repository}/-/settings")  # type: ignore[attr-defined]
    Select(d.find_element(By.ID, "tag-mutability")).select_by_value("IMMUTABLE_WITH_EXCLUSION")  # type: ignore[attr-defined]
    d.find_element(By.ID, "exclusions").send_keys("latest")  # type: ignore[attr-defined]
    d.find_element(By.ID, "save-settings").click()  # type: ignore[attr-defined]
    assert "Saved" in d.find_element(By.ID, "saved").text  # type: ignore[attr-defined]
    with httpx.Client(base_url=f"{web_registry.url}/api/v1", auth=(ADMIN, ADMIN_PASSWORD)) as api:
        settings = api.get(f"/repositories/{repository}").json()
        assert settings["tag_mutability"] == "IMMUTABLE_WITH_EXCLUSION"
        assert settings["tag_mutability_exclusion_filters"] == ["latest"]
    screenshot(d, "07-settings")

    policy = (
        '{"rules": [{"rulePriority": 1, "description": "only the newest", '
        '"selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 1}, '
        '"action": {"type": "expire"}}]}'
    )
    box = d.find_element(By.ID, "policy")  # type: ignore[attr-defined]
    box.clear()
    box.send_keys(policy)
    d.find_element(By.ID, "preview-policy").click()  # type: ignore[attr-defined]
    summary = d.find_element(By.ID, "preview-summary").text  # type: ignore[attr-defined]
    assert "0 of 1 images would expire" in summary
    assert image.manifest_digest[:19] in d.find_element(By.ID, "decisions").text  # type: ignore[attr-defined]
    with httpx.Client(base_url=f"{web_registry.url}/api/v1", auth=(ADMIN, ADMIN_PASSWORD)) as api:
        assert api.get(f"/repositories/{repository}/lifecycle-policy").status_code == 404  # not saved yet
    screenshot(d, "08-lifecycle-preview")
    d.find_element(By.ID, "save-policy").click()  # type: ignore[attr-defined]
    assert "lifecycle" in d.find_element(By.ID, "saved").text  # type: ignore[attr-defined]
    with httpx.Client(base_url=f"{web_registry.url}/api/v1", auth=(ADMIN, ADMIN_PASSWORD)) as api:
        assert api.get(f"/repositories/{repository}/lifecycle-policy").json()["policy"]["rules"][0]["rulePriority"] == 1

    d.get(f"{web_registry.url}/tokens")  # type: ignore[attr-defined]
    d.find_element(By.ID, "token-name").send_keys("ci-push")  # type: ignore[attr-defined]
    d.find_element(By.CSS_SELECTOR, "input[name=scopes][value=push]").click()  # type: ignore[attr-defined]
    d.find_element(By.ID, "create-token").click()  # type: ignore[attr-defined]
    secret = d.find_element(By.ID, "secret-value").text  # type: ignore[attr-defined]
    assert secret.startswith("moorage_pat_")
    login_line = d.find_element(By.ID, "podman-login").text  # type: ignore[attr-defined]
    assert login_line.endswith(f"--password-stdin {web_registry.host}") and secret in login_line
    screenshot(d, "09-token-created")
    d.get(f"{web_registry.url}/tokens")  # type: ignore[attr-defined]
    assert "ci-push" in d.find_element(By.ID, "tokens").text  # type: ignore[attr-defined]
    assert secret not in d.page_source  # type: ignore[attr-defined]
    token = httpx.get(f"{web_registry.url}/token", params={"service": "moorage"}, auth=(ADMIN, secret))
    assert token.status_code == 200

    # The browser's own session cookie, without the form's CSRF token, changes nothing.
    session = d.get_cookie("moorage_session")["value"]  # type: ignore[attr-defined]
    forged = httpx.post(
        f"{web_registry.url}/repositories/{repository}/-/settings",
        data={"visibility": "public", "tag_mutability": "MUTABLE"},
        cookies={"moorage_session": session},
    )
    assert forged.status_code == 403
    with httpx.Client(base_url=f"{web_registry.url}/api/v1", auth=(ADMIN, ADMIN_PASSWORD)) as api:
        assert api.get(f"/repositories/{repository}").json()["visibility"] == "private"
