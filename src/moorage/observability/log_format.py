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
from dataclasses import dataclass
from typing import Any

from moorage.observability.request_context import job_id, request_id


class RequestIdFilter(logging.Filter):
    """Copies the current request id and job id onto every record (a handler filter, so every logger gets it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.job_id = job_id.get()
        return True


_last_second: tuple[int, str] = (-1, "")


def _timestamp(created: float) -> str:
    """ISO 8601 in UTC with milliseconds; the part up to the second is formatted once a second."""
    global _last_second
    whole = int(created)
    cached_second, text = _last_second
    if whole != cached_second:
        text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
        _last_second = (whole, text)
    return f"{text}.{int((created - whole) * 1000):03d}Z"


@dataclass(slots=True)
class Line:
    """What one log line says, whether it came from a `LogRecord` or from the access log's direct path."""

    created: float
    level: str
    logger: str
    message: str
    process: int | None
    request_id: str | None = None
    job_id: str | None = None
    fields: dict[str, Any] | None = None


def _line_of(record: logging.LogRecord) -> Line:
    fields = getattr(record, "fields", None)
    return Line(
        record.created,
        record.levelname,
        record.name,
        record.getMessage(),
        record.process,
        getattr(record, "request_id", None),
        getattr(record, "job_id", None),
        fields if isinstance(fields, dict) else None,
    )


class MoorageFormatter(logging.Formatter):
    """A formatter that can also write a `Line` built without a `LogRecord` (see `access_log`)."""

    def format(self, record: logging.LogRecord) -> str:
        exception = self.formatException(record.exc_info) if record.exc_info else None
        return self.compose(_line_of(record), exception)

    def compose(self, line: Line, exception: str | None = None) -> str:
        raise NotImplementedError


_ENCODE = json.JSONEncoder(ensure_ascii=False, default=str).encode
"""One encoder for every line: `json.dumps` with options builds a new one per call."""


class JsonFormatter(MoorageFormatter):
    """One JSON object per line: time, level, logger, message, process, request_id and job_id when set,
    the structured fields, and the exception."""

    def compose(self, line: Line, exception: str | None = None) -> str:
        document: dict[str, Any] = {
            "time": _timestamp(line.created),
            "level": line.level.lower(),
            "logger": line.logger,
            "message": line.message,
            "process": line.process,  # which HTTP worker, with several
        }
        if line.request_id is not None:
            document["request_id"] = line.request_id
        if line.job_id is not None:
            document["job_id"] = line.job_id
        if line.fields:
            document.update(line.fields)
        if exception is not None:
            document["exception"] = exception
        return _ENCODE(document)


class TextFormatter(MoorageFormatter):
    """`2026-12-05T10:00:00.123Z INFO moorage [req 3f2a…] message key=value…` for a terminal."""

    def compose(self, line: Line, exception: str | None = None) -> str:
        parts = [_timestamp(line.created), f"{line.level:<7}", line.logger]
        marker = line.request_id or line.job_id
        if marker is not None:
            parts.append(f"[{marker}]")
        parts.append(_printable(line.message))
        text = " ".join(parts)
        if exception is not None:
            text += "\n" + exception
        return text


def _printable(text: str) -> str:
    """A line a terminal shows as one line: control characters (a forged newline) escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
