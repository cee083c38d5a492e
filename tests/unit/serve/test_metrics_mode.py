"""`moorage serve` sets up the workers' shared metrics directory before anything imports
prometheus_client: the library chooses, once, at its first import, whether counters go to the shared
files. Imported earlier by the supervisor (the process granian forks the workers from), they would
count in memory only, and `/metrics` (answered by any worker) would miss them (it happened: a
start-up check imported the webhooks; the checks now run before `moorage serve` execs the supervisor)."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_server_entry_does_not_import_prometheus_client() -> None:
    probe = (
        "import sys, moorage.supervisor, granian.server\n"
        "loaded = [name for name in sys.modules if name.startswith('prometheus_client')]\n"
        "print(loaded)\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"imported before the metrics directory is set: {result.stdout}{result.stderr}"
