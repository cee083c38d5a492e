"""A server that never scans does not carry the scanner's libraries: `univers` and
`cyclonedx-python-lib` (about 20 MB of memory per worker together) are imported when versions are
compared or an SBOM is made, not when the app is built (docs/benchmarks.md, peak RSS)."""

from __future__ import annotations

import subprocess
import sys


def test_building_the_app_imports_no_scanning_library() -> None:
    probe = (
        "import sys, tempfile\n"
        "from moorage.app import build\n"
        "from moorage.config import Settings\n"
        "from moorage.metadata.database import Database\n"
        "directory = tempfile.mkdtemp()\n"
        "Database(f'sqlite:///{directory}/metadata.db').migrate()\n"
        "build(Settings(data_dir=directory, auth_enabled=False))\n"
        "loaded = sorted({name.split('.')[0] for name in sys.modules} & {'univers', 'cyclonedx'})\n"
        "print(loaded)\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"imported at start-up: {result.stdout}{result.stderr[-2000:]}"
