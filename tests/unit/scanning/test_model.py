from moorage.scanning.model import Distro, Finding, Package, ScanReport, ScanStatus, Severity


def test_distributions_name_the_osv_ecosystem_of_their_packages() -> None:
    assert Distro("debian", "12").osv_ecosystem == "Debian:12"
    assert Distro("alpine", "3.20.3").osv_ecosystem == "Alpine:v3.20"
    assert Distro("rocky", "9.4").osv_ecosystem == "Rocky Linux:9"
    assert Distro("plan9", "4").osv_ecosystem is None


def test_severities_order_from_unknown_to_critical() -> None:
    assert Severity.CRITICAL.at_least(Severity.HIGH)
    assert not Severity.MEDIUM.at_least(Severity.HIGH)
    assert not Severity.UNKNOWN.at_least(Severity.LOW)


def test_a_report_counts_its_findings_for_every_severity() -> None:
    package = Package("openssl", "3.0.11-1", "Debian:12", "pkg:deb/debian/openssl@3.0.11-1")
    findings = tuple(Finding(f"CVE-2024-{n}", package, severity) for n, severity in enumerate(["HIGH", "HIGH", "LOW"]))
    counts = ScanReport("sha256:" + "a" * 64, ScanStatus.COMPLETE, findings=findings).counts()
    assert counts == {Severity.CRITICAL: 0, Severity.HIGH: 2, Severity.MEDIUM: 0, Severity.LOW: 1, Severity.UNKNOWN: 0}
