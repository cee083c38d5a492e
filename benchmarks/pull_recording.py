"""Does counting pulls slow the pull path? Manifest GET rate with and without governance's pull recorder.

    python -m benchmarks.pull_recording [--before REV] [--rounds N]

Starts two moorage servers on loopback with fresh SQLite data directories: "before" runs the source
tree of git revision REV (exported to a temporary directory; default: the commit before governance),
"after" runs this checkout. One image is pushed to each; then `hey -z 5s -c 32` fetches the manifest
by tag from each in interleaved rounds (A B, B A, ...) and the medians are printed.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
ACCEPT = "application/vnd.oci.image.manifest.v1+json"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(source: Path, data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": f"{source / 'src'}", "MOORAGE_PULL_FLUSH_INTERVAL": "5"}
    command = [sys.executable, "-m", "moorage", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(f"{url}/v2/", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"server from {source} did not start")


def push_image(url: str) -> None:
    with httpx.Client(base_url=url) as client:
        descriptors = []
        for data in (b'{"os":"linux","architecture":"amd64"}', os.urandom(1024)):
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            location = client.post("/v2/bench/app/blobs/uploads/").headers["location"]
            separator = "&" if "?" in location else "?"
            assert client.put(f"{location}{separator}digest={digest}", content=data).status_code == 201
            descriptors.append({"digest": digest, "size": len(data)})
        manifest = {
            "schemaVersion": 2,
            "mediaType": ACCEPT,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **descriptors[0]},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **descriptors[1]}],
        }
        response = client.put(
            "/v2/bench/app/manifests/v1", content=json.dumps(manifest), headers={"Content-Type": ACCEPT}
        )
        assert response.status_code == 201, response.text


def rate(url: str) -> float:
    output = subprocess.run(
        ["hey", "-z", "5s", "-c", "32", "-H", f"Accept: {ACCEPT}", f"{url}/v2/bench/app/manifests/v1"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    assert match and "[200]" in output, output
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="9d11b73", help="git revision to compare against")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="moorage-bench-") as work:
        before_tree = Path(work) / "before"
        before_tree.mkdir()
        archive = subprocess.run(["git", "archive", args.before, "src"], cwd=ROOT, capture_output=True, check=True)
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(before_tree, filter="data")
        servers = {
            "before": start(before_tree, Path(work) / "data-before"),
            "after": start(ROOT, Path(work) / "data-after"),
        }
        try:
            for _, url in servers.values():
                push_image(url)
            results: dict[str, list[float]] = {"before": [], "after": []}
            for round_number in range(args.rounds):
                order = ["before", "after"] if round_number % 2 == 0 else ["after", "before"]
                for name in order:
                    results[name].append(rate(servers[name][1]))
            for name, rates in results.items():
                shown = ", ".join(f"{r:,.0f}" for r in rates)
                print(f"{name:>6}: median {statistics.median(rates):,.0f} req/s  ({shown})")
        finally:
            for process, _ in servers.values():
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)


if __name__ == "__main__":
    main()
