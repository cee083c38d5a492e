"""docs/authentication.md's threat model names the test behind each line: every one it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_FOLDER = ROOT / "tests" / "functional" / "auth"


def _threat_model() -> str:
    text = (ROOT / "docs" / "authentication.md").read_text()
    return text.split("## Threat model", 1)[1].split("\n## ", 1)[0]


def _references(section: str) -> list[tuple[Path, str | None]]:
    """Each `file.py` or `file.py::test_name` (and `::test_name` after one) the section names."""
    found: list[tuple[Path, str | None]] = []
    current: Path | None = None
    for reference in re.findall(r"`([^`]*(?:\.py|::test_\w+)[^`]*)`", section):
        path, _, name = reference.partition("::")
        if path:
            current = ROOT / path if "/" in path else DEFAULT_FOLDER / path
        assert current is not None, f"{reference} names a test before any file"
        found.append((current, name or None))
    return found


def test_every_test_the_threat_model_names_exists() -> None:
    references = _references(_threat_model())
    assert len(references) >= 20
    for path, name in references:
        assert path.is_file(), f"the threat model names {path.relative_to(ROOT)}, which does not exist"
        if name is not None:
            assert re.search(rf"^def {name}\(", path.read_text(), re.M), f"{path.name} has no {name}"
