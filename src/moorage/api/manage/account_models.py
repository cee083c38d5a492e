"""Request and response bodies of the account endpoints, and how service errors become problems."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from moorage.api.manage.problems import Problem
from moorage.auth.access_tokens import Conflict, NotFound
from moorage.auth.accounts import InvalidName
from moorage.auth.grants import Grant, expand_actions, validate_pattern
from moorage.auth.lifetimes import LifetimeCap
from moorage.auth.passwords import WeakPassword
from moorage.auth.robots import OutsideNamespace
from moorage.domain.access import Action

ScopeName = Literal["pull", "push", "delete", "admin"]
DEFAULT_DAYS = 90.0
"""The lifetime of an access token or robot whose request names none."""


@contextlib.contextmanager
def service_errors() -> Iterator[None]:
    """Service exceptions as problem details: 404, 409, or 400 for invalid input."""
    try:
        yield
    except NotFound as error:
        raise Problem(404, "Not found", str(error)) from None
    except Conflict as error:
        raise Problem(409, "Conflict", str(error)) from None
    except (InvalidName, WeakPassword, OutsideNamespace, ValueError) as error:
        raise Problem(400, "Invalid request", str(error)) from None


class ScopedCredentialRequest(BaseModel):
    """What a scoped credential (access token, robot) may do, and for how long."""

    scopes: list[ScopeName] = Field(description="pull, push, delete, admin (push and delete imply pull).")
    repositories: list[str] = Field(
        ["*"], description="Repository patterns the scopes apply to: NAME, NAMESPACE/* or *."
    )
    expires_in_days: float | None = Field(
        DEFAULT_DAYS,
        gt=0,
        le=3650,
        description="Lifetime in days (default 90, or the registry's cap if shorter); null: never expires, "
        "refused unless the registry allows it (allow_non_expiring_credentials).",
    )

    def grants(self) -> tuple[Grant, ...]:
        if not self.scopes:
            raise ValueError("at least one scope is required")
        actions = expand_actions(Action(scope) for scope in self.scopes)
        return tuple(Grant(validate_pattern(pattern), actions) for pattern in self.repositories)

    def expires_at(self, cap: LifetimeCap | None = None) -> datetime | None:
        """When the credential expires; without `expires_in_days`, the default shortened to `cap`."""
        days = self.expires_in_days
        if "expires_in_days" not in self.model_fields_set and cap is not None:
            days = cap.default_days(DEFAULT_DAYS)
        if days is None:
            return None
        return datetime.now(UTC) + timedelta(days=days)


class GrantOut(BaseModel):
    repository_pattern: str
    actions: list[str]

    @classmethod
    def of(cls, grant: Grant) -> GrantOut:
        return cls(repository_pattern=grant.repository_pattern, actions=sorted(grant.actions))
