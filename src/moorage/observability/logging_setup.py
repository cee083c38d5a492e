"""Where logging is configured for every process `moorage serve` runs: the supervisor, the start-up
child and each HTTP worker.

The HTTP server (granian) configures logging itself in each worker with a `dictConfig`; handing it
`logging_config()` makes its own lines (start, stop, respawns) and ours share one format. JSON is
the default when stderr is not a terminal (a service manager or container runtime collects it),
readable lines when it is; the `log_format` setting forces either.
"""

from __future__ import annotations

import logging.config
import sys
from typing import Any, Literal

LogFormat = Literal["auto", "json", "text"]

_FORMATTERS = {
    "json": "moorage.observability.log_format.JsonFormatter",
    "text": "moorage.observability.log_format.TextFormatter",
}


def resolved_format(chosen: LogFormat) -> Literal["json", "text"]:
    if chosen != "auto":
        return chosen
    return "text" if sys.stderr.isatty() else "json"


def logging_config(chosen: LogFormat = "auto", level: str = "info", access_log: bool = True) -> dict[str, Any]:
    """A `logging.config.dictConfig` document: one stderr handler with the request-id filter."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "moorage.observability.log_format.RequestIdFilter"}},
        "formatters": {"moorage": {"()": _FORMATTERS[resolved_format(chosen)]}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "moorage",
                "filters": ["request_id"],
            }
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            # granian's own logger and access log: ours replaces the latter (it is switched off).
            "_granian": {"level": level.upper(), "handlers": [], "propagate": True},
            "granian.access": {"level": "WARNING", "handlers": [], "propagate": True},
            "moorage.access": {"level": "INFO" if access_log else "WARNING", "propagate": True},
            "alembic": {"level": "WARNING"},
            # httpx logs every request line at INFO, with any user:password@ of the URL.
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
        },
    }


def configure_logging(chosen: LogFormat = "auto", level: str = "info", access_log: bool = True) -> None:
    logging.config.dictConfig(logging_config(chosen, level, access_log))
    logging.captureWarnings(True)  # a library's warning becomes a line in the same format, not raw stderr
    skip_caller_lookup()


def skip_caller_lookup() -> None:
    """No line shows the caller's file, function or thread: skip finding them for every record.

    The logging HOWTO's "Optimization" section: with `logging._srcfile` None no stack frame is
    inspected per record; about a fifth of the cost of one access-log line.
    """
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False
