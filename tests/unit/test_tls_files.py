"""The certificate and key checks `moorage serve` makes before serving HTTPS and before a reload."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from moorage.tls import TlsConfigurationError, check_tls_files
from tests.support.pki import PrivateCA


def self_signed(directory: Path, serial: int = 77) -> tuple[Path, Path]:
    """A server certificate (issued by a throwaway CA) and its key file, mode 0600."""
    cert, key = directory / f"{serial}.crt", directory / f"{serial}.key"
    PrivateCA.create().issue(serial, cert, key)
    return cert, key


def test_a_matching_pair_is_described_by_subject_and_serial(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    served = check_tls_files(cert, key)
    assert served is not None and served.serial == 77 and served.subject == "CN=127.0.0.1"


def test_no_files_means_plain_http_and_half_a_pair_is_refused(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    assert check_tls_files(None, None) is None
    with pytest.raises(TlsConfigurationError, match="both"):
        check_tls_files(cert, None)
    with pytest.raises(TlsConfigurationError, match="both"):
        check_tls_files(None, key)


def test_a_key_other_users_may_read_is_refused_like_ssh_does(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    key.chmod(0o644)
    with pytest.raises(TlsConfigurationError, match=r"accessible to other users \(mode 0644\)"):
        check_tls_files(cert, key)


def test_a_group_readable_key_is_served_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cert, key = self_signed(tmp_path)
    key.chmod(0o640)
    assert check_tls_files(cert, key) is not None
    assert "readable by its group" in caplog.text


def test_a_certificate_and_a_key_that_are_not_a_pair_are_refused_without_showing_the_key(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path, 1)
    _, other_key = self_signed(tmp_path, 2)
    with pytest.raises(TlsConfigurationError) as refused:
        check_tls_files(cert, other_key)
    message = str(refused.value.code)
    assert "cannot use the TLS certificate" in message and "PRIVATE KEY" not in message


def test_serve_refuses_to_start_with_an_unprotected_key(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    key.chmod(0o604)
    command = [sys.executable, "-m", "moorage", "serve", "--port", "0", "--data-dir", str(tmp_path / "data")]
    result = subprocess.run(
        [*command, "--tls-cert", str(cert), "--tls-key", str(key)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "accessible to other users" in result.stderr
    assert not (tmp_path / "data").exists()  # refused before anything was prepared


@pytest.mark.parametrize(
    ("settings", "warned"),
    [
        ({"host": "0.0.0.0"}, True),
        ({"host": "0.0.0.0", "tls_cert_file": "c.pem", "tls_key_file": "k.pem"}, False),
        ({"host": "0.0.0.0", "external_url": "https://registry.example.com"}, False),
        ({"host": "127.0.0.1", "auth_enabled": True}, False),
        ({"host": "0.0.0.0", "auth_enabled": False, "allow_unauthenticated_network": True}, False),
    ],
)
def test_credentials_over_plain_http_beyond_loopback_draw_a_warning(
    settings: dict[str, object], warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    from moorage.config import Settings
    from moorage.serve import warn_about_clear_text_credentials

    with caplog.at_level(logging.WARNING):
        warn_about_clear_text_credentials(Settings(**settings))  # type: ignore[arg-type]
    assert ("unencrypted" in caplog.text) is warned
    assert Settings(**settings).serves_tls() is ("tls_cert_file" in settings)  # type: ignore[arg-type]
