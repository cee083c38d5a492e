"""Language package metadata files: Python distributions and npm packages.

Python: a `*.dist-info/METADATA` (wheels, pip) or `*.egg-info/PKG-INFO` (setuptools), or a single
`*.egg-info` file (distutils), read as RFC 822 headers; `Name` is normalised as PEP 503 does
(lower case, runs of `-_.` as one `-`), which is how PyPI, OSV's matching and purls compare names.
npm: a `package.json` at a package's root under `node_modules` with a string `name` and `version`.
"""

from __future__ import annotations

import json
import re

from moorage.scanning.inventory.dpkg import stanzas


def normalise_python_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_python_metadata(text: str) -> tuple[str, str] | None:
    """(normalised name, version) of a `METADATA` / `PKG-INFO`, or None if either is missing."""
    found = stanzas(text)
    headers = found[0] if found else {}
    name, version = headers.get("Name", ""), headers.get("Version", "")
    if not name or not version:
        return None
    return normalise_python_name(name), version


def parse_package_json(text: str) -> tuple[str, str] | None:
    """(name, version) of a `package.json`, or None unless both are non-empty strings."""
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    name, version = document.get("name"), document.get("version")
    if not isinstance(name, str) or not isinstance(version, str) or not name or not version:
        return None
    return name, version
