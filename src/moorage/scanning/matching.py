"""Matching packages against OSV records: a pure function from packages and records to matches.

The rules are the OSV schema's (https://ossf.github.io/osv-schema/#evaluation):
- a record affects a package when one of its `affected[]` entries names the package's ecosystem and
  name, and the installed version is listed in that entry's `versions`, or falls in one of its
  `ranges`;
- the ecosystem meets on OSV's base name (`Debian`, `Alpine`, `PyPI`…); a release suffix
  (`Debian:12`, `Alpine:v3.20`, `Ubuntu:22.04:LTS`) must agree with the package's when both have
  one, and an advisory without a suffix applies to every release. Ubuntu's `:LTS` and `Pro:` marks
  are ignored when comparing releases. A package without a release (`Red Hat`, `Maven`) meets an
  advisory of any release of its ecosystem;
- names are compared as the ecosystem spells them, except PyPI's, which are normalised (PEP 503);
- a range's events are sorted by version and walked: `introduced` at or below the version opens
  the vulnerable interval, `fixed` at or below it closes it, a `last_affected` below it closes it;
  `introduced: "0"` sorts before every version. `limit` events bound the whole range: with any
  `limit`, only versions below one of them can match (`"*"` is infinity);
- `ECOSYSTEM` ranges order versions by the ecosystem's own rules and `SEMVER` ranges by SemVer 2.0,
  both with `univers` (Debian and Ubuntu: dpkg; Alpine: apk; Red Hat, Rocky, AlmaLinux, SUSE…:
  rpm; PyPI: PEP 440; npm, crates.io: semver; Go: Go's semver; Maven, NuGet, RubyGems, Packagist:
  theirs); there is no hand-written comparator here;
- `GIT` ranges are commit hashes: a version string cannot be placed in a commit graph, so a GIT
  range matches nothing; only the entry's `versions` list (which OSV.dev fills from the tags the
  range spans) can match such a package;
- OS advisories (Debian, Ubuntu, Alpine and the RPM distributions) are written against source
  packages: a binary package with a `source_name` is matched under that name with its
  `source_version` (its own version when none is known), and also under its own name;
- the fixed version reported is the `fixed` event that closes the interval the version is in
  (None for a `last_affected` range, or an open one);
- withdrawn records match nothing.

A version the ecosystem's rules cannot parse (in the package or in a record's events) is not a
crash and not silently "not affected": the pair is returned in `MatchOutcome.unmatchable` with the
reason, and the package can still match through an exact entry of a `versions` list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from moorage.scanning.model import Package

if TYPE_CHECKING:
    from univers.versions import Version

_ORDERINGS: dict[str, str] = {
    "Debian": "DebianVersion",
    "Ubuntu": "DebianVersion",
    "Alpine": "AlpineLinuxVersion",
    "Wolfi": "AlpineLinuxVersion",
    "Chainguard": "AlpineLinuxVersion",
    "Red Hat": "RpmVersion",
    "Rocky Linux": "RpmVersion",
    "AlmaLinux": "RpmVersion",
    "openSUSE": "RpmVersion",
    "SUSE": "RpmVersion",
    "Mageia": "RpmVersion",
    "openEuler": "RpmVersion",
    "Photon OS": "RpmVersion",
    "PyPI": "PypiVersion",
    "npm": "SemverVersion",
    "crates.io": "SemverVersion",
    "Go": "GolangVersion",
    "Maven": "MavenVersion",
    "NuGet": "NugetVersion",
    "RubyGems": "RubygemsVersion",
    "Packagist": "ComposerVersion",
}
"""The version ordering of each OSV ecosystem (by base name) that `ECOSYSTEM` ranges use: a class
of `univers.versions`, by name. univers (10 MB) is imported only when versions are compared, so a
server that never scans does not carry it."""

_PACKAGE_MANAGERS_OF_DISTRIBUTIONS = ("DebianVersion", "AlpineLinuxVersion", "RpmVersion")
OS_ECOSYSTEMS = frozenset(name for name, order in _ORDERINGS.items() if order in _PACKAGE_MANAGERS_OF_DISTRIBUTIONS)
"""Distributions: their advisories name source packages and may carry the distribution's own rating."""


def split_ecosystem(ecosystem: str) -> tuple[str, str]:
    """`Debian:12` → (`Debian`, `12`); `Maven:https://…` → (`Maven`, `https://…`); `PyPI` → (`PyPI`, ``)."""
    base, _, release = ecosystem.partition(":")
    return base.strip(), release.strip()


def normalise_name(ecosystem: str, name: str) -> str:
    """The name as the index stores it: PyPI's PEP 503 form, every other ecosystem's as spelled."""
    if ecosystem == "PyPI":
        return re.sub(r"[-_.]+", "-", name).lower()
    return name


