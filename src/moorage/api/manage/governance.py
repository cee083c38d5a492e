"""What the governance routers share: the services, error mapping, and the list of routers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime

from fastapi import APIRouter, Request

from moorage.api.manage.policy_problems import invalid_policy
from moorage.api.manage.problems import Problem
from moorage.domain.errors import RegistryError
from moorage.governance.audit import utc
from moorage.governance.errors import GovernanceError
from moorage.governance.services import Governance
from moorage.lifecycle.policy import PolicyError

REPOSITORY = "/repositories/{name:path}"
"""Repository names contain slashes; sub-resources follow a `/-/` separator, which no name can contain."""


def governance(request: Request) -> Governance:
    found = request.app.state.governance
    assert isinstance(found, Governance)
    return found


@contextlib.contextmanager
def problems() -> Iterator[None]:
    """Service errors as problem details (registry errors keep their OCI code as `code`)."""
    try:
        yield
    except GovernanceError as error:
        raise Problem(error.status, error.title, str(error)) from None
    except PolicyError as error:
        raise invalid_policy(error) from None
    except RegistryError as error:
        status = error.status if error.status < 500 else 400
        raise Problem(status, error.code.wire_code, error.message, code=error.code.wire_code) from None


TEXT = r"^[^\x00-\x1f]*$"
"""Query strings are plain text: no NUL or other control characters (PostgreSQL refuses NUL in text)."""


def as_utc(moment: datetime | None) -> datetime | None:
    """Query times without a zone are taken as UTC; a time UTC cannot represent is a client error."""
    if moment is None:
        return None
    try:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else utc(moment)
    except OverflowError:
        raise Problem(422, "Invalid request", f"time {moment.isoformat()} is out of range") from None


def governance_routers() -> list[APIRouter]:
    """Routers in matching order: sub-resources of a repository before the repository itself."""
    from moorage.api.manage import audit, images, repositories, tag_rules, tags, templates, usage

    routers = [images.router, tags.router, usage.router, audit.router, templates.router, repositories.router]
    return [tag_rules.router, *routers]
