"""Does the access log (and the request metrics beside it) slow pulls? Manifest GET rate, three ways.

    python -m benchmarks.access_log_cost [--before REV] [--rounds N]

Starts three moorage servers on loopback with fresh SQLite data directories: "before" runs the source
tree of git revision REV (default: the commit before the observability middleware), "log off" runs this
checkout with `access_log = false` (request ids and metrics only), "log on" this checkout with the
access log written as JSON lines to a file (real writes, as in production). One image is pushed to
each; then `hey -z 5s -c 32` fetches the manifest by tag from each in interleaved rounds (rotating
the order) and the medians are printed.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.pull_recording import free_port, push_image, rate

ROOT = Path(__file__).resolve().parent.parent


def start(source: Path, data_dir: Path, log_file: Path, **settings: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(source / "src"), **{f"MOORAGE_{k.upper()}": v for k, v in settings.items()}}
    command = [sys.executable, "-m", "moorage", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    with open(log_file, "ab") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/v2/", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"server from {source} did not start; see {log_file}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="034b3ae", help="git revision to compare against")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="moorage-bench-") as work_dir:
        work = Path(work_dir)
        before_tree = work / "before"
        before_tree.mkdir()
        archive = subprocess.run(["git", "archive", args.before, "src"], cwd=ROOT, capture_output=True, check=True)
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(before_tree, filter="data")
        servers = {
            "before": start(before_tree, work / "data-before", work / "before.log"),
            "log off": start(ROOT, work / "data-off", work / "off.log", access_log="false"),
            "log on": start(ROOT, work / "data-on", work / "on.log", access_log="true"),
        }
        try:
            for _, url in servers.values():
                push_image(url)
            names = list(servers)
            results: dict[str, list[float]] = {name: [] for name in names}
            for round_number in range(args.rounds):
                shift = round_number % len(names)
                for name in names[shift:] + names[:shift]:
                    results[name].append(rate(servers[name][1]))
            for name, rates in results.items():
                shown = ", ".join(f"{r:,.0f}" for r in rates)
                print(f"{name:>8}: median {statistics.median(rates):,.0f} req/s  ({shown})")
            lines = sum(1 for _ in (work / "on.log").open())
            print(f"access log lines written by 'log on': {lines:,}")
        finally:
            for process, _ in servers.values():
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)


if __name__ == "__main__":
    main()
