"""Back-off between attempts, and which subscriptions hear a repository."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from moorage.events.retry import RetryPolicy
from moorage.events.scopes import hears, permission_pattern, scopes_of

MOMENT = datetime(2026, 12, 1, tzinfo=UTC)


def test_waits_double_after_each_failure_up_to_the_cap_then_the_delivery_fails() -> None:
    policy = RetryPolicy(max_attempts=5, base=10, cap=60)
    assert [policy.delay(n) for n in range(1, 6)] == [10, 20, 40, 60, 60]
    assert policy.outcome(False, 1, MOMENT) == {"next_attempt_at": MOMENT + timedelta(seconds=10)}
    assert policy.outcome(False, 5, MOMENT) == {"state": "failed", "finished_at": MOMENT}
    assert policy.outcome(True, 5, MOMENT) == {"state": "delivered", "finished_at": MOMENT}
    assert RetryPolicy(50, 10, 3600).delay(50) == 3600


def test_a_namespace_hears_its_repositories_not_its_look_alikes() -> None:
    assert scopes_of("team/tools/cli") == ["team/tools/cli", "team", "team/tools", "*"]
    assert hears("namespace", "team", "team/app") and hears("namespace", "team", "team/tools/cli")
    assert not hears("namespace", "team", "teamwork/app") and not hears("namespace", "team/app", "team/app")
    assert hears("repository", "team/app", "team/app") and not hears("repository", "team", "team/app")
    assert hears("registry", "*", "anything/at/all")


def test_who_manages_a_subscription() -> None:
    assert permission_pattern("namespace", "team") == "team/*"
    assert permission_pattern("repository", "team/app") == "team/app"
    assert permission_pattern("registry", "*") == "*"
