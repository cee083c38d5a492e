"""Which repositories a /v2/ request may read, as the handlers hand it to the services."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from moorage.api.v2.context import readable_of
from moorage.domain.access import Actor


def request_with(**scope: Any) -> Request:
    return Request({"type": "http", "method": "POST", "path": "/v2/a/blobs/uploads/", "headers": [], **scope})


def test_without_authentication_every_repository_is_readable() -> None:
    assert readable_of(request_with()) is None


def test_the_guards_predicate_is_passed_on() -> None:
    readable = readable_of(request_with(**{"moorage.actor": Actor("user", "bob"), "moorage.readable": "bob/".__eq__}))
    assert readable is not None
    assert readable("bob/") and not readable("alice/private")


def test_a_guarded_request_without_a_predicate_reads_nothing() -> None:
    """Fail closed: a guard that forgot the predicate must not turn into 'everything is readable'."""
    readable = readable_of(request_with(**{"moorage.actor": Actor("user", "bob")}))
    assert readable is not None and not readable("bob/app")
