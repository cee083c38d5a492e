"""Rating a finding: one severity scale from whatever an OSV record offers, a pure function.

The sources, in the order they are asked (the first that gives a rating wins):
1. **The distribution's own rating** (`distribution`), for advisories of an OS ecosystem — the
   people who ship the package know how exposed it is there: a `severity[]` entry of type `Ubuntu`;
   the matched `affected[]` entry's `ecosystem_specific.urgency` (Debian) or
   `ecosystem_specific.severity`; or the `Critical:` / `Important:` / `Moderate:` / `Low:` prefix
   Red Hat, AlmaLinux and Rocky Linux put on an advisory's summary.
2. **CVSS computed from the vector** with the `cvss` library (`cvss_v3`, then `cvss_v4`): the
   matched `affected[]` entry's `severity[]` first (the schema lets a package carry its own), else
   the record's. v3 before v4 because it is what NVD, ECR and most scanners publish, so the numbers
   can be compared; v4 when a record has only v4. A vector that does not parse is skipped.
3. **`database_specific.severity`** (`database_specific`) of the matched entry, else of the record
   (GitHub's advisories: `CRITICAL`, `HIGH`, `MODERATE`, `LOW`).
4. **An alias's rating** (`alias:<id>`): the first of sources 1–3 that rates a record named in
   `aliases` or `upstream` which is itself in the database (a Debian record pointing at a CVE
   record with a CVSS vector), the worst if several do.
5. Otherwise `UNKNOWN`.

A rating that is present but says nothing (`not yet assigned`, `unknown`, `end-of-life`) is no
rating: the next source is asked. One mapping turns every word and score into the scale:

| Source value                                                        | Severity |
|---------------------------------------------------------------------|----------|
| `critical`; CVSS 9.0–10.0                                           | CRITICAL |
| `high`, `important`; CVSS 7.0–8.9                                   | HIGH     |
| `medium`, `moderate`; CVSS 4.0–6.9                                  | MEDIUM   |
| `low`, `negligible`, `unimportant`; CVSS 0.1–3.9 and 0.0 (`none`)    | LOW      |
| anything else, no source                                            | UNKNOWN  |
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cvss import CVSS3, CVSS4, CVSSError  # type: ignore[import-untyped]

from moorage.scanning.matching import OS_ECOSYSTEMS
from moorage.scanning.model import Severity

WORDS: dict[str, Severity] = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "important": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "moderate": Severity.MEDIUM,
    "low": Severity.LOW,
    "negligible": Severity.LOW,
    "unimportant": Severity.LOW,
    "none": Severity.LOW,
}
"""Every word a source uses for a rating (lower case); any other word is no rating."""

_SUMMARY_RATED = frozenset({"Red Hat", "Rocky Linux", "AlmaLinux"})


@dataclass(frozen=True)
class Rating:
    severity: Severity
    source: str
    """`distribution`, `cvss_v3`, `cvss_v4`, `database_specific`, `alias:<id>`, or `` when UNKNOWN."""
    cvss_score: float | None = None
    cvss_vector: str | None = None


UNRATED = Rating(Severity.UNKNOWN, "")


def from_word(word: object) -> Severity:
    """A rating word of any source, in any case; UNKNOWN when it is no rating."""
    if not isinstance(word, str):
        return Severity.UNKNOWN
    return WORDS.get(word.strip().lower(), Severity.UNKNOWN)


def from_score(score: float) -> Severity:
    """CVSS v3/v4 qualitative bands (0.0, "None", is rated LOW: it is a rating, the lowest one)."""
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    return Severity.LOW


def rate(
    record: Mapping[str, Any],
    affected: Mapping[str, Any] | None = None,
    aliases: Iterable[Mapping[str, Any]] = (),
) -> Rating:
    """The rating of `record` for the package its `affected` entry names (see the module docstring).

    `aliases` are the records of the database whose ids the record names in `aliases`/`upstream`.
    """
    own = _own(record, affected or {})
    if own is not None:
        return own
    best: Rating | None = None
    for alias in aliases:
        found = _own(alias, _same_package_entry(alias, affected or {}))
        if found is not None and (best is None or found.severity.rank > best.severity.rank):
            best = Rating(found.severity, f"alias:{alias.get('id')}", found.cvss_score, found.cvss_vector)
    return best or UNRATED


def alias_ids(record: Mapping[str, Any]) -> list[str]:
    """The ids a record says are the same vulnerability (`aliases`) or its upstream (`upstream`)."""
    found: list[str] = []
    for key in ("aliases", "upstream"):
        values = record.get(key)
        if isinstance(values, list):
            found.extend(str(value) for value in values if isinstance(value, str) and value not in found)
    return found


def _own(record: Mapping[str, Any], affected: Mapping[str, Any]) -> Rating | None:
    for source in (_distribution, _cvss, _database_specific):
        found = source(record, affected)
        if found is not None:
            return found
    return None


def _ecosystem_base(affected: Mapping[str, Any]) -> str:
    package = affected.get("package")
    ecosystem = package.get("ecosystem", "") if isinstance(package, Mapping) else ""
    return str(ecosystem).partition(":")[0]


def _severity_entries(record: Mapping[str, Any], affected: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The matched package's own `severity[]` if it has one, else the record's."""
    for holder in (affected, record):
        entries = holder.get("severity")
        if isinstance(entries, list) and entries:
            return [entry for entry in entries if isinstance(entry, Mapping)]
    return []


