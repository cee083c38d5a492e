"""The access log's direct path writes the line `logging` would have written, and steps aside
whenever logging is configured in a way it does not know."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from moorage.observability import access_log
from moorage.observability.logging_setup import configure_logging
from moorage.observability.request_context import request_id

RECORD = access_log.AccessRecord(
    request_id="req-7",
    remote="192.0.2.4",
    identity="user:alice",
    method="GET",
    path="/v2/team/app/manifests/1",
    query=b"n=10&password=hunter2",
    status=200,
    bytes_in=0,
    bytes_out=512,
    duration=0.00123,
)


@pytest.fixture
def stderr() -> Iterator[io.StringIO]:
    """Where `configured` points the server's log stream (a buffer instead of the real stderr)."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    yield io.StringIO()
    root.handlers[:], root.level = saved


def configured(buffer: io.StringIO, log_format: str, access: bool = True) -> None:
    """The server's logging set-up, writing to `buffer`."""
    configure_logging(log_format, "info", access)  # type: ignore[arg-type]
    [handler] = logging.getLogger().handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)


def through_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access_log, "_direct_handler", lambda: None)


def written(buffer: io.StringIO) -> list[str]:
    return [line for line in buffer.getvalue().splitlines() if line]


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_the_direct_line_is_the_line_logging_writes(
    stderr: io.StringIO, monkeypatch: pytest.MonkeyPatch, log_format: str
) -> None:
    configured(stderr, log_format)
    assert access_log._direct_handler() is not None
    token = request_id.set(RECORD.request_id)  # the middleware sets it while the request runs
    try:
        access_log.write(RECORD)
        through_logging(monkeypatch)
        access_log.write(RECORD)
    finally:
        request_id.reset(token)
    direct, logged = written(stderr)
    if log_format == "json":
        direct_document, logged_document = json.loads(direct), json.loads(logged)
        assert direct_document.pop("time")[:4] == logged_document.pop("time")[:4]
        assert direct_document == logged_document
        target = "/v2/team/app/manifests/1?n=10&password=…"
        assert direct_document["request_id"] == "req-7" and direct_document["path"] == target
        assert direct_document["message"] == f'192.0.2.4 user:alice "GET {target}" 200 512B 1.2ms'
    else:
        assert direct.split(" ", 1)[1] == logged.split(" ", 1)[1]
        assert "[req-7]" in direct
    assert "hunter2" not in stderr.getvalue()


def test_a_handler_of_someone_elses_gets_the_record_through_logging(stderr: io.StringIO) -> None:
    configured(stderr, "json")
    seen: list[logging.LogRecord] = []

    class Collecting(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    logging.getLogger().addHandler(Collecting())
    assert access_log._direct_handler() is None
    access_log.write(RECORD)
    assert [record.getMessage() for record in seen] == [json.loads(written(stderr)[0])["message"]]
    assert seen[0].fields["status"] == 200  # type: ignore[attr-defined]


def test_a_broken_log_stream_does_not_fail_the_request(stderr: io.StringIO, monkeypatch: pytest.MonkeyPatch) -> None:
    """A log collector that went away (EPIPE) is `logging`'s to report, never an error of the request."""
    configured(stderr, "json")

    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError("the reader went away")

    [handler] = logging.getLogger().handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(Broken())
    reported: list[logging.LogRecord] = []
    monkeypatch.setattr(handler, "handleError", reported.append)
    access_log.write(RECORD)  # raises nothing
    assert [record.name for record in reported] == ["moorage.access"]
