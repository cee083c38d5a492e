"""Webhook signatures: what a receiver accepts, and what it must refuse (forgeries, edits, replays)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from moorage.events.signing import REPLAY_WINDOW_SECONDS, new_secret, signature_header, verify

BODY = b'{"id":"1","type":"manifest.push"}'


def test_a_signed_body_verifies_with_its_secret_only() -> None:
    secret = new_secret()
    now = int(time.time())
    header = signature_header(secret, now, BODY)
    assert header.startswith(f"t={now},v1=") and len(header.split("v1=")[1]) == 64
    assert verify(secret, header, BODY, now)
    assert not verify(new_secret(), header, BODY, now)
    assert not verify(secret, header, BODY + b" ", now)


def test_an_old_or_future_timestamp_is_a_replay_and_refused() -> None:
    secret = new_secret()
    then = int(time.time()) - REPLAY_WINDOW_SECONDS - 1
    header = signature_header(secret, then, BODY)
    assert not verify(secret, header, BODY, time.time())
    assert verify(secret, header, BODY, then + 10)
    assert not verify(secret, signature_header(secret, then + 2 * REPLAY_WINDOW_SECONDS + 5, BODY), BODY, then)


def test_a_changed_timestamp_breaks_the_signature_and_garbage_is_refused() -> None:
    secret = new_secret()
    now = int(time.time())
    forged = signature_header(secret, now, BODY).replace(f"t={now}", f"t={now + 1}")
    assert not verify(secret, forged, BODY, now)
    for header in ("", "t=abc,v1=00", "v1=00", f"t={now}"):
        assert not verify(secret, header, BODY, now)


def test_secrets_are_long_random_and_recognisable() -> None:
    secrets = {new_secret() for _ in range(20)}
    assert len(secrets) == 20 and all(s.startswith("whsec_") and len(s) >= 40 for s in secrets)


def test_the_verification_snippet_in_the_docs_accepts_our_signatures_and_refuses_replays() -> None:
    text = (Path(__file__).parents[3] / "docs" / "webhooks.md").read_text()
    snippet = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)  # noqa: S102 - our own documentation, run as a receiver would
    secret = new_secret()
    now = int(time.time())
    assert namespace["verify"](secret, signature_header(secret, now, BODY), BODY)
    assert not namespace["verify"](secret, signature_header(secret, now - 301, BODY), BODY)
    assert not namespace["verify"](new_secret(), signature_header(secret, now, BODY), BODY)
