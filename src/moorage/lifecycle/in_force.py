"""Which lifecycle policy is in force for a repository, and where it comes from.

A repository's own policy wins; else its nearest namespace's (`team/app` before `team` for
`team/app/api`). The lifecycle service, the lifecycle API and the repository settings all answer with
this one rule, so every way of reading a policy shows the same one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

REPOSITORY = "repository"
NAMESPACE = "namespace"


@dataclass(frozen=True)
class PolicyInForce:
    source: str
    """`repository` (its own) or `namespace`."""
    namespace: str | None
    """The namespace the policy is set on, when it comes from one."""
    document: dict[str, Any]

    @property
    def label(self) -> str:
        """`repository` or `namespace:<name>` (a preview's `policySource`)."""
        return REPOSITORY if self.namespace is None else f"{NAMESPACE}:{self.namespace}"


def policy_index(stored: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str], str]:
    """(scope, name) -> document text, from the stored rows."""
    return {(scope, name): text for scope, name, text in stored}


def in_force(policies: dict[tuple[str, str], str], repository: str) -> PolicyInForce | None:
    """The policy governing the repository: its own, else its nearest namespace's, else None."""
    text = policies.get((REPOSITORY, repository))
    if text is not None:
        return PolicyInForce(REPOSITORY, None, json.loads(text))
    return _nearest_namespace(policies, repository.split("/")[:-1])


def namespace_in_force(policies: dict[tuple[str, str], str], namespace: str) -> PolicyInForce | None:
    """The policy a namespace's repositories get from it or from a namespace above it."""
    return _nearest_namespace(policies, namespace.split("/"))


def _nearest_namespace(policies: dict[tuple[str, str], str], parts: list[str]) -> PolicyInForce | None:
    for length in range(len(parts), 0, -1):
        namespace = "/".join(parts[:length])
        text = policies.get((NAMESPACE, namespace))
        if text is not None:
            return PolicyInForce(NAMESPACE, namespace, json.loads(text))
    return None
