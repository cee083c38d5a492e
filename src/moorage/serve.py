"""Starting the HTTP server: preparation once (in a child), then the chosen server with its workers.

This module is imported by the long-lived supervisor process, so it imports no application code.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys

from moorage.config import RESOLVED_SETTINGS_VARIABLE, Settings, is_loopback
from moorage.data_dir import restrict_new_files
from moorage.events.trust import receivers_trust
from moorage.observability import MULTIPROCESS_DIRECTORY_VARIABLE
from moorage.observability.logging_setup import configure_logging, logging_config
from moorage.observability.metrics_directory import metrics_directory
from moorage.tls import TlsConfigurationError, announce, check_tls_files

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
    configure_logging(settings.log_format, settings.log_level, settings.access_log)
    restrict_new_files()  # inherited by the start-up child and every worker: data files are owner-only
    certificate = check_tls_files(settings.tls_cert_file, settings.tls_key_file)
    check_bind_safety(settings)
    check_webhook_ca_file(settings)
    warn_about_clear_text_credentials(settings)
    ensure_address_free(settings.host, settings.port)
    prepare_in_child(settings)
    resolved = settings.model_dump(mode="json", exclude={"admin_password"})
    os.environ[RESOLVED_SETTINGS_VARIABLE] = json.dumps(resolved)
    scheme = "https" if certificate is not None else "http"
    log.info("moorage listening on %s://%s:%d (data in %s)", scheme, settings.host, settings.port, settings.data_dir)
    if certificate is not None and settings.tls_cert_file is not None:
        announce(certificate, settings.tls_cert_file)
    # Every worker writes its request metrics here and /metrics sums them (observability.metrics_endpoint).
    with metrics_directory() as directory:
        os.environ[MULTIPROCESS_DIRECTORY_VARIABLE] = directory
        if settings.server == "uvicorn":
            _run_uvicorn(settings)
        else:
            _run_granian(settings)


def _run_uvicorn(settings: Settings) -> None:
    import uvicorn

    uvicorn.run(
        "moorage.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        log_config=logging_config(settings.log_format, settings.log_level, settings.access_log),
        access_log=False,
        # Forwarded headers are believed only from `trusted_proxies` (moorage.app), never by default.
        proxy_headers=False,
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
        # uvicorn loads these in each worker; its supervisor (--workers 2 or more) replaces the
        # workers one by one on SIGHUP, which picks up a renewed certificate.
        ssl_certfile=str(settings.tls_cert_file) if settings.tls_cert_file else None,
        ssl_keyfile=str(settings.tls_key_file) if settings.tls_key_file else None,
    )


def _run_granian(settings: Settings) -> None:
    from granian.constants import Interfaces, Loops, SSLProtocols
    from granian.log import LogLevels
    from granian.server import MPServer

    class Server(MPServer):
        """granian's server, checking a renewed certificate before SIGHUP replaces the workers.

        On SIGHUP granian starts a new worker, then stops the old one gracefully (it finishes the
        requests in progress, however long, while the new one accepts connections); workers read
        the certificate files when they start. A certificate that would not load is refused here,
        so a bad renewal leaves the server on its previous certificate instead of crash-looping.
        """

        def signal_handler_reload(self, *args: object, **kwargs: object) -> None:
            if settings.tls_cert_file is not None and settings.tls_key_file is not None:
                try:
                    certificate = check_tls_files(settings.tls_cert_file, settings.tls_key_file)
                except TlsConfigurationError as error:
                    log.error("SIGHUP: %s; still serving the previous certificate", error.code)
                    return
                assert certificate is not None
                announce(certificate, settings.tls_cert_file)
                # Resolve the paths again: a renewal often re-points a symlink (certbot's live/).
                self.build_ssl_context(
                    settings.tls_cert_file, settings.tls_key_file, None, SSLProtocols.tls12, None, [], False
                )
            super().signal_handler_reload(*args, **kwargs)  # type: ignore[no-untyped-call]

        def shutdown(self, exit_code: int = 0) -> None:
            """Stop gracefully, but for `shutdown_timeout_seconds` at most: then the workers are killed.

            Without a limit a stop could wait forever: a worker still starting when SIGTERM came
            never saw it and kept running (seen: granian waited 20 s and more). Only a stop is
            bounded; a SIGHUP reload still lets the old workers finish every request in progress.
            """
            self.workers_kill_timeout = settings.shutdown_timeout_seconds
            super().shutdown(exit_code)  # type: ignore[no-untyped-call]

    tls: dict[str, object] = {}
    if settings.tls_cert_file is not None and settings.tls_key_file is not None:
        # TLS 1.2 and 1.3 (Mozilla's "intermediate"): every container client in use speaks 1.2.
        tls = {
            "ssl_cert": settings.tls_cert_file,
            "ssl_key": settings.tls_key_file,
            "ssl_protocol_min": SSLProtocols.tls12,
        }
    Server(
        "moorage.app:create_app",
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.workers,
        loop=Loops.uvloop,
        factory=True,
        log_access=False,
        log_level=LogLevels(settings.log_level),
        log_dictconfig=logging_config(settings.log_format, settings.log_level, settings.access_log),
        # A worker that dies (kill -9, out of memory) is replaced; one that dies again within
        # granian's crash-loop window (about 5 s) stops the server with exit status 1 instead,
        # so a supervisor (systemd Restart=on-failure, a container's restart policy) takes over.
        respawn_failed_workers=True,
        **tls,  # type: ignore[arg-type]
    ).serve()
