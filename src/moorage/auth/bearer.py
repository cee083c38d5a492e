"""`Authorization: Bearer <credential>` on the management API: which username the credential names.

The credential chain checks a username and a secret; a bearer credential carries only the secret,
so the username is the one the credential itself names: an access token's owner, a login password's
(or ID token's) subject, `oidc` for an exchanged OIDC credential. Passwords and robot secrets name
no one and need HTTP Basic. The name found here is only a claim: the chain then verifies the secret
for it exactly as for Basic (and counts failures against the same limits).
"""

from __future__ import annotations

import re

from moorage.auth.oidc_federation import CREDENTIAL_PREFIX as OIDC_PREFIX
from moorage.auth.oidc_federation import CREDENTIAL_USERNAME as OIDC_USERNAME
from moorage.auth.oidc_tokens import peek
from moorage.metadata import credentials
from moorage.metadata.database import Database

_ACCESS_TOKEN = re.compile(r"^moorage_pat_(?P<id>[0-9a-f]{16})_")


def bearer_username(database: Database, secret: str) -> str | None:
    """The username a bearer credential names, or None when it names no one (use Basic)."""
    if secret.startswith(OIDC_PREFIX):
        return OIDC_USERNAME
    match = _ACCESS_TOKEN.match(secret)
    if match is not None:
        with database.read() as connection:
            row = credentials.find_token(connection, match["id"])
        return row.user_name if row is not None else None
    parts = peek(secret)
    subject = parts[1].get("sub") if parts is not None else None
    return subject if isinstance(subject, str) and subject else None
