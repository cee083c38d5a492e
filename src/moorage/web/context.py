"""What every page needs: the services it calls, and who is looking (a `Viewer`).

The UI holds no state of its own and reaches storage and tables only through services, exactly as
the management API does: a change made here goes through the same permission checks and lands in
the same audit log as one made with `curl` or the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from moorage.auth.grants import Principal, allowed_actions
from moorage.auth.login_passwords import SignedCredentials
from moorage.auth.roles import USER_KINDS, FixedRoles
from moorage.domain.access import ANONYMOUS, Action, Actor
from moorage.governance.services import Governance
from moorage.lifecycle.service import LifecycleService
from moorage.registry.blobs import BlobService
from moorage.registry.manifests import ManifestService
from moorage.scanning.results import ScanResults

EVERYTHING = "*"


@dataclass(frozen=True)
class WebServices:
    """The services the pages call, built by the composition root (`app.py`)."""

    governance: Governance
    lifecycle: LifecycleService
    manifests: ManifestService
    blobs: BlobService
    auth: Any
    """`AuthComponents`, or None when authentication is off (loopback development)."""
    sessions: SignedCredentials | None
    """Issues and checks session cookies (None when authentication is off)."""
    external_url: str | None = None
    scan_results: ScanResults | None = None
    """Scan reports per digest for the image page (None: scanning is not wired)."""


@dataclass
class Viewer:
    """The person looking at a page: a signed-in user, or (authentication off) an anonymous admin.

    `may` asks the same question the management API's `Caller.may` asks, with the roles read once
    per request (a repository list asks it for every row).
    """

    principal: Principal
    auth: Any
    session: str | None = None
    """The session cookie's value (the CSRF token is derived from it); None: no session."""
    _roles: FixedRoles | None = field(default=None, repr=False)

    @classmethod
    def anonymous_admin(cls) -> Viewer:
        return cls(Principal(ANONYMOUS, None), None)

    @property
    def actor(self) -> Actor:
        return self.principal.actor

    def acting_from(self, address: str | None) -> Actor:
        """The actor as the audit log records it, with the address the request came from."""
        actor = self.actor
        return actor if actor.source_address is not None or address is None else replace(actor, source_address=address)

    @property
    def signed_in(self) -> bool:
        return self.auth is None or self.session is not None

    @property
    def user(self) -> str | None:
        return self.actor.name if self.actor.kind in USER_KINDS else None

    def may(self, pattern: str, action: Action) -> bool:
        if self.auth is None:
            return True
        if self._roles is None:
            self._roles = FixedRoles(self.auth.roles)
        return action in allowed_actions(self.principal, pattern, self._roles)

    def is_server_admin(self) -> bool:
        return self.may(EVERYTHING, Action.ADMIN)
