"""HTTP pieces shared by `/token`, the `/v2/` guard and the management API: Basic credentials,
the client's address, and how authentication failures are answered in the OCI error format."""

from __future__ import annotations

import base64
import binascii

from starlette.types import Scope

from moorage.auth.authenticator import InvalidCredentials
from moorage.auth.credentials import CredentialRefused
from moorage.auth.ratelimit import TooManyAttempts
from moorage.domain.errors import ErrorCode, RegistryError


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """The (username, secret) of an `Authorization: Basic` header, or None."""
    if not authorization or authorization[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, separator, secret = decoded.partition(":")
    return (username, secret) if separator else None


def bearer_token(authorization: str | None) -> str | None:
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip() or None
    return None


def client_address(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


def login_error(error: Exception) -> RegistryError:
    """A failed login as the registry error a client shows its user."""
    if isinstance(error, TooManyAttempts):
        return RegistryError(ErrorCode.TOOMANYREQUESTS, str(error), headers={"Retry-After": str(error.retry_after)})
    if isinstance(error, CredentialRefused):
        return RegistryError(ErrorCode.UNAUTHORIZED, str(error))
    if isinstance(error, InvalidCredentials):
        return RegistryError(ErrorCode.UNAUTHORIZED, str(error))
    raise error
