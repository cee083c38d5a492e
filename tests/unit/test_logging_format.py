"""Log lines, request ids, the access log's query filter and route templates (pure parts)."""

from __future__ import annotations

import json
import logging

import pytest

from moorage.observability.access_log import loggable_query
from moorage.observability.log_format import JsonFormatter, RequestIdFilter, TextFormatter
from moorage.observability.request_context import bound_job, choose_request_id, request_id
from moorage.observability.routes import registry_route


def record(message: str, *args: object) -> logging.LogRecord:
    made = logging.LogRecord("moorage.test", logging.WARNING, __file__, 1, message, args, None)
    RequestIdFilter().filter(made)
    return made


def test_a_json_line_carries_the_request_id_of_its_context() -> None:
    token = request_id.set("req-1")
    try:
        line = json.loads(JsonFormatter().format(record("pushed %s", "team/app")))
    finally:
        request_id.reset(token)
    assert line["request_id"] == "req-1" and line["message"] == "pushed team/app" and line["level"] == "warning"
    assert "request_id" not in json.loads(JsonFormatter().format(record("outside a request")))


def test_a_background_job_marks_its_lines_with_its_id() -> None:
    with bound_job("gc-7"):
        line = json.loads(JsonFormatter().format(record("sweeping")))
    assert line["job_id"] == "gc-7" and "request_id" not in line


def test_a_text_line_cannot_be_split_into_a_forged_second_line() -> None:
    text = TextFormatter().format(record("user %s", "x\n2026-01-01T00:00:00Z ERROR forged"))
    assert "\n" not in text and "\\n" in text


@pytest.mark.parametrize("incoming", ["abc-123", "0f" * 16, "req.1:part_2"])
def test_a_sane_incoming_request_id_is_kept(incoming: str) -> None:
    assert choose_request_id(incoming) == incoming


@pytest.mark.parametrize("incoming", [None, "", "a b", "x" * 65, "-leading", "id\r\nX-Evil: 1", "é"])
def test_anything_else_gets_a_new_id(incoming: str | None) -> None:
    chosen = choose_request_id(incoming)
    assert chosen != incoming and len(chosen) == 16 and chosen.isalnum()


def test_only_harmless_query_parameters_keep_their_values() -> None:
    logged = loggable_query(b"service=moorage&scope=repository:a/b:pull&password=hunter2&code=abc&refresh_token=r")
    assert "service=moorage" in logged and "scope=repository:a/b:pull" in logged
    assert "hunter2" not in logged and "abc" not in logged
    assert "password=…" in logged and "code=…" in logged and logged.endswith("refresh_token=…")


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/v2/", "/v2/"),
        ("/v2/_catalog", "/v2/_catalog"),
        ("/v2/a/b/c/tags/list", "/v2/{name}/tags/list"),
        ("/v2/a/blobs/uploads/", "/v2/{name}/blobs/uploads/"),
        ("/v2/a/blobs/uploads", "/v2/{name}/blobs/uploads/"),
        ("/v2/team/blobs/blobs/sha256:00", "/v2/{name}/blobs/{digest}"),
        ("/v2/team/manifests/b/blobs/uploads/u-1", "/v2/{name}/blobs/uploads/{reference}"),
        ("/v2/a/blobs/uploads/0e99-41", "/v2/{name}/blobs/uploads/{reference}"),
        ("/v2/a/blobs/sha256:00", "/v2/{name}/blobs/{digest}"),
        ("/v2/blobs/manifests/latest", "/v2/{name}/manifests/{reference}"),
        ("/v2/a/referrers/sha256:00", "/v2/{name}/referrers/{digest}"),
        ("/v2/whatever", "/v2/unmatched"),
    ],
)
def test_registry_paths_become_bounded_route_templates(path: str, template: str) -> None:
    assert registry_route(path) == template
