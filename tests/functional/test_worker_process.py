"""`moorage worker` does the background work of nodes that only serve HTTP (`background_work = false`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import StartRegistry
from tests.functional.test_scan_on_push import VULNERABLE, finished, push_debian_image, scan_of


def test_a_node_without_background_work_leaves_the_scan_to_a_worker_process(
    start_registry: StartRegistry, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    node = start_registry(data_dir=data_dir, background_work="false", scan_on_push="true")
    with httpx.Client(base_url=node.url, timeout=30) as registry, httpx.Client(base_url=f"{node.url}/api/v1") as api:
        push_debian_image(registry, "work/app", "v1", VULNERABLE)
        deadline = time.monotonic() + 3  # three poll intervals of an idle job worker, had there been one
        while time.monotonic() < deadline:
            assert scan_of(api, "work/app", "v1")["scan"]["status"] == "PENDING"
            time.sleep(0.5)
        environment = {key: value for key, value in os.environ.items() if not key.startswith("MOORAGE_")}
        log = (tmp_path / "worker.log").open("wb")
        worker = subprocess.Popen(
            [sys.executable, "-m", "moorage", "worker", "--data-dir", str(data_dir)],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            answer = finished(api, "work/app", "v1")
            assert answer["scan"]["status"] == "COMPLETE", answer
        finally:
            worker.send_signal(signal.SIGTERM)
            status = worker.wait(timeout=60)
            log.close()
        assert status == 0, (tmp_path / "worker.log").read_text(errors="replace")[-3000:]
        assert "moorage worker running" in (tmp_path / "worker.log").read_text()
