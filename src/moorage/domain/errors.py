"""OCI distribution error codes, each with its HTTP status: the one table of them.

Services raise `RegistryError`; only the HTTP edge turns it into the spec's JSON body.
"""

from __future__ import annotations

from enum import Enum
from typing import Any


class ErrorCode(Enum):
    """The distribution-spec error codes (spec section "Error Codes") and their HTTP statuses."""

    BLOB_UNKNOWN = (404, "blob unknown to registry")
    BLOB_UPLOAD_INVALID = (400, "blob upload invalid")
    BLOB_UPLOAD_UNKNOWN = (404, "blob upload unknown to registry")
    DIGEST_INVALID = (400, "provided digest did not match uploaded content")
    MANIFEST_BLOB_UNKNOWN = (400, "manifest references a manifest or blob unknown to registry")
    MANIFEST_INVALID = (400, "manifest invalid")
    MANIFEST_UNKNOWN = (404, "manifest unknown to registry")
    NAME_INVALID = (400, "invalid repository name")
    NAME_UNKNOWN = (404, "repository name not known to registry")
    SIZE_INVALID = (400, "provided length did not match content length")
    UNAUTHORIZED = (401, "authentication required")
    DENIED = (403, "requested access to the resource is denied")
    UNSUPPORTED = (405, "the operation is unsupported")
    TOOMANYREQUESTS = (429, "too many requests")
    RANGE_INVALID = (416, "chunk does not continue the upload")
    MANIFEST_TOO_LARGE = (413, "manifest too large")
    UNKNOWN = (500, "unknown error")  # Distribution's code for failures that are the server's own

    @property
    def status(self) -> int:
        return self.value[0]

    @property
    def default_message(self) -> str:
        return self.value[1]

    @property
    def wire_code(self) -> str:
        """The code as sent to clients; statuses the spec has no code for reuse the nearest one."""
        return _WIRE_CODES.get(self, self.name)


_WIRE_CODES = {
    ErrorCode.MANIFEST_TOO_LARGE: "MANIFEST_INVALID",
    ErrorCode.RANGE_INVALID: "BLOB_UPLOAD_INVALID",
}


class RegistryError(Exception):
    """A failure the client caused or must know about, in the spec's own terms."""

    def __init__(
        self,
        code: ErrorCode,
        message: str | None = None,
        detail: Any = None,
        headers: dict[str, str] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message or code.default_message)
        self.code = code
        self.message = message or code.default_message
        self.detail = detail
        self.headers = headers or {}
        self.status = status or code.status

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code.wire_code, "message": self.message}
        if self.detail is not None:
            error["detail"] = self.detail
        return {"errors": [error]}