def _release_key(base: str, release: str) -> str:
    if base == "Ubuntu":
        parts = [part for part in release.split(":") if part not in {"LTS", "Pro"}]
        return ":".join(parts)
    return release


def releases_agree(base: str, package_release: str, advisory_release: str) -> bool:
    """An advisory for `advisory_release` applies to a package of `package_release` (see the rules)."""
    if not package_release or not advisory_release:
        return True
    return _release_key(base, package_release) == _release_key(base, advisory_release)


def lookup_keys(package: Package) -> list[tuple[str, str, str, str]]:
    """(ecosystem base, normalised name, version to compare, name as matched) to look a package up under."""
    base, _ = split_ecosystem(package.ecosystem)
    keys = []
    if base in OS_ECOSYSTEMS and package.source_name:
        version = package.source_version or package.version
        keys.append((base, normalise_name(base, package.source_name), version, package.source_name))
    own = (base, normalise_name(base, package.name), package.version, package.name)
    if all(key[1] != own[1] for key in keys):
        keys.append(own)
    return keys


@dataclass(frozen=True)
class Match:
    """One record affecting one package, and why."""

    record: Mapping[str, Any]
    package: Package
    affected: Mapping[str, Any]
    """The `affected[]` entry that matched (its `severity`, `ecosystem_specific`… rate the finding)."""
    matched_name: str
    """The name it matched under: the package's own, or its source package's."""
    matched_version: str
    fixed_version: str | None
    reason: str
    """`versions list`, or the range that matched: `ECOSYSTEM range [introduced 0, fixed 1.2.3)`."""

    @property
    def vulnerability_id(self) -> str:
        return str(self.record["id"])


@dataclass(frozen=True)
class Unmatchable:
    """A package and a record that could not be compared, and why (an unparseable version, no ordering)."""

    package: Package
    vulnerability_id: str
    reason: str


@dataclass(frozen=True)
class MatchOutcome:
    matches: tuple[Match, ...] = ()
    unmatchable: tuple[Unmatchable, ...] = field(default_factory=tuple)


class _CannotCompare(Exception):
    """A version in the range or the package cannot be ordered by the range's rules."""


def _parse(ordering: str, text: str) -> Version:
    return _parse_cached(ordering, text)


@lru_cache(maxsize=65536)
def _parse_cached(ordering_name: str, text: str) -> Version:
    from univers import versions as univers_versions

    ordering: type[Version] = getattr(univers_versions, ordering_name)
    try:
        return ordering(text)
    except Exception as error:  # noqa: BLE001 - univers raises InvalidVersion, ValueError or worse
        raise _CannotCompare(f"{text!r} is not a valid {ordering_name}") from error


def ordering_for(range_type: str, ecosystem_base: str) -> str | None:
    """The version class (its name in `univers.versions`) a range compares with; None when there is
    none (GIT, an unknown ecosystem)."""
    if range_type == "SEMVER":
        return "SemverVersion"
    if range_type == "ECOSYSTEM":
        return _ORDERINGS.get(ecosystem_base)
    return None


def _event(event: object) -> tuple[str, str] | None:
    """(kind, version) of one event; None for anything that is not an event object (ignored)."""
    if not isinstance(event, Mapping):
        return None
    for kind in ("introduced", "fixed", "last_affected", "limit"):
        value = event.get(kind)
        if isinstance(value, str):
            return kind, value
    return None


_KIND_ORDER = {"introduced": 0, "fixed": 1, "last_affected": 2, "limit": 3}


def in_range(version: str, range_: Mapping[str, Any], ecosystem_base: str) -> tuple[bool, str | None, str]:
    """(affected, fixed version, description) of one `ranges[]` entry for `version`.

    Raises `_CannotCompare` when the range has no ordering (GIT, an unknown ecosystem) or a version
    does not parse under it.
    """
    range_type = str(range_.get("type", ""))
    ordering = ordering_for(range_type, ecosystem_base)
    if ordering is None:
        if range_type == "GIT":
            raise _CannotCompare("GIT ranges name commits, not versions")
        raise _CannotCompare(f"no version ordering for {range_type} ranges of {ecosystem_base or 'no ecosystem'}")
    installed = _parse(ordering, version)
    listed = range_.get("events")
    events = [parsed for parsed in map(_event, listed if isinstance(listed, list) else []) if parsed is not None]
    limits = [value for kind, value in events if kind == "limit"]
    if limits and not any("*" in limit or installed < _parse(ordering, limit) for limit in limits):
        return False, None, f"{range_type} range: at or above every limit"
    timeline: list[tuple[Version | None, int, str, str]] = []
    for kind, value in events:
        if kind == "limit":
            continue
        point = None if kind == "introduced" and value == "0" else _parse(ordering, value)
        timeline.append((point, _KIND_ORDER[kind], kind, value))
    timeline.sort(key=_timeline_key)
    vulnerable = False
    opened = ""
    for point, _, kind, value in timeline:
        if kind == "introduced" and (point is None or installed >= point):
            vulnerable, opened = True, value
        elif point is not None and _closes(kind, point, installed):
            vulnerable = False
    if not vulnerable:
        return False, None, ""
    upper = next(
        (
            (kind, value)
            for point, _, kind, value in timeline
            if kind != "introduced" and point is not None and point >= installed
        ),
        None,
    )
    fixed = upper[1] if upper is not None and upper[0] == "fixed" else None
    closing = f"{upper[0]} {upper[1]}" if upper is not None else "no fix"
    bracket = "]" if upper is not None and upper[0] == "last_affected" else ")"
    return True, fixed, f"{range_type} range [introduced {opened}, {closing}{bracket}"


