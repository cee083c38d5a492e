"""Matching packages against OSV records, rule by rule (scanning/matching.py), on real and synthetic records."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from moorage.scanning.matching import match_packages
from moorage.scanning.model import Package

DATA = Path(__file__).resolve().parents[2] / "data" / "osv"


def record(name: str) -> dict[str, Any]:
    for folder in ("real", "synthetic"):
        path = DATA / folder / f"{name}.json"
        if path.exists():
            loaded: dict[str, Any] = json.loads(path.read_text())
            return loaded
    raise FileNotFoundError(name)


def package(name: str, version: str, ecosystem: str, **extra: Any) -> Package:
    return Package(name, version, ecosystem, f"pkg:generic/{name}@{version}", **extra)


def affected(pkg: Package, *records: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(record id, fixed version) of every match."""
    return [(m.vulnerability_id, m.fixed_version) for m in match_packages([pkg], records).matches]


def simple(
    events: list[dict[str, str]], range_type: str = "ECOSYSTEM", ecosystem: str = "PyPI", **entry: Any
) -> dict[str, Any]:
    return {
        "id": "TEST-1",
        "modified": "2026-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": ecosystem, "name": "pkg"},
                "ranges": [{"type": range_type, "events": events}],
                **entry,
            }
        ],
    }


# --- events -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "hit"),
    [("3.1.2", True), ("2.0", True), ("3.1.3", False), ("3.2.0", False)],
)
def test_a_real_ghsa_record_affects_versions_below_its_fix(version: str, hit: bool) -> None:
    ghsa = record("GHSA-h5c8-rqwp-cp95")
    expected = [("GHSA-h5c8-rqwp-cp95", "3.1.3")] if hit else []
    assert affected(package("Jinja2", version, "PyPI"), ghsa) == expected


def test_introduced_zero_opens_the_range_before_every_version() -> None:
    assert affected(package("pkg", "0.0.1", "PyPI"), simple([{"introduced": "0"}])) == [("TEST-1", None)]


def test_a_version_below_introduced_is_not_affected() -> None:
    assert affected(package("pkg", "0.9", "PyPI"), simple([{"introduced": "1.0"}, {"fixed": "2.0"}])) == []


def test_the_fixed_version_is_the_fix_of_the_interval_the_version_is_in() -> None:
    log4j = record("GHSA-jfh8-c2jp-5v3q")
    name = "org.apache.logging.log4j:log4j-core"
    assert affected(package(name, "2.14.1", "Maven"), log4j) == [("GHSA-jfh8-c2jp-5v3q", "2.15.0")]
    assert affected(package(name, "2.12.1", "Maven"), log4j) == [("GHSA-jfh8-c2jp-5v3q", "2.12.2")]
    assert affected(package(name, "2.3", "Maven"), log4j) == [("GHSA-jfh8-c2jp-5v3q", "2.3.1")]
    assert affected(package(name, "2.12.2", "Maven"), log4j) == []
    assert affected(package(name, "2.15.0", "Maven"), log4j) == []


def test_several_intervals_in_one_range_each_report_their_own_fix() -> None:
    two = simple([{"introduced": "1.0"}, {"fixed": "1.5"}, {"introduced": "2.0"}, {"fixed": "2.5"}])
    assert affected(package("pkg", "1.2", "PyPI"), two) == [("TEST-1", "1.5")]
    assert affected(package("pkg", "1.7", "PyPI"), two) == []
    assert affected(package("pkg", "2.1", "PyPI"), two) == [("TEST-1", "2.5")]


def test_unsorted_events_are_sorted_before_the_walk() -> None:
    shuffled = simple([{"fixed": "2.5"}, {"introduced": "2.0"}, {"fixed": "1.5"}, {"introduced": "1.0"}])
    assert affected(package("pkg", "2.1", "PyPI"), shuffled) == [("TEST-1", "2.5")]
    assert affected(package("pkg", "1.7", "PyPI"), shuffled) == []


