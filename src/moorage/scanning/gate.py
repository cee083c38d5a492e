"""The scan gate: a pure function from a policy and an image's scan report to a decision with reasons.

A gate policy has three parts, and an image passes when none of them refuses it:

- **`max_severity`** (optional): the lowest severity that blocks. An image is refused when its worst
  finding *not on the allowlist* is at or above it: `HIGH` refuses images with a HIGH or CRITICAL
  finding, `CRITICAL` only those with a CRITICAL one, `UNKNOWN` any finding at all (UNKNOWN ranks
  lowest). Without it, findings never refuse; only `require_scan` can.
- **`require_scan`**: whether an image must have a COMPLETE scan to pass. The states a scan can be in:

  | report | `require_scan` off | `require_scan` on |
  |---|---|---|
  | none (never scanned), PENDING, IN_PROGRESS | passes: nothing is known yet | refused: not scanned yet |
  | FAILED | passes (the reason says the scan failed) | refused, naming the failure |
  | UNSUPPORTED_IMAGE | passes | refused: an image that cannot be scanned cannot show it is clean |
  | COMPLETE | judged by `max_severity` | judged by `max_severity` |

  A complete scan is judged the same whichever way `require_scan` is set.
- **the allowlist**: vulnerability ids an owner has accepted, each optionally with an expiry date (the
  last day it still applies, inclusive, in UTC) and a reason. An entry matches a finding whose id *or
  any of its aliases* equals it (case-insensitive), so allowing `CVE-2024-1234` also covers the
  Debian advisory `DEBIAN-CVE-2024-1234` that lists it as an alias. An expired entry matches nothing;
  the decision names the expired entries that would have matched, so the owner sees why an image that
  passed yesterday is refused today.

The decision counts the *blocking* findings by severity and lists their ids: that is what a refusal
message, `moorage gate` and the admission webhook print.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from moorage.scanning.model import Finding, ScanReport, ScanStatus, Severity

MAX_ALLOWLIST = 1000
MAX_REASON = 500
VULNERABILITY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
"""OSV ids and aliases: `CVE-2024-1234`, `GHSA-xxxx-xxxx-xxxx`, `DSA-5678-1`, `PYSEC-2024-1`, `GO-2024-1`."""
NAMED_IN_REASON = 5
"""How many blocking ids a reason names before it says `and N more`."""


class InvalidGatePolicy(ValueError):
    """A policy document that cannot be used; the message says which field and why."""


@dataclass(frozen=True)
class AllowedVulnerability:
    """An accepted vulnerability id (or alias), until `expires` (inclusive) when given."""

    id: str
    expires: date | None = None
    reason: str = ""

    def applies_on(self, today: date) -> bool:
        return self.expires is None or today <= self.expires

    def to_document(self) -> dict[str, Any]:
        return {"id": self.id, "expires": self.expires.isoformat() if self.expires else None, "reason": self.reason}


@dataclass(frozen=True)
class GatePolicy:
    """What an image must satisfy to be pulled or deployed (see the module docstring)."""

    max_severity: Severity | None = None
    require_scan: bool = False
    allowlist: tuple[AllowedVulnerability, ...] = ()

    @classmethod
    def of(cls, document: object) -> GatePolicy:
        """A checked policy from its JSON form, or InvalidGatePolicy.

        `{"max_severity": "HIGH", "require_scan": true, "allowlist": [{"id": "CVE-…", "expires":
        "2026-12-31", "reason": "…"}]}`; an allowlist entry may also be a bare id string.
        """
        if not isinstance(document, Mapping):
            raise InvalidGatePolicy("a scan gate policy must be an object")
        unknown = sorted(set(document) - {"max_severity", "require_scan", "allowlist"})
        if unknown:
            raise InvalidGatePolicy(f"a scan gate policy takes max_severity, require_scan and allowlist, not {unknown}")
        severity = document.get("max_severity")
        if severity is not None and (not isinstance(severity, str) or severity.upper() not in Severity.__members__):
            names = ", ".join(Severity)
            raise InvalidGatePolicy(f"max_severity must be one of {names} (or null), not {severity!r}")
        require_scan = document.get("require_scan", False)
        if not isinstance(require_scan, bool):
            raise InvalidGatePolicy("require_scan must be true or false")
        allowlist = document.get("allowlist") or []
        if not isinstance(allowlist, list):
            raise InvalidGatePolicy("allowlist must be a list of entries")
        if len(allowlist) > MAX_ALLOWLIST:
            raise InvalidGatePolicy(f"an allowlist holds at most {MAX_ALLOWLIST} entries")
        entries = tuple(_allowed(entry, position) for position, entry in enumerate(allowlist))
        seen: set[str] = set()
        for entry in entries:
            if entry.id.upper() in seen:
                raise InvalidGatePolicy(f"allowlist lists {entry.id} twice")
            seen.add(entry.id.upper())
        if severity is None and not require_scan:
            raise InvalidGatePolicy("a scan gate policy needs max_severity, require_scan, or both")
        return cls(Severity(severity.upper()) if severity else None, require_scan, entries)

    def to_document(self) -> dict[str, Any]:
        return {
            "max_severity": self.max_severity.value if self.max_severity else None,
            "require_scan": self.require_scan,
            "allowlist": [entry.to_document() for entry in self.allowlist],
        }

    def describe(self) -> str:
        """`max severity HIGH, scan required, 2 allowed ids` (for messages)."""
        parts = [f"refuses {self.max_severity.value} and above" if self.max_severity else "no severity limit"]
        if self.require_scan:
            parts.append("scan required")
        if self.allowlist:
            parts.append(f"{len(self.allowlist)} allowed id(s)")
        return ", ".join(parts)


def _allowed(entry: object, position: int) -> AllowedVulnerability:
    where = f"allowlist[{position}]"
    if isinstance(entry, str):
        entry = {"id": entry}
    if not isinstance(entry, Mapping):
        raise InvalidGatePolicy(f"{where} must be an id or an object with id, expires and reason")
    unknown = sorted(set(entry) - {"id", "expires", "reason"})
    if unknown:
        raise InvalidGatePolicy(f"{where} takes id, expires and reason, not {unknown}")
    identifier = entry.get("id")
    if not isinstance(identifier, str) or not VULNERABILITY_ID.match(identifier):
        raise InvalidGatePolicy(f"{where}.id must be a vulnerability id such as CVE-2024-1234, not {identifier!r}")
    expires = entry.get("expires")
    if expires is not None:
        if not isinstance(expires, str):
            raise InvalidGatePolicy(f"{where}.expires must be a date YYYY-MM-DD")
        try:
            expires = date.fromisoformat(expires)
        except ValueError:
            raise InvalidGatePolicy(f"{where}.expires must be a date YYYY-MM-DD, not {expires!r}") from None
    reason = entry.get("reason") or ""
    if not isinstance(reason, str) or len(reason) > MAX_REASON or any(ord(c) < 0x20 for c in reason):
        raise InvalidGatePolicy(f"{where}.reason must be one line of at most {MAX_REASON} characters")
    return AllowedVulnerability(identifier, expires, reason)


@dataclass(frozen=True)
class GateDecision:
    """Whether an image passes a gate policy, and why."""

    allowed: bool
    reason: str
    status: ScanStatus | None
    """The scan's state (None: never scanned)."""
    blocking: dict[Severity, int] = field(default_factory=dict)
    """Blocking findings per severity (only severities with some)."""
    blocked_ids: tuple[str, ...] = ()
    """The ids of the blocking findings, worst first, each once."""
    allowlisted: tuple[str, ...] = ()
    """Ids at or above the threshold that the allowlist let through."""
    expired_allowances: tuple[str, ...] = ()
    """Allowlist entries that would have matched a blocking finding but have expired."""

    def counts_text(self) -> str:
        """`CRITICAL 1, HIGH 2` (worst first), or `none`."""
        ordered = sorted(self.blocking.items(), key=lambda item: -item[0].rank)
        return ", ".join(f"{severity.value} {count}" for severity, count in ordered) or "none"

    def to_document(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "reason": self.reason,
            "status": self.status.value if self.status else None,
            "blocking": {severity.value: count for severity, count in self.blocking.items()},
            "blocked_ids": list(self.blocked_ids),
            "allowlisted": list(self.allowlisted),
            "expired_allowances": list(self.expired_allowances),
        }


