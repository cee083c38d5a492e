"""Starting the HTTP server: checks and preparation once (in a child), then the supervisor.

`moorage serve` runs this in the command line's process, which then replaces itself with the slim
`moorage.supervisor` (exec): the checks may import what they need, the server keeps none of it.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys

from moorage.config import Settings, is_loopback
from moorage.data_dir import restrict_new_files
from moorage.events.trust import receivers_trust
from moorage.handover import RESOLVED_SETTINGS_VARIABLE
from moorage.observability.logging_setup import configure_logging
from moorage.tls import announce, check_tls_files

log = logging.getLogger("moorage")


class AddressInUse(SystemExit):
    """Another process listens on the address; granian would share it silently (SO_REUSEPORT)."""


def ensure_address_free(host: str, port: int) -> None:
    """Refuse to start beside another server: a bind without SO_REUSEPORT fails if anyone listens there.

    SO_REUSEADDR, as the server itself sets, lets the bind through when the port only holds
    connections of a crashed predecessor (TIME_WAIT, or FIN_WAIT_2 while a client keeps its
    keep-alive connection open), so a restart after a crash works at once.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise AddressInUse(f"moorage: cannot listen on {host}:{port}: {error.strerror}") from None


class UnsafeBind(SystemExit):
    """Listening beyond loopback without authentication was not explicitly allowed."""


def check_bind_safety(settings: Settings) -> None:
    """Refuse an open registry on the network unless explicitly allowed, and then say so loudly."""
    if settings.auth_is_enabled() or is_loopback(settings.host):
        return
    if not settings.allow_unauthenticated_network:
        raise UnsafeBind(
            f"moorage: refusing to listen on {settings.host} without authentication; enable it "
            "(auth_enabled=true) or set allow_unauthenticated_network=true to serve anyone"
        )
    log.warning(
        "AUTHENTICATION IS OFF on %s: anyone who can reach this address may push, pull and delete", settings.host
    )


class StartupFailed(SystemExit):
    """Migrations or authentication set-up failed; the child process said why."""


def prepare_in_child(settings: Settings) -> None:
    """Run moorage.startup in a child process that hands its memory back when it exits."""
    environment = {**os.environ, RESOLVED_SETTINGS_VARIABLE: settings.model_dump_json()}
    result = subprocess.run([sys.executable, "-m", "moorage.startup"], env=environment, check=False)
    if result.returncode != 0:
        raise StartupFailed(f"moorage: start-up preparation failed (exit status {result.returncode})")


def check_webhook_ca_file(settings: Settings) -> None:
    """A CA file that cannot be loaded stops the start, instead of failing every delivery later."""
    try:
        receivers_trust(settings.webhook_ca_file)
    except ValueError as error:
        raise SystemExit(f"moorage: {error}") from None


def warn_about_clear_text_credentials(settings: Settings) -> None:
    """Credentials sent over plain HTTP beyond this machine can be read on the way: say so at start."""
    behind_https_proxy = (settings.external_url or "").startswith("https://")
    if is_loopback(settings.host) or settings.serves_tls() or behind_https_proxy or not settings.auth_is_enabled():
        return
    log.warning(
        "serving plain HTTP on %s with authentication on: passwords and tokens cross the network "
        "unencrypted; set tls_cert_file and tls_key_file (or external_url https://… behind a TLS proxy)",
        settings.host,
    )


def run(settings: Settings) -> None:
    """Check everything that can be checked, prepare the stores, then become the supervisor."""
    configure_logging(settings.log_format, settings.log_level, settings.access_log)
    restrict_new_files()  # inherited by the start-up child and, through exec, by every worker
    certificate = check_tls_files(settings.tls_cert_file, settings.tls_key_file)
    check_bind_safety(settings)
    check_webhook_ca_file(settings)
    warn_about_clear_text_credentials(settings)
    ensure_address_free(settings.host, settings.port)
    prepare_in_child(settings)
    scheme = "https" if certificate is not None else "http"
    log.info("moorage listening on %s://%s:%d (data in %s)", scheme, settings.host, settings.port, settings.data_dir)
    if certificate is not None and settings.tls_cert_file is not None:
        announce(certificate, settings.tls_cert_file)
    become_supervisor(settings)


def become_supervisor(settings: Settings) -> None:
    """Replace this process (the command line, ~25 MB of typer, rich and httpx) with `moorage.supervisor`.

    exec keeps the process id, so the signals of a service manager or of Ctrl-C reach the server.
    The first admin's password was only for the start-up child: it stays out of the environment of
    the long-lived processes, which `/proc/<pid>/environ` shows to the same user.
    """
    resolved = settings.model_dump(mode="json", exclude={"admin_password"})
    environment = {**os.environ, RESOLVED_SETTINGS_VARIABLE: json.dumps(resolved)}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "moorage.supervisor"], environment)