@pytest.mark.parametrize(("version", "hit"), [("0.9", False), ("1.0", True), ("2.1.214", True), ("2.1.215", False)])
def test_last_affected_includes_its_own_version_and_nothing_above(version: str, hit: bool) -> None:
    last = record("MOORAGE-TEST-LAST-AFFECTED-1")
    found = affected(package("made-up-package", version, "PyPI"), last)
    assert found == ([("MOORAGE-TEST-LAST-AFFECTED-1", None)] if hit else [])


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("0.9.0", []),
        ("1.2.0", ["1.4.2"]),
        ("1.4.2", []),
        ("2.0.0", [None]),
        ("2.9.9", [None]),
        ("3.0.0", []),
        ("4.0.0", []),
    ],
)
def test_limit_bounds_the_whole_range(version: str, expected: list[str | None]) -> None:
    limited = record("MOORAGE-TEST-LIMIT-1")
    found = affected(package("made-up-package", version, "npm"), limited)
    assert found == [("MOORAGE-TEST-LIMIT-1", fixed) for fixed in expected]


def test_a_limit_of_star_is_infinity() -> None:
    starred = simple([{"introduced": "1.0.0"}, {"limit": "*"}], "SEMVER", "npm")
    assert affected(package("pkg", "99.0.0", "npm"), starred) == [("TEST-1", None)]


# --- versions lists, GIT ranges -------------------------------------------------------------------


def test_a_versions_list_matches_exactly_the_listed_versions() -> None:
    ubuntu = record("UBUNTU-CVE-2025-38094")
    kernel = package("linux", "3.13.0-24.47", "Ubuntu:14.04")
    assert [m for m, _ in affected(kernel, ubuntu)] == ["UBUNTU-CVE-2025-38094"]


def test_a_git_range_matches_nothing_by_itself_but_its_versions_list_does() -> None:
    git = {
        "id": "TEST-GIT",
        "modified": "2026-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "pkg"},
                "ranges": [{"type": "GIT", "repo": "https://example.invalid/r", "events": [{"introduced": "a" * 40}]}],
                "versions": ["1.0"],
            }
        ],
    }
    assert affected(package("pkg", "1.0", "PyPI"), git) == [("TEST-GIT", None)]
    outcome = match_packages([package("pkg", "1.1", "PyPI")], [git])
    assert outcome.matches == () and outcome.unmatchable == ()


# --- orderings --------------------------------------------------------------------------------


def test_semver_ranges_order_by_semver_even_in_an_ecosystem_with_its_own_rules() -> None:
    gin = record("GO-2020-0001")
    assert affected(package("github.com/gin-gonic/gin", "v1.5.0", "Go"), gin) == [("GO-2020-0001", "1.6.0")]
    assert affected(package("github.com/gin-gonic/gin", "v1.10.0", "Go"), gin) == []


def test_ecosystem_ranges_order_by_the_ecosystems_rules() -> None:
    pep440 = simple([{"introduced": "0"}, {"fixed": "1.0"}])
    assert affected(package("pkg", "1.0rc1", "PyPI"), pep440) == [("TEST-1", "1.0")]  # a pre-release sorts first
    semver = simple([{"introduced": "0"}, {"fixed": "1.0.0"}], "SEMVER")
    assert affected(package("pkg", "1.0.0-rc.1", "PyPI"), semver) == [("TEST-1", "1.0.0")]


def test_an_unparseable_version_is_reported_not_matched_and_not_a_crash() -> None:
    debian = record("MOORAGE-TEST-DEBIAN-1")
    broken = package("openssl", "not a version!", "Debian:12")
    outcome = match_packages([broken], [debian])
    assert outcome.matches == ()
    assert [(u.vulnerability_id, "not a valid DebianVersion" in u.reason) for u in outcome.unmatchable] == [
        ("MOORAGE-TEST-DEBIAN-1", True)
    ]


def test_an_ecosystem_without_an_ordering_is_reported() -> None:
    unknown = simple([{"introduced": "0"}, {"fixed": "2"}], ecosystem="Made Up Ecosystem")
    outcome = match_packages([package("pkg", "1", "Made Up Ecosystem")], [unknown])
    assert outcome.matches == () and "no version ordering" in outcome.unmatchable[0].reason