def evaluate(policy: GatePolicy, report: ScanReport | None, today: date) -> GateDecision:
    """Judge one image's latest scan report against a policy (see the module docstring for the rules)."""
    status = report.status if report is not None else None
    if report is None or report.status is not ScanStatus.COMPLETE:
        return _not_complete(policy, report)
    if policy.max_severity is None:
        return GateDecision(True, "scanned; the policy sets no severity limit", status)
    at_or_above = [f for f in report.findings if f.severity.at_least(policy.max_severity)]
    blocking: list[Finding] = []
    allowlisted: list[str] = []
    expired: list[str] = []
    for finding in at_or_above:
        matches = _matching(policy.allowlist, finding)
        if any(entry.applies_on(today) for entry in matches):
            allowlisted.append(finding.vulnerability_id)
            continue
        blocking.append(finding)
        expired.extend(entry.id for entry in matches)
    blocking.sort(key=lambda f: (-f.severity.rank, f.vulnerability_id))
    counts: dict[Severity, int] = {}
    for finding in blocking:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    ids = tuple(dict.fromkeys(f.vulnerability_id for f in blocking))
    decision = GateDecision(
        not blocking, "", status, counts, ids, tuple(dict.fromkeys(allowlisted)), tuple(dict.fromkeys(expired))
    )
    return _with_reason(decision, policy.max_severity, len(blocking))


