"""The id of the request (or background job) a log line belongs to, carried by a context variable.

A context variable follows the request through `await`s and into worker threads started with
`anyio.to_thread` (they run in a copy of the context), so every line logged while serving one
request carries its id without passing it around. Background threads start with an empty context:
their lines have no request id, or the job id they bind with `bound_job`.
"""

from __future__ import annotations

import contextlib
import random
import re
from collections.abc import Iterator
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-Id"

request_id: ContextVar[str | None] = ContextVar("moorage_request_id", default=None)
job_id: ContextVar[str | None] = ContextVar("moorage_job_id", default=None)

# An incoming id is kept only if it is short and plain: it lands in every log line and in a header,
# so anything that could forge a log line, carry a secret of size or break a header is replaced.
_ACCEPTABLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


def choose_request_id(incoming: str | None) -> str:
    """The caller's `X-Request-Id` when it is sane (a proxy's id keeps traces joined), else a new one."""
    if incoming is not None and _ACCEPTABLE.fullmatch(incoming):
        return incoming
    # Not a secret, only unique enough to find a request's lines: the process's PRNG (reseeded in
    # each forked worker) costs a fraction of a system call for random bytes.
    return f"{random.getrandbits(64):016x}"


@contextlib.contextmanager
def bound_job(identifier: str) -> Iterator[None]:
    """Mark the log lines of a background job (in this thread or task) with its id."""
    token = job_id.set(identifier)
    try:
        yield
    finally:
        job_id.reset(token)