# --- names, ecosystems, source packages -----------------------------------------------------------------


def test_os_packages_match_by_their_source_package_and_its_version() -> None:
    debian = record("MOORAGE-TEST-DEBIAN-1")
    libssl = package(
        "libssl3", "3.0.14-1~deb12u2+b1", "Debian:12", source_name="openssl", source_version="3.0.14-1~deb12u2"
    )
    [found] = match_packages([libssl], [debian]).matches
    assert (found.matched_name, found.matched_version, found.fixed_version) == (
        "openssl",
        "3.0.14-1~deb12u2",
        "3.0.15-1~deb12u1",
    )
    assert found.package is libssl


def test_alpine_and_rpm_source_packages_match_with_their_own_version_rules() -> None:
    alpine = record("MOORAGE-TEST-ALPINE-1")
    libcrypto = package("libcrypto3", "3.3.2-r0", "Alpine:v3.20", source_name="openssl", source_version="3.3.2-r0")
    assert affected(libcrypto, alpine) == [("MOORAGE-TEST-ALPINE-1", "3.3.2-r1")]
    assert affected(package("libcrypto3", "3.3.2-r1", "Alpine:v3.20", source_name="openssl"), alpine) == []
    rpm = record("MOORAGE-TEST-RPM-1")
    libs = package(
        "openssl-libs", "1:3.0.7-25.el9", "Rocky Linux:9", source_name="openssl", source_version="1:3.0.7-25.el9"
    )
    assert affected(libs, rpm) == [("MOORAGE-TEST-RPM-1", "1:3.0.7-27.el9")]
    assert affected(package("openssl-libs", "1:3.0.7-27.el9", "Rocky Linux:9", source_name="openssl"), rpm) == []


def test_an_advisory_for_another_release_does_not_match() -> None:
    debian = record("MOORAGE-TEST-DEBIAN-1")
    bookworm_fix_on_bullseye = package("openssl", "1.1.1w-0+deb11u2", "Debian:11")
    assert affected(bookworm_fix_on_bullseye, debian) == []  # fixed on 11, though below 12's fix
    assert affected(package("openssl", "3.0.14-1", "Alpine:v3.20"), debian) == []  # same name, other ecosystem


def test_ubuntu_releases_agree_without_their_lts_and_pro_marks() -> None:
    ubuntu = record("UBUNTU-CVE-2025-38094")
    assert affected(package("linux", "3.13.0-24.47", "Ubuntu:14.04:LTS"), ubuntu)
    assert not affected(package("linux", "3.13.0-24.47", "Ubuntu:22.04"), ubuntu)


def test_pypi_names_are_compared_in_their_normalised_form() -> None:
    last = record("MOORAGE-TEST-LAST-AFFECTED-1")  # names `Made_Up.Package`
    assert affected(package("made-up-package", "1.5", "PyPI"), last)
    assert not affected(package("made-up-package", "1.5", "npm"), last)


def test_withdrawn_records_match_nothing() -> None:
    withdrawn = {**simple([{"introduced": "0"}]), "withdrawn": "2026-01-02T00:00:00Z"}
    assert affected(package("pkg", "1.0", "PyPI"), withdrawn) == []


def test_a_thousand_packages_match_in_well_under_a_second() -> None:
    import time

    packages = [package(f"pkg{n}", "1.0", "PyPI") for n in range(1000)]
    records = [
        {**simple([{"introduced": "0"}, {"fixed": "2.0"}]), "id": f"TEST-{n}"}
        | {
            "affected": [
                {
                    "package": {"ecosystem": "PyPI", "name": f"pkg{n}"},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}],
                }
            ]
        }
        for n in range(0, 1000, 2)
    ]
    started = time.perf_counter()
    outcome = match_packages(packages, records)
    assert len(outcome.matches) == 500
    assert time.perf_counter() - started < 1.0
