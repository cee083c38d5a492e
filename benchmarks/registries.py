"""How to start the two registries a benchmark compares: moorage and Distribution (the reference).

Both get a fresh storage directory on the same disk, listen on loopback only, and are probed on
`/v2/` until they answer. The candidate's command is a template so the harness can be smoke-tested
by running Distribution on both sides (`--candidate-command distribution`).
"""

from __future__ import annotations

import contextlib
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

from benchmarks.processes import Server, free_port, running

MOORAGE_COMMAND = (
    f"{shlex.quote(sys.executable)} -m moorage serve --host 127.0.0.1 --port {{port}} --data-dir {{data_dir}}"
)
DISTRIBUTION_KEYWORD = "distribution"


def distribution_config(root: Path, port: int) -> str:
    """Distribution 2.8's config: filesystem storage, deletes on, quiet logs, loopback only.

    The in-memory blob descriptor cache is what Distribution's own sample configs (and Debian's)
    enable, so the reference runs as it would be deployed. Access logs are off so that neither
    side pays for writing a log line per request when the candidate does not either.
    """
    return (
        "version: 0.1\n"
        "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
        "storage:\n"
        f"  filesystem:\n    rootdirectory: {root}\n"
        "  delete:\n    enabled: true\n"
        "  cache:\n    blobdescriptor: inmemory\n"
        "  maintenance:\n    uploadpurging:\n      enabled: false\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )


@contextlib.contextmanager
def run_distribution(work_dir: Path, name: str = "distribution") -> Iterator[Server]:
    """Debian's `docker-registry` with a fresh root directory under `work_dir`."""
    port = free_port()
    root = work_dir / f"{name}-data"
    root.mkdir(parents=True, exist_ok=True)
    config = work_dir / f"{name}.yml"
    config.write_text(distribution_config(root, port))
    url = f"http://127.0.0.1:{port}"
    with running(
        name, ["docker-registry", "serve", str(config)], url, work_dir / f"{name}.log", probe_path="/v2/"
    ) as server:
        yield server


@contextlib.contextmanager
def run_candidate(work_dir: Path, template: str, name: str = "moorage") -> Iterator[Server]:
    """The registry under test, from a command template with {port}, {data_dir} and {work_dir}."""
    if template.strip() == DISTRIBUTION_KEYWORD:
        with run_distribution(work_dir, name) as server:
            yield server
        return
    port = free_port()
    data_dir = work_dir / f"{name}-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    command = shlex.split(template.format(port=port, data_dir=data_dir, work_dir=work_dir))
    url = f"http://127.0.0.1:{port}"
    with running(name, command, url, work_dir / f"{name}.log", probe_path="/v2/") as server:
        yield server
