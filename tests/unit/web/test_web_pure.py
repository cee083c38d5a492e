"""The web UI's pure pieces: CSRF tokens and preview proofs, safe redirects, times, sizes, the SVG chart."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from moorage.web.chart import Point, step_chart
from moorage.web.pages import PageError
from moorage.web.render import human_size, short_digest
from moorage.web.sessions import csrf_token, csrf_valid, proof_of, proof_valid
from moorage.web.views.history import parse_moment
from moorage.web.views.session_views import safe_next


def test_a_csrf_token_is_valid_only_for_its_own_session() -> None:
    token = csrf_token("session-a")
    assert csrf_valid("session-a", token)
    assert not csrf_valid("session-b", token)
    assert not csrf_valid("session-a", None) and not csrf_valid(None, token) and not csrf_valid("session-a", "")


def test_a_preview_proof_binds_the_exact_policy_text_to_the_session() -> None:
    proof = proof_of("session-a", "lifecycle-previewed", '{"rules": []}')
    assert proof_valid("session-a", "lifecycle-previewed", '{"rules": []}', proof)
    assert not proof_valid("session-a", "lifecycle-previewed", '{"rules": [ ]}', proof)
    assert not proof_valid("session-b", "lifecycle-previewed", '{"rules": []}', proof)
    assert not proof_valid("session-a", "other-purpose", '{"rules": []}', proof)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/repositories?namespace=a", "/repositories?namespace=a"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("", "/"),
    ],
)
def test_only_local_paths_are_followed_after_signing_in(target: str, expected: str) -> None:
    assert safe_next(target) == expected


def test_a_moment_without_a_zone_is_utc_and_garbage_is_refused() -> None:
    assert parse_moment("2026-11-20T14:05") == datetime(2026, 11, 20, 14, 5, tzinfo=UTC)
    assert parse_moment("2026-11-20T15:05:00+01:00") == datetime(2026, 11, 20, 14, 5, tzinfo=UTC)
    assert parse_moment("") is None
    with pytest.raises(PageError):
        parse_moment("20 November")


def test_sizes_and_digests_read_like_podman_shows_them() -> None:
    assert human_size(999) == "999 B"
    assert human_size(1_500_000) == "1.5 MB"
    assert human_size(None) == "—"
    assert short_digest("sha256:" + "ab" * 32) == "sha256:abababababab"


def test_the_chart_is_markup_without_inline_style_or_script() -> None:
    chart = step_chart([Point(date(2026, 11, 1), 100), Point(date(2026, 11, 20), 3_000_000)], "usage <of> x")
    assert chart.startswith("<svg") and chart.count("<circle") == 2
    assert "style=" not in chart and "<script" not in chart
    assert "usage &lt;of&gt; x" in chart and "3.0 MB" in chart
    assert "No images yet" in step_chart([], "empty")