def _distribution(record: Mapping[str, Any], affected: Mapping[str, Any]) -> Rating | None:
    for entry in _severity_entries(record, affected):
        if entry.get("type") == "Ubuntu":
            severity = from_word(entry.get("score"))
            if severity is not Severity.UNKNOWN:
                return Rating(severity, "distribution")
    base = _ecosystem_base(affected)
    if base not in OS_ECOSYSTEMS:
        return None
    specific = affected.get("ecosystem_specific")
    if isinstance(specific, Mapping):
        for key in ("urgency", "severity"):
            severity = from_word(specific.get(key))
            if severity is not Severity.UNKNOWN:
                return Rating(severity, "distribution")
    summary = record.get("summary")
    if base in _SUMMARY_RATED and isinstance(summary, str) and ":" in summary:
        severity = from_word(summary.split(":", 1)[0])
        if severity is not Severity.UNKNOWN:
            return Rating(severity, "distribution")
    return None


def _cvss(record: Mapping[str, Any], affected: Mapping[str, Any]) -> Rating | None:
    entries = _severity_entries(record, affected)
    for kind, source in (("CVSS_V3", "cvss_v3"), ("CVSS_V4", "cvss_v4")):
        for entry in entries:
            vector = entry.get("score")
            if entry.get("type") != kind or not isinstance(vector, str):
                continue
            score = cvss_base_score(vector)
            if score is not None:
                return Rating(from_score(score), source, score, vector)
    return None


def cvss_base_score(vector: str) -> float | None:
    """The base score of a CVSS v3.x or v4.0 vector; None when it does not parse."""
    try:
        if vector.startswith("CVSS:4"):
            return float(CVSS4(vector).base_score)
        return float(CVSS3(vector).scores()[0])
    except (CVSSError, ValueError, KeyError, IndexError):
        return None


def _database_specific(record: Mapping[str, Any], affected: Mapping[str, Any]) -> Rating | None:
    for holder in (affected, record):
        specific = holder.get("database_specific")
        if isinstance(specific, Mapping):
            severity = from_word(specific.get("severity"))
            if severity is not Severity.UNKNOWN:
                return Rating(severity, "database_specific")
    return None


def _same_package_entry(record: Mapping[str, Any], affected: Mapping[str, Any]) -> Mapping[str, Any]:
    """The alias's `affected[]` entry for the same package, if it has one (its own rating may differ)."""
    wanted = affected.get("package")
    for entry in record.get("affected") or []:
        if isinstance(entry, Mapping) and isinstance(wanted, Mapping) and entry.get("package") == wanted:
            return entry
    return {}
