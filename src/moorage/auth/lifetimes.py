"""The admin's caps on credential lifetimes: how long an access token or robot secret may live.

A request beyond a cap is refused (400, naming the limit and its setting), never silently
shortened: a client that asked for a year and got a day would find out only when CI breaks.
Login passwords are capped by `SignedCredentials` itself (`login_password_max_hours`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from moorage.metadata.common import now

_SLACK = timedelta(minutes=1)
"""Tolerance for the time between a request computing its expiry and the check (a request for
exactly the cap must pass)."""


class LifetimeRefused(ValueError):
    """A credential lifetime beyond what the registry's policy allows (the message names the limit)."""


@dataclass(frozen=True)
class LifetimeCap:
    """The longest lifetime of one kind of credential, and whether it may never expire."""

    kind: str
    """How the credential is named in messages ("access token", "robot secret")."""
    max_days: float
    setting: str
    """The setting that sets `max_days`, named in the refusal."""
    allow_non_expiring: bool = False

    def default_days(self, wanted: float) -> float:
        """The lifetime used when the request names none: `wanted`, or the cap if that is shorter."""
        return min(wanted, self.max_days)

    def check(self, expires_at: datetime | None) -> None:
        """Raise `LifetimeRefused` unless a credential expiring at `expires_at` (None: never) is allowed."""
        if expires_at is None:
            if not self.allow_non_expiring:
                raise LifetimeRefused(
                    f"{self.kind}s must expire: this registry does not allow credentials that never expire "
                    f"(allow_non_expiring_credentials); ask for at most {self.max_days:g} days"
                )
            return
        if expires_at - now() > timedelta(days=self.max_days) + _SLACK:
            raise LifetimeRefused(
                f"{self.kind}s may live at most {self.max_days:g} days ({self.setting}); ask for less"
            )
