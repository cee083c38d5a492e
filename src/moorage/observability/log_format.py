"""How a log line is written: one JSON object per line for machines, or one readable line for people.

Both formatters take the request id (or job id) from the record, where `RequestIdFilter` put it,
and any structured fields a caller passed as `extra={"fields": {...}}` (the access log does).
Neither ever adds the process environment, headers or arguments beyond those fields, so a secret
reaches a line only if code writes it into a message, which the tests grep for.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from moorage.observability.request_context import job_id, request_id


class RequestIdFilter(logging.Filter):
    """Copies the current request id and job id onto every record (a handler filter, so every logger gets it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.job_id = job_id.get()
        return True


_last_second: tuple[int, str] = (-1, "")


def _timestamp(record: logging.LogRecord) -> str:
    """ISO 8601 in UTC with milliseconds; the part up to the second is formatted once a second."""
    global _last_second
    whole = int(record.created)
    cached_second, text = _last_second
    if whole != cached_second:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        _last_second = (whole, text)
    return f"{text}.{int(record.msecs):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, process, request_id and job_id when set,
    the structured fields, and the exception."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,  # which HTTP worker, with several
        }
        for key in ("request_id", "job_id"):
            value = getattr(record, key, None)
            if value is not None:
                document[key] = value
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            document.update(fields)
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`2026-12-05T10:00:00.123Z INFO moorage [req 3f2a…] message key=value…` for a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_timestamp(record), f"{record.levelname:<7}", record.name]
        marker = getattr(record, "request_id", None) or getattr(record, "job_id", None)
        if marker is not None:
            parts.append(f"[{marker}]")
        parts.append(_printable(record.getMessage()))
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _printable(text: str) -> str:
    """A line a terminal shows as one line: control characters (a forged newline) escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
