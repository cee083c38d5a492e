"""The scan gate's rules, one test each: thresholds, scan states, the allowlist with aliases and expiry."""

from __future__ import annotations

from datetime import date

import pytest

from moorage.scanning.gate import AllowedVulnerability, GatePolicy, InvalidGatePolicy, evaluate
from moorage.scanning.model import Finding, Package, ScanReport, ScanStatus, Severity

TODAY = date(2026, 12, 6)
PACKAGE = Package("openssl", "3.0.11-1", "Debian:12", "pkg:deb/debian/openssl@3.0.11-1")


def finding(identifier: str, severity: Severity, *aliases: str) -> Finding:
    return Finding(identifier, PACKAGE, severity, aliases=aliases)


def complete(*findings: Finding) -> ScanReport:
    return ScanReport("sha256:" + "a" * 64, ScanStatus.COMPLETE, findings=findings)


def report(status: ScanStatus, reason: str | None = None) -> ScanReport:
    return ScanReport("sha256:" + "a" * 64, status, reason=reason)


HIGH = GatePolicy(Severity.HIGH)


def test_a_finding_at_the_threshold_refuses_the_image() -> None:
    decision = evaluate(HIGH, complete(finding("CVE-2024-1", Severity.HIGH)), TODAY)
    assert not decision.allowed
    assert decision.blocking == {Severity.HIGH: 1}
    assert decision.blocked_ids == ("CVE-2024-1",)
    assert "1 finding(s) at or above HIGH (HIGH 1): CVE-2024-1" in decision.reason


def test_a_finding_above_the_threshold_refuses_and_counts_are_by_severity_worst_first() -> None:
    found = complete(
        finding("CVE-2024-3", Severity.HIGH),
        finding("CVE-2024-2", Severity.CRITICAL),
        finding("CVE-2024-4", Severity.MEDIUM),
        finding("CVE-2024-5", Severity.HIGH),
    )
    decision = evaluate(HIGH, found, TODAY)
    assert not decision.allowed
    assert decision.blocking == {Severity.CRITICAL: 1, Severity.HIGH: 2}
    assert decision.blocked_ids == ("CVE-2024-2", "CVE-2024-3", "CVE-2024-5")
    assert decision.counts_text() == "CRITICAL 1, HIGH 2"


def test_findings_below_the_threshold_pass() -> None:
    decision = evaluate(HIGH, complete(finding("CVE-2024-1", Severity.MEDIUM), finding("X-1", Severity.UNKNOWN)), TODAY)
    assert decision.allowed and decision.blocking == {} and decision.blocked_ids == ()


def test_unknown_threshold_refuses_any_finding_even_an_unrated_one() -> None:
    decision = evaluate(GatePolicy(Severity.UNKNOWN), complete(finding("X-1", Severity.UNKNOWN)), TODAY)
    assert not decision.allowed and decision.blocking == {Severity.UNKNOWN: 1}


def test_a_clean_complete_scan_passes() -> None:
    assert evaluate(GatePolicy(Severity.LOW, require_scan=True), complete(), TODAY).allowed


def test_the_reason_names_five_ids_and_counts_the_rest() -> None:
    found = complete(*(finding(f"CVE-2024-{n}", Severity.CRITICAL) for n in range(10, 17)))
    decision = evaluate(HIGH, found, TODAY)
    assert decision.reason.endswith("CVE-2024-10, CVE-2024-11, CVE-2024-12, CVE-2024-13, CVE-2024-14 and 2 more")
    assert len(decision.blocked_ids) == 7


def test_one_id_in_two_packages_is_counted_twice_but_named_once() -> None:
    other = Package("libssl3", "3.0.11-1", "Debian:12", "pkg:deb/debian/libssl3@3.0.11-1")
    found = complete(finding("CVE-2024-1", Severity.HIGH), Finding("CVE-2024-1", other, Severity.HIGH))
    decision = evaluate(HIGH, found, TODAY)
    assert decision.blocking == {Severity.HIGH: 2} and decision.blocked_ids == ("CVE-2024-1",)


@pytest.mark.parametrize("status", [ScanStatus.PENDING, ScanStatus.IN_PROGRESS])
def test_an_image_not_yet_scanned_passes_unless_a_scan_is_required(status: ScanStatus) -> None:
    assert evaluate(HIGH, report(status), TODAY).allowed
    refused = evaluate(GatePolicy(Severity.HIGH, require_scan=True), report(status), TODAY)
    assert not refused.allowed and "not scanned yet" in refused.reason and refused.status is status


def test_an_image_never_scanned_passes_unless_a_scan_is_required() -> None:
    passed = evaluate(HIGH, None, TODAY)
    assert passed.allowed and passed.status is None and "not scanned" in passed.reason
    refused = evaluate(GatePolicy(require_scan=True), None, TODAY)
    assert not refused.allowed and "requires a complete scan; not scanned" in refused.reason


def test_a_failed_scan_is_refused_with_its_reason_when_a_scan_is_required() -> None:
    failed = report(ScanStatus.FAILED, "layer sha256:bb… is not a tar stream")
    assert evaluate(HIGH, failed, TODAY).allowed
    refused = evaluate(GatePolicy(Severity.HIGH, require_scan=True), failed, TODAY)
    assert not refused.allowed and "scan FAILED: layer sha256:bb… is not a tar stream" in refused.reason


