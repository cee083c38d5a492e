from moorage.scanning.model import Distro, Severity


def test_distributions_name_the_osv_ecosystem_of_their_packages() -> None:
    assert Distro("debian", "12").osv_ecosystem == "Debian:12"
    assert Distro("alpine", "3.20.3").osv_ecosystem == "Alpine:v3.20"
    assert Distro("rocky", "9.4").osv_ecosystem == "Rocky Linux:9"
    assert Distro("plan9", "4").osv_ecosystem is None


def test_severities_order_from_unknown_to_critical() -> None:
    assert Severity.CRITICAL.at_least(Severity.HIGH)
    assert not Severity.MEDIUM.at_least(Severity.HIGH)
    assert not Severity.UNKNOWN.at_least(Severity.LOW)
