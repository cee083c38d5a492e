"""Thin wrappers around the load tools (wrk, hey, curl) that return numbers, or raise.

The tools are native programs on purpose: a Python client would spend more CPU than the server it
measures on a 2-core machine. Any request that fails makes the measurement fail rather than count.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

MB = 1_000_000  # throughput is reported in decimal megabytes per second


class LoadToolError(RuntimeError):
    """A load tool failed, or some of its requests did not succeed."""


def _run(command: Sequence[str], timeout: float) -> str:
    result = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise LoadToolError(f"{command[0]} exited {result.returncode}: {result.stderr.strip()[:500]}")
    return result.stdout


def wrk_lua_script(path: Path, headers: Mapping[str, str]) -> Path:
    """Write a wrk script that sets request headers (wrk has no -H for every request otherwise)."""
    lines = [f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def wrk_rps(
    url: str, *, threads: int = 2, connections: int = 32, seconds: int = 5, script: Path | None = None
) -> float:
    """Requests per second of GET `url`; raises when any response was not 2xx/3xx or errored."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s"]
    if script is not None:
        command += ["-s", str(script)]
    output = _run([*command, url], timeout=seconds + 30)
    if match := re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output):
        raise LoadToolError(f"wrk got {match.group(1)} non-2xx responses from {url}")
    if match := re.search(r"Socket errors:.*", output):
        raise LoadToolError(f"wrk {match.group(0)} on {url}")
    match = re.search(r"Requests/sec:\s*([\d.]+)", output)
    if match is None:
        raise LoadToolError(f"no Requests/sec in wrk output:\n{output}")
    return float(match.group(1))


def hey_rps(
    url: str, *, method: str = "HEAD", connections: int = 32, seconds: int = 5, headers: Mapping[str, str] | None = None
) -> float:
    """Requests per second with hey (used for HEAD, which wrk cannot measure: it waits for a body)."""
    command = ["hey", "-z", f"{seconds}s", "-c", str(connections), "-m", method]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    output = _run([*command, url], timeout=seconds + 30)
    statuses = {int(code): int(count) for code, count in re.findall(r"\[(\d{3})\]\s+(\d+) responses", output)}
    bad = {code: count for code, count in statuses.items() if not 200 <= code < 400}
    if bad or "Error distribution" in output:
        raise LoadToolError(f"hey got failures from {url}: {bad or output.split('Error distribution')[1][:300]}")
    match = re.search(r"Requests/sec:\s*([\d.]+)", output)
    if match is None:
        raise LoadToolError(f"no Requests/sec in hey output:\n{output}")
    return float(match.group(1))


def curl_upload(
    url: str, source: Path, *, method: str = "PUT", headers: Mapping[str, str] | None = None
) -> tuple[int, float]:
    """Send a file as the request body; returns (HTTP status, seconds).

    `Expect:` is cleared so curl does not wait for a 100 Continue before sending a big body.
    """
    command = ["curl", "-sS", "-X", method, "-T", str(source), "-H", "Expect:", "-o", "/dev/null", "-w", "%{http_code}"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    started = time.perf_counter()
    status = _run([*command, url], timeout=900)
    return int(status), time.perf_counter() - started


def curl_download(url: str, headers: Mapping[str, str] | None = None) -> tuple[int, int, float]:
    """GET a URL into /dev/null; returns (HTTP status, bytes received, seconds)."""
    command = ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    started = time.perf_counter()
    status, size = _run([*command, url], timeout=900).split()
    return int(status), int(size), time.perf_counter() - started


def mb_per_s(size: int, seconds: float) -> float:
    return size / MB / seconds
