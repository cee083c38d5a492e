"""Rating findings (scanning/severity.py): each source in priority order, and the one mapping to the scale."""

from __future__ import annotations

from typing import Any

import pytest

from moorage.scanning.model import Severity
from moorage.scanning.severity import alias_ids, cvss_base_score, from_score, from_word, rate
from tests.unit.scanning.test_matching import record

CRITICAL_V3 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"  # 9.8
MEDIUM_V3 = "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N"  # 5.4
HIGH_V4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N"  # 8.7


def entry(ecosystem: str = "Debian:12", **fields: Any) -> dict[str, Any]:
    return {"package": {"ecosystem": ecosystem, "name": "openssl"}, **fields}


def test_the_distributions_urgency_wins_over_cvss() -> None:
    debian = {"id": "D", "severity": [{"type": "CVSS_V3", "score": CRITICAL_V3}]}
    rating = rate(debian, entry(ecosystem_specific={"urgency": "low"}))
    assert (rating.severity, rating.source) == (Severity.LOW, "distribution")


def test_a_real_ubuntu_rating_is_the_distributions() -> None:
    ubuntu = record("UBUNTU-CVE-2025-38094")
    rating = rate(ubuntu, ubuntu["affected"][0])
    assert (rating.severity, rating.source) == (Severity.MEDIUM, "distribution")


def test_red_hat_family_summaries_carry_the_distributions_rating() -> None:
    rocky = record("MOORAGE-TEST-RPM-1")
    assert rate(rocky, rocky["affected"][0]).severity is Severity.HIGH  # "Important:"
    pypi = {"id": "P", "summary": "Important: not a distribution's word here"}
    assert rate(pypi, entry("PyPI")).severity is Severity.UNKNOWN


def test_an_unassigned_urgency_falls_through_to_cvss() -> None:
    debian = {"id": "D", "severity": [{"type": "CVSS_V3", "score": MEDIUM_V3}]}
    rating = rate(debian, entry(ecosystem_specific={"urgency": "not yet assigned"}))
    assert (rating.severity, rating.source, rating.cvss_score) == (Severity.MEDIUM, "cvss_v3", 5.4)
    assert rating.cvss_vector == MEDIUM_V3


def test_a_language_packages_ecosystem_specific_is_not_a_distribution_rating() -> None:
    go = {"id": "G", "severity": [{"type": "CVSS_V3", "score": MEDIUM_V3}]}
    assert rate(go, entry("Go", ecosystem_specific={"severity": "critical"})).source == "cvss_v3"


def test_cvss_v3_is_computed_from_the_vector_before_v4() -> None:
    both = {"id": "B", "severity": [{"type": "CVSS_V4", "score": HIGH_V4}, {"type": "CVSS_V3", "score": MEDIUM_V3}]}
    assert rate(both, entry("npm")).source == "cvss_v3"
    v4 = record("MOORAGE-TEST-LIMIT-1")
    rating = rate(v4, v4["affected"][0])
    assert (rating.severity, rating.source, rating.cvss_score) == (Severity.HIGH, "cvss_v4", 8.7)


def test_a_packages_own_severity_wins_over_the_records() -> None:
    record_ = {"id": "R", "severity": [{"type": "CVSS_V3", "score": MEDIUM_V3}]}
    rating = rate(record_, entry("npm", severity=[{"type": "CVSS_V3", "score": CRITICAL_V3}]))
    assert (rating.severity, rating.cvss_score) == (Severity.CRITICAL, 9.8)


def test_a_vector_that_does_not_parse_is_skipped() -> None:
    broken = {
        "id": "X",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:Q"}],
        "database_specific": {"severity": "LOW"},
    }
    assert rate(broken, entry("npm")).source == "database_specific"
    assert cvss_base_score("garbage") is None


def test_database_specific_severity_after_cvss() -> None:
    ghsa = record("GHSA-h5c8-rqwp-cp95")  # CVSS 5.4 and GitHub's MODERATE
    assert rate(ghsa, ghsa["affected"][0]).source == "cvss_v3"
    without_vector = {key: value for key, value in ghsa.items() if key != "severity"}
    rating = rate(without_vector, ghsa["affected"][0])
    assert (rating.severity, rating.source) == (Severity.MEDIUM, "database_specific")


def test_an_aliass_rating_when_the_record_has_none() -> None:
    alpine = record("MOORAGE-TEST-ALPINE-1")
    upstream = record("MOORAGE-TEST-CVE-1")
    assert rate(alpine, alpine["affected"][0]).severity is Severity.UNKNOWN
    rating = rate(alpine, alpine["affected"][0], [upstream])
    assert (rating.severity, rating.source, rating.cvss_score) == (Severity.CRITICAL, "alias:MOORAGE-TEST-CVE-1", 9.8)


def test_the_worst_alias_wins() -> None:
    low = {"id": "A1", "database_specific": {"severity": "LOW"}}
    high = {"id": "A2", "database_specific": {"severity": "HIGH"}}
    assert rate({"id": "R"}, entry("npm"), [low, high]).source == "alias:A2"


def test_no_source_is_unknown() -> None:
    rating = rate({"id": "R"}, entry("npm"))
    assert (rating.severity, rating.source) == (Severity.UNKNOWN, "")


def test_aliases_and_upstream_both_name_aliases() -> None:
    assert alias_ids({"aliases": ["CVE-1", "GHSA-x"], "upstream": ["CVE-1", "CVE-2"]}) == ["CVE-1", "GHSA-x", "CVE-2"]


@pytest.mark.parametrize(
    ("word", "severity"),
    [
        ("CRITICAL", Severity.CRITICAL),
        ("Important", Severity.HIGH),
        ("high", Severity.HIGH),
        ("MODERATE", Severity.MEDIUM),
        ("medium", Severity.MEDIUM),
        ("negligible", Severity.LOW),
        ("unimportant", Severity.LOW),
        ("not yet assigned", Severity.UNKNOWN),
        ("end-of-life", Severity.UNKNOWN),
        (None, Severity.UNKNOWN),
    ],
)
def test_every_word_maps_to_one_severity(word: object, severity: Severity) -> None:
    assert from_word(word) is severity


@pytest.mark.parametrize(
    ("score", "severity"),
    [
        (10.0, Severity.CRITICAL),
        (9.0, Severity.CRITICAL),
        (8.9, Severity.HIGH),
        (7.0, Severity.HIGH),
        (6.9, Severity.MEDIUM),
        (4.0, Severity.MEDIUM),
        (3.9, Severity.LOW),
        (0.0, Severity.LOW),
    ],
)
def test_cvss_scores_map_to_the_qualitative_bands(score: float, severity: Severity) -> None:
    assert from_score(score) is severity