def _matching(allowlist: Iterable[AllowedVulnerability], finding: Finding) -> list[AllowedVulnerability]:
    names = {finding.vulnerability_id.upper(), *(alias.upper() for alias in finding.aliases)}
    return [entry for entry in allowlist if entry.id.upper() in names]


def _with_reason(decision: GateDecision, threshold: Severity, blocking: int) -> GateDecision:
    if decision.allowed:
        allowed = f" ({len(decision.allowlisted)} allowlisted)" if decision.allowlisted else ""
        reason = f"no finding at or above {threshold.value} outside the allowlist{allowed}"
        return GateDecision(True, reason, decision.status, {}, (), decision.allowlisted, ())
    named = ", ".join(decision.blocked_ids[:NAMED_IN_REASON])
    more = len(decision.blocked_ids) - NAMED_IN_REASON
    if more > 0:
        named += f" and {more} more"
    reason = f"{blocking} finding(s) at or above {threshold.value} ({decision.counts_text()}): {named}"
    if decision.expired_allowances:
        reason += f"; expired allowlist entries: {', '.join(decision.expired_allowances)}"
    return GateDecision(
        False,
        reason,
        decision.status,
        decision.blocking,
        decision.blocked_ids,
        decision.allowlisted,
        decision.expired_allowances,
    )


def _not_complete(policy: GatePolicy, report: ScanReport | None) -> GateDecision:
    if report is None or report.status in (ScanStatus.PENDING, ScanStatus.IN_PROGRESS):
        state = "not scanned" if report is None else f"not scanned yet (scan {report.status.value})"
    elif report.status is ScanStatus.FAILED:
        state = f"scan FAILED: {report.reason or 'no reason given'}"
    else:
        state = f"UNSUPPORTED_IMAGE: {report.reason or 'the scanner cannot read this image'}"
    status = report.status if report is not None else None
    if policy.require_scan:
        return GateDecision(False, f"the policy requires a complete scan; {state}", status)
    return GateDecision(True, f"{state}; the policy does not require a scan", status)
