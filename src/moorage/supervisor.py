"""The long-lived process of `moorage serve`: the HTTP server and its workers, nothing else.

`moorage serve` resolves and checks the settings and prepares the stores (`moorage.serve`), then
replaces itself with `python -m moorage.supervisor` (exec: the process id stays, so a service
manager's signals reach it). granian forks its workers from this process, and whatever it holds is
resident in it and again in every worker; so it imports neither the command line (typer, rich,
httpx) nor the settings model (pydantic) nor any application code: it reads the few settings it
needs from the JSON `moorage serve` resolved and validated.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from moorage.data_dir import restrict_new_files
from moorage.handover import RESOLVED_SETTINGS_VARIABLE
from moorage.observability import MULTIPROCESS_DIRECTORY_VARIABLE
from moorage.observability.logging_setup import LogFormat, configure_logging, logging_config
from moorage.observability.metrics_directory import metrics_directory
from moorage.tls import TlsConfigurationError, announce, check_tls_files

log = logging.getLogger("moorage")


@dataclass(frozen=True)
class ServingSettings:
    """The settings the supervisor acts on; each field is the `Settings` field of the same name."""

    host: str
    port: int
    server: Literal["granian", "uvicorn"]
    workers: int
    shutdown_timeout_seconds: int
    log_format: LogFormat
    log_level: str
    access_log: bool
    tls_cert_file: Path | None
    tls_key_file: Path | None

    @classmethod
    def from_resolved(cls, resolved: dict[str, Any]) -> ServingSettings:
        """From `Settings.model_dump(mode="json")`; already validated, so only the paths are converted."""
        cert, key = resolved["tls_cert_file"], resolved["tls_key_file"]
        return cls(
            host=resolved["host"],
            port=resolved["port"],
            server=resolved["server"],
            workers=resolved["workers"],
            shutdown_timeout_seconds=resolved["shutdown_timeout_seconds"],
            log_format=resolved["log_format"],
            log_level=resolved["log_level"],
            access_log=resolved["access_log"],
            tls_cert_file=Path(cert) if cert is not None else None,
            tls_key_file=Path(key) if key is not None else None,
        )


def main() -> None:
    resolved = os.environ.get(RESOLVED_SETTINGS_VARIABLE)
    if not resolved:
        sys.exit("moorage.supervisor is started by `moorage serve`, which resolves the settings first")
    settings = ServingSettings.from_resolved(json.loads(resolved))
    configure_logging(settings.log_format, settings.log_level, settings.access_log)
    restrict_new_files()  # inherited by every worker: data files are owner-only
    # Every worker writes its request metrics here and /metrics sums them (observability.metrics_endpoint).
    with metrics_directory() as directory:
        os.environ[MULTIPROCESS_DIRECTORY_VARIABLE] = directory
        if settings.server == "uvicorn":
            _run_uvicorn(settings)
        else:
            _run_granian(settings)


def _run_uvicorn(settings: ServingSettings) -> None:
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


def _run_granian(settings: ServingSettings) -> None:
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


if __name__ == "__main__":
    main()