def _closes(kind: str, point: Version, installed: Version) -> bool:
    """A `fixed` at or below the version, or a `last_affected` below it, ends the vulnerable interval."""
    return (kind == "fixed" and installed >= point) or (kind == "last_affected" and installed > point)


def _timeline_key(item: tuple[Version | None, int, str, str]) -> tuple[int, Version | None, int]:
    point, order, _, _ = item
    return (0, None, order) if point is None else (1, point, order)


def match_entry(
    record: Mapping[str, Any], affected: Mapping[str, Any], package: Package, name: str, version: str
) -> tuple[Match | None, list[str]]:
    """Whether one `affected[]` entry (already known to name this package) covers `version`.

    Returns the match (or None) and the reasons any range could not be evaluated.
    """
    ecosystem_base, _ = split_ecosystem(str((affected.get("package") or {}).get("ecosystem", "")))
    problems: list[str] = []
    listed = affected.get("versions")
    if isinstance(listed, list) and version in listed:
        return Match(record, package, affected, name, version, None, "versions list"), problems
    for range_ in affected.get("ranges") or []:
        if not isinstance(range_, Mapping):
            continue
        try:
            hit, fixed, description = in_range(version, range_, ecosystem_base)
        except _CannotCompare as error:
            if range_.get("type") != "GIT":  # documented: GIT ranges never match by themselves
                problems.append(str(error))
            continue
        if hit:
            return Match(record, package, affected, name, version, fixed, description), problems
    return None, problems


def match_packages(packages: Sequence[Package], records: Iterable[Mapping[str, Any]]) -> MatchOutcome:
    """Every (record, package) pair where the record affects the package, per the rules above.

    `records` may hold records for other packages (the database returns candidates by name); each
    pair matches at most once, by the first `affected[]` entry that covers it.
    """
    by_key: dict[tuple[str, str], list[tuple[Package, str, str, str]]] = {}
    for package in packages:
        _, release = split_ecosystem(package.ecosystem)
        for base, name, version, shown in lookup_keys(package):
            by_key.setdefault((base, name), []).append((package, release, version, shown))
    matches: list[Match] = []
    unmatchable: list[Unmatchable] = []
    for record in records:
        if record.get("withdrawn"):
            continue
        matched: set[int] = set()
        for affected in record.get("affected") or []:
            named = affected.get("package") if isinstance(affected, Mapping) else None
            if not isinstance(named, Mapping):
                continue
            base, advisory_release = split_ecosystem(str(named.get("ecosystem", "")))
            key = (base, normalise_name(base, str(named.get("name", ""))))
            for package, release, version, shown in by_key.get(key, ()):
                if id(package) in matched or not releases_agree(base, release, advisory_release):
                    continue
                found, problems = match_entry(record, affected, package, shown, version)
                if found is not None:
                    matched.add(id(package))
                    matches.append(found)
                else:
                    unmatchable.extend(Unmatchable(package, str(record.get("id")), p) for p in problems)
    return MatchOutcome(tuple(matches), tuple(_without_matched(unmatchable, matches)))


def _without_matched(unmatchable: list[Unmatchable], matches: list[Match]) -> list[Unmatchable]:
    """A pair that matched through another entry or name is not reported as unmatchable too."""
    done = {(id(m.package), m.vulnerability_id) for m in matches}
    seen: set[tuple[int, str, str]] = set()
    kept = []
    for item in unmatchable:
        key = (id(item.package), item.vulnerability_id, item.reason)
        if (id(item.package), item.vulnerability_id) in done or key in seen:
            continue
        seen.add(key)
        kept.append(item)
    return kept
