"""Authentication defaults: on beyond loopback, and an open registry on the network only when asked for."""

from __future__ import annotations

import logging

import pytest

from moorage.config import Settings
from moorage.serve import UnsafeBind, check_bind_safety


@pytest.mark.parametrize(
    ("host", "enabled"),
    [
        ("127.0.0.1", False),
        ("::1", False),
        ("localhost", False),
        ("0.0.0.0", True),
        ("10.1.2.3", True),
        ("registry.internal", True),
    ],
)
def test_authentication_is_on_by_default_exactly_when_reachable_from_elsewhere(host: str, enabled: bool) -> None:
    assert Settings(host=host).auth_is_enabled() is enabled


def test_an_explicit_setting_wins() -> None:
    assert Settings(host="127.0.0.1", auth_enabled=True).auth_is_enabled()
    assert not Settings(host="0.0.0.0", auth_enabled=False).auth_is_enabled()


def test_no_authentication_on_the_network_is_refused_unless_allowed(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(UnsafeBind, match="refusing to listen on 0.0.0.0 without authentication"):
        check_bind_safety(Settings(host="0.0.0.0", auth_enabled=False))
    with caplog.at_level(logging.WARNING):
        check_bind_safety(Settings(host="0.0.0.0", auth_enabled=False, allow_unauthenticated_network=True))
    assert "AUTHENTICATION IS OFF" in caplog.text


def test_config_show_masks_the_admin_password() -> None:
    assert Settings(admin_password="s3cret-value").masked()["admin_password"] == "***"