def test_an_unsupported_image_is_refused_when_a_scan_is_required() -> None:
    unsupported = report(ScanStatus.UNSUPPORTED_IMAGE, "no known package database")
    assert evaluate(HIGH, unsupported, TODAY).allowed
    refused = evaluate(GatePolicy(require_scan=True), unsupported, TODAY)
    assert not refused.allowed and "UNSUPPORTED_IMAGE: no known package database" in refused.reason


def test_require_scan_alone_passes_any_complete_scan_whatever_its_findings() -> None:
    decision = evaluate(GatePolicy(require_scan=True), complete(finding("CVE-1", Severity.CRITICAL)), TODAY)
    assert decision.allowed


def test_an_allowlisted_id_does_not_block() -> None:
    policy = GatePolicy(Severity.HIGH, allowlist=(AllowedVulnerability("CVE-2024-1"),))
    decision = evaluate(policy, complete(finding("CVE-2024-1", Severity.CRITICAL)), TODAY)
    assert decision.allowed and decision.allowlisted == ("CVE-2024-1",)
    assert "1 allowlisted" in decision.reason


def test_an_allowlist_entry_matches_an_alias_case_insensitively() -> None:
    policy = GatePolicy(Severity.HIGH, allowlist=(AllowedVulnerability("cve-2024-9"),))
    found = complete(finding("DEBIAN-CVE-2024-9", Severity.HIGH, "CVE-2024-9"))
    assert evaluate(policy, found, TODAY).allowed


def test_the_allowlist_only_removes_what_it_names() -> None:
    policy = GatePolicy(Severity.HIGH, allowlist=(AllowedVulnerability("CVE-2024-1"),))
    found = complete(finding("CVE-2024-1", Severity.HIGH), finding("CVE-2024-2", Severity.HIGH))
    decision = evaluate(policy, found, TODAY)
    assert not decision.allowed and decision.blocked_ids == ("CVE-2024-2",)
    assert decision.allowlisted == ("CVE-2024-1",)


def test_an_allowlist_entry_applies_through_its_expiry_day() -> None:
    policy = GatePolicy(Severity.HIGH, allowlist=(AllowedVulnerability("CVE-2024-1", TODAY),))
    assert evaluate(policy, complete(finding("CVE-2024-1", Severity.HIGH)), TODAY).allowed


def test_an_expired_allowlist_entry_blocks_again_and_is_named() -> None:
    policy = GatePolicy(Severity.HIGH, allowlist=(AllowedVulnerability("CVE-2024-1", date(2026, 12, 5)),))
    decision = evaluate(policy, complete(finding("CVE-2024-1", Severity.HIGH)), TODAY)
    assert not decision.allowed
    assert decision.expired_allowances == ("CVE-2024-1",)
    assert "expired allowlist entries: CVE-2024-1" in decision.reason


def test_the_allowlist_cannot_make_an_unscanned_image_pass_a_required_scan() -> None:
    policy = GatePolicy(Severity.HIGH, require_scan=True, allowlist=(AllowedVulnerability("CVE-2024-1"),))
    assert not evaluate(policy, None, TODAY).allowed


def test_a_policy_round_trips_through_its_document() -> None:
    document = {
        "max_severity": "high",
        "require_scan": True,
        "allowlist": ["CVE-2024-1", {"id": "GHSA-abcd-efgh-ijkl", "expires": "2027-01-31", "reason": "no fix yet"}],
    }
    policy = GatePolicy.of(document)
    assert policy.max_severity is Severity.HIGH
    assert policy.allowlist[1] == AllowedVulnerability("GHSA-abcd-efgh-ijkl", date(2027, 1, 31), "no fix yet")
    assert GatePolicy.of(policy.to_document()) == policy


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "must be an object"),
        ({"max_severity": "SEVERE"}, "max_severity must be one of"),
        ({"max_severity": 3}, "max_severity must be one of"),
        ({"require_scan": "yes"}, "require_scan must be true or false"),
        ({}, "needs max_severity, require_scan, or both"),
        ({"max_severity": "HIGH", "threshold": 1}, "not ['threshold']"),
        ({"max_severity": "HIGH", "allowlist": "CVE-1"}, "allowlist must be a list"),
        ({"max_severity": "HIGH", "allowlist": ["CVE 1"]}, "allowlist[0].id must be a vulnerability id"),
        ({"max_severity": "HIGH", "allowlist": [{"id": "CVE-1", "expires": "31/12/2026"}]}, "allowlist[0].expires"),
        ({"max_severity": "HIGH", "allowlist": [{"id": "CVE-1", "reason": "a\nb"}]}, "allowlist[0].reason"),
        ({"max_severity": "HIGH", "allowlist": [{"id": "CVE-1", "by": "me"}]}, "allowlist[0] takes id"),
        ({"max_severity": "HIGH", "allowlist": ["CVE-1", "cve-1"]}, "lists cve-1 twice"),
    ],
)
def test_an_invalid_policy_is_refused_naming_the_field(document: object, message: str) -> None:
    with pytest.raises(InvalidGatePolicy, match=message.replace("[", r"\[").replace("]", r"\]")):
        GatePolicy.of(document)
