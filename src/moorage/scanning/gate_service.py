"""Judging images by the scan gate policy in force: for a pull, a pipeline (`moorage gate`) and admission.

What is judged:
- an **image manifest** by its own scan report;
- an **index** by its report, which the scan results aggregate over its platforms (findings of every
  platform, FAILED if any platform failed): an index is refused when any platform would be. A node
  pulls one platform, but an index is one deployable thing, and the admission webhook cannot know
  which platform a node will pick; each platform pulled by digest is judged again by its own report;
- **artifacts** (an SBOM, a signature: a manifest with an `artifactType`, or a config that is not an
  image configuration) are not judged: nothing runs from them, and a gate on them would hide the
  very SBOM that explains a refusal.

Blobs are never judged: a layer's digest is not an image, and no client can run a layer without its
manifest, which is where the gate stands.

A pull storm must not read the scan report on every GET: an image that *passed* is remembered for
`cache_seconds` per (policy, digest) (a changed policy is a new key, so an allowlist edit applies at
once); a refusal is judged afresh on every pull, so fixing what refused an image (an allowlist entry,
a re-scan) is seen by the next pull. A new finding reaches an image that passed within
`cache_seconds`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol

from moorage.domain import media_types as mt
from moorage.domain.errors import ErrorCode, RegistryError
from moorage.metadata.manifests import StoredManifest
from moorage.registry.manifests import ManifestService
from moorage.scanning.gate import GateDecision, GatePolicy, evaluate
from moorage.scanning.gate_policies import GatePolicies, PolicyInForce
from moorage.scanning.model import ScanReport
from moorage.scanning.seams import IMAGE_CONFIGS

PASSED_CACHE_SIZE = 4096
"""Images remembered as passing (per policy): far more than one node serves hot at once."""


class ScanReports(Protocol):
    """Where the gate reads scan results (`scanning.results.ScanResults`).

    `report(digest)` returns the latest report of an image or index digest (an index's aggregated
    over its platforms), or None when the digest was never scanned or queued. It is called on every
    gated pull, so it must be cheap (an indexed read and a cache), and it must not raise for an
    unknown digest.
    """

    def report(self, digest: str) -> ScanReport | None: ...


@dataclass(frozen=True)
class Verdict:
    """The gate's answer for one image of one repository."""

    repository: str
    digest: str
    policy: PolicyInForce
    decision: GateDecision

    @property
    def allowed(self) -> bool:
        return self.decision.allowed

    def message(self) -> str:
        """One line for a refused pull, `moorage gate` and admission: the image, the policy, the counts."""
        verb = "passes" if self.allowed else "is refused by"
        return f"{self.repository}@{self.digest} {verb} the scan gate ({self.policy.label}): {self.decision.reason}"


def _key(policy: PolicyInForce, digest: str) -> tuple[object, ...]:
    """Which policy (a stored one is new at each change: its `updated_at`) judged which image."""
    return (policy.source, policy.name, policy.updated_at, digest)


class UnknownImage(RegistryError):
    """The reference names no manifest of the repository (a tag never pushed, a digest not there)."""


def is_gated(media_type: str, payload: bytes) -> bool:
    """Whether a manifest is an image or an index (judged), not an artifact (see the module docstring)."""
    if media_type in mt.INDEXES:
        return True
    if media_type not in mt.IMAGE_MANIFESTS:
        return False
    try:
        document = json.loads(payload)
    except ValueError:
        return True
    if not isinstance(document, dict):
        return True
    if document.get("artifactType"):
        return False
    config = document.get("config")
    config_type = config.get("mediaType") if isinstance(config, dict) else None
    return config_type in IMAGE_CONFIGS


class ScanGate:
    def __init__(
        self,
        manifests: ManifestService,
        policies: GatePolicies,
        reports: ScanReports,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
        cache_seconds: float | None = None,
    ) -> None:
        self.manifests = manifests
        self.policies = policies
        self.reports = reports
        self.today = today
        self.cache_seconds = policies.cache_seconds if cache_seconds is None else cache_seconds
        self._passed: OrderedDict[tuple[object, ...], tuple[float, Verdict]] = OrderedDict()
        self._lock = threading.Lock()

    def applies_to(self, repository: str) -> PolicyInForce | None:
        """The policy in force for the repository (cached; no I/O most of the time), or None."""
        return self.policies.in_force(repository)

    def applies_to_if_cached(self, repository: str) -> tuple[bool, PolicyInForce | None]:
        """As `applies_to`, without I/O: (False, None) when the policies must be read first."""
        return self.policies.in_force_if_cached(repository)

    def judge(
        self, repository: str, digest: str, media_type: str, payload: bytes, policy: PolicyInForce | None = None
    ) -> Verdict | None:
        """Judge a manifest about to be served; None when no policy applies or it is an artifact."""
        policy = policy or self.policies.in_force(repository)
        if policy is None:
            return None
        remembered = self._remembered(policy, digest)
        if remembered is not None:
            return Verdict(repository, digest, policy, remembered.decision)
        if not is_gated(media_type, payload):
            return None
        decision = evaluate(policy.policy, self.reports.report(digest), self.today())
        verdict = Verdict(repository, digest, policy, decision)
        if decision.allowed and self.cache_seconds > 0:
            with self._lock:
                self._passed[_key(policy, digest)] = (time.monotonic(), verdict)
                while len(self._passed) > PASSED_CACHE_SIZE:
                    self._passed.popitem(last=False)
        return verdict

    def _remembered(self, policy: PolicyInForce, digest: str) -> Verdict | None:
        key = _key(policy, digest)
        with self._lock:
            entry = self._passed.get(key)
            if entry is None:
                return None
            if time.monotonic() - entry[0] >= self.cache_seconds:
                del self._passed[key]
                return None
            self._passed.move_to_end(key)
            return entry[1]

    def judge_reference(self, repository: str, reference: str, policy: GatePolicy | None = None) -> Verdict:
        """Judge the image a tag or digest names in a repository, by `policy` (default: the one in force).

        Without a policy in force and none given, every image passes ("no scan gate policy applies").
        An artifact is judged like an image here: whoever asks about it by name wants an answer.
        """
        stored = self.resolve(repository, reference)
        in_force = PolicyInForce("request", None, policy) if policy is not None else None
        in_force = in_force or self.policies.in_force(repository)
        if in_force is None:
            unguarded = GateDecision(True, "no scan gate policy applies", None)
            return Verdict(repository, stored.digest, PolicyInForce("none", None, GatePolicy()), unguarded)
        decision = evaluate(in_force.policy, self.reports.report(stored.digest), self.today())
        return Verdict(repository, stored.digest, in_force, decision)

    def resolve(self, repository: str, reference: str) -> StoredManifest:
        """The manifest a tag or digest names in the repository, or UnknownImage."""
        try:
            return self.manifests.get(repository, reference)
        except RegistryError as error:
            if error.code is ErrorCode.MANIFEST_UNKNOWN:
                raise UnknownImage(
                    ErrorCode.MANIFEST_UNKNOWN, f"{repository}:{reference} is not in this registry"
                ) from None
            raise
