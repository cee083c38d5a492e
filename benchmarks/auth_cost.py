"""What authentication costs per request: manifest GET and blob HEAD rates with and without auth.

Two registries run side by side on loopback (same code, same disk): one without authentication,
one with it, where every request carries a bearer token that the guard must verify and check
against the requested repository. `hey -z 5s -c 32` drives each endpoint in interleaved rounds
(off, on, off, on, ...); medians are printed as a Markdown table.

    python -m benchmarks.auth_cost [--rounds 5] [--seconds 5]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

from tests.functional.helpers import MANIFEST_ACCEPT, push_image
from tests.support.auth import ADMIN, ADMIN_PASSWORD, client_for, token_for
from tests.support.server import RunningRegistry, start_server

WORK = Path(".benchmarks-work")
REPOSITORY = f"{ADMIN}/bench"


def hey(url: str, method: str, seconds: int, headers: dict[str, str]) -> float:
    command = ["hey", "-z", f"{seconds}s", "-c", "32", "-m", method]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    statuses = re.findall(r"\[(\d{3})\]\s+\d+ responses", output)
    assert statuses == ["200"], f"unexpected statuses {statuses} from {url}:\n{output}"
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    assert match, output
    return float(match.group(1))


def prepare(server: RunningRegistry, secured: bool) -> tuple[str, str, dict[str, str]]:
    credentials = (ADMIN, ADMIN_PASSWORD) if secured else None
    with client_for(server, credentials) as client:
        manifest = push_image(client, REPOSITORY, tag="latest")
    layer = manifest.document["layers"][0]["digest"]
    headers = {}
    if secured:
        token = token_for(server.url, credentials, f"repository:{REPOSITORY}:pull")
        headers["Authorization"] = f"Bearer {token}"
    return f"{server.url}/v2/{REPOSITORY}/manifests/latest", f"{server.url}/v2/{REPOSITORY}/blobs/{layer}", headers


def guard_microseconds(server: RunningRegistry, iterations: int = 50_000) -> tuple[float, float]:
    """The guard's own cost per request, in process (no HTTP, no load tool): cached token, first sight."""
    import asyncio
    import time

    from moorage.api.registry_guard import RegistryGuard
    from moorage.app_auth import build_auth
    from moorage.config import Settings
    from moorage.metadata.database import Database

    # The server's data directory: its secret key file decrypts the signing keys.
    settings = Settings(data_dir=server.data_dir, auth_enabled=True)
    auth = build_auth(settings, Database(settings.metadata_url()))

    async def inner(scope: object, receive: object, send: object) -> None:
        return None

    guard = RegistryGuard(inner, auth.tokens, auth.roles, settings.token_service, None)
    token = token_for(server.url, (ADMIN, ADMIN_PASSWORD), f"repository:{REPOSITORY}:pull").encode()
    path = f"/v2/{REPOSITORY}/manifests/latest"

    def scope() -> dict[str, object]:
        return {
            "type": "http",
            "method": "GET",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": [(b"host", b"registry"), (b"authorization", b"Bearer " + token)],
            "client": ("127.0.0.1", 5000),
            "scheme": "http",
        }

    async def run(count: int, fresh: bool) -> float:
        start = time.perf_counter()
        for _ in range(count):
            if fresh:
                auth.tokens._cache.clear()
            await guard(scope(), None, None)  # type: ignore[arg-type]
        return (time.perf_counter() - start) / count * 1e6

    async def baseline(count: int) -> float:
        start = time.perf_counter()
        for _ in range(count):
            await inner(scope(), None, None)
        return (time.perf_counter() - start) / count * 1e6

    cached = asyncio.run(run(iterations, False)) - asyncio.run(baseline(iterations))
    fresh = asyncio.run(run(iterations // 10, True)) - asyncio.run(baseline(iterations // 10))
    return cached, fresh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    arguments = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(dir=WORK, prefix="auth-cost-"))
    results: dict[tuple[str, str], list[float]] = {}
    try:
        settings = {"auth_enabled": "true", "admin_username": ADMIN, "admin_password": ADMIN_PASSWORD}
        with start_server(root / "off") as off, start_server(root / "on", **settings) as on:
            targets = {"off": prepare(off, False), "on": prepare(on, True)}
            cached_us, fresh_us = guard_microseconds(on)
            for _ in range(arguments.rounds):
                for mode, (manifest_url, blob_url, headers) in targets.items():
                    get_headers = {**headers, "Accept": MANIFEST_ACCEPT}
                    results.setdefault((mode, "GET manifest"), []).append(
                        hey(manifest_url, "GET", arguments.seconds, get_headers)
                    )
                    results.setdefault((mode, "HEAD blob"), []).append(
                        hey(blob_url, "HEAD", arguments.seconds, headers)
                    )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print("| request | auth off (req/s) | auth on (req/s) | cost |")
    print("|---|---|---|---|")
    for request in ("GET manifest", "HEAD blob"):
        off_rate = statistics.median(results[("off", request)])
        on_rate = statistics.median(results[("on", request)])
        extra_us = (1 / on_rate - 1 / off_rate) * 1e6
        print(
            f"| {request} | {off_rate:,.0f} | {on_rate:,.0f} | {100 * (1 - on_rate / off_rate):+.1f} % "
            f"({extra_us:+.0f} µs per request at c=32) |"
        )
    print(
        f"\nGuard in process: {cached_us:.1f} µs per request with a token seen before (cache hit), "
        f"{fresh_us:.1f} µs for a token seen the first time (Ed25519 signature and claims checked)."
    )
    for key, values in sorted(results.items()):
        print(f"<!-- {key}: {', '.join(f'{v:,.0f}' for v in values)} -->")


if __name__ == "__main__":
    main()
