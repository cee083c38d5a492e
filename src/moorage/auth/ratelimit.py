"""Slowing down password guessing on `/token` and the management API.

Failed logins are counted per subject and per source address in fixed windows, in the metadata
store, so every node sees the same counts (one small write per failure; successes write nothing).
The subject is normally the user name; for OIDC ID tokens it is the token's issuer and subject
(`CredentialChain.rate_limit_subject`), because every CI job shares the username `oidc`. Once a
count reaches its limit, every attempt for that subject or from that address, right or wrong, is
refused with 429 until the window ends.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from moorage.metadata import signing_keys
from moorage.metadata.common import now
from moorage.metadata.database import Database


class TooManyAttempts(Exception):
    """The user or the address used up its failed logins; `retry_after` seconds until the window ends."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; retry in {retry_after} s")
        self.retry_after = retry_after


class LoginRateLimiter:
    def __init__(self, database: Database, per_user: int, per_address: int, window: timedelta) -> None:
        self.database = database
        self.limits = {"user": per_user, "addr": per_address}
        self.window = window

    def _keys(self, subject: str, address: str | None) -> list[tuple[str, str]]:
        """`subject` is `user:NAME`, another `kind:value`, or "" for the address alone."""
        keys = []
        if subject:
            if len(subject) > 150:  # an issuer URL and subject can be long; the key column is not
                subject = f"{subject[:40]}#{hashlib.sha256(subject.encode()).hexdigest()[:32]}"
            keys.append(("user", f"login:{subject}"))
        if address:
            keys.append(("addr", f"login:addr:{address[:150]}"))
        return keys

    def check(self, subject: str, address: str | None) -> None:
        """Raise `TooManyAttempts` when the subject or the address has used up its failures."""
        with self.database.read() as connection:
            for kind, key in self._keys(subject, address):
                count, start = signing_keys.count_in_window(connection, key, self.window)
                if count >= self.limits[kind]:
                    remaining = (start + self.window - now()).total_seconds()
                    raise TooManyAttempts(max(1, int(remaining + 0.999)))

    def record_failure(self, subject: str, address: str | None) -> None:
        with self.database.write() as connection:
            for _, key in self._keys(subject, address):
                signing_keys.increment(connection, key, self.window)
