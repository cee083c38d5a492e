"""Start, watch and stop the server processes a benchmark compares.

Every server runs in its own session (process group) so that it and any workers it forks can be
stopped together by group id, and so that its memory can be summed over the whole process tree.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    """A loopback port nobody listens on right now (the usual bind-to-0 trick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """One running server process group, reachable on a loopback URL."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1]

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


def wait_until_ready(server: Server, probe_path: str, timeout: float = 60.0) -> None:
    """Poll until the server answers anything but a connection error, or fail with its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            httpx.get(server.url + probe_path, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{server.name} did not answer on {server.url} within {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM the whole group, then SIGKILL it if it lingers; safe to call twice."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        if process.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=wait)
    # Workers may outlive a leader that exited on its own.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def running(
    name: str,
    command: Sequence[str],
    url: str,
    log_path: Path,
    probe_path: str = "/",
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[Server]:
    """Run a server until the context exits, even on an exception or Ctrl-C."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            list(command),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
        )
    server = Server(name, url, process, log_path)
    try:
        wait_until_ready(server, probe_path)
        yield server
    finally:
        stop(process)


def _children(pid: int) -> list[int]:
    """Direct children of `pid`, from /proc/PID/task/*/children (CONFIG_PROC_CHILDREN)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", "rb") as children:
                found.extend(int(child) for child in children.read().split())
        except OSError:
            continue
    return found


def process_tree(root: int) -> list[int]:
    """The root pid and all its descendants."""
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(_children(pid))
    return tree


def tree_rss_bytes(pids: list[int]) -> int:
    """Resident memory of these processes right now (sum of each one's RSS)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", "rb") as statm:
                total += int(statm.read().split()[1]) * PAGE_SIZE
        except (OSError, IndexError, ValueError):
            continue
    return total


def tree_pss_bytes(pids: list[int]) -> int:
    """Proportional set size of these processes: shared pages (forked workers) counted once."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as rollup:
                for line in rollup:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError):
            continue
    return total


class PeakRssSampler:
    """Samples a process tree's RSS (and PSS) every `interval` seconds in a thread; keeps the peaks.

    A thread rather than the kernel's VmHWM because VmHWM is per process, and a server with
    workers is several processes whose peaks need not coincide. The RSS sum counts pages that
    forked workers share with their parent once per process; PSS splits them, so it is the
    footprint the machine actually pays.
    """

    def __init__(self, root: int, interval: float = 0.05, tree_refresh: float = 0.5) -> None:
        self.root = root
        self.interval = interval
        self.tree_refresh = tree_refresh
        self.peak = 0
        self.peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self, pids: list[int]) -> None:
        self.peak = max(self.peak, tree_rss_bytes(pids))
        self.peak_pss = max(self.peak_pss, tree_pss_bytes(pids))

    def _run(self) -> None:
        # Walking the tree costs more than reading statm: re-walk it only now and then.
        pids, walked = process_tree(self.root), time.monotonic()
        while not self._stop.wait(self.interval):
            if time.monotonic() - walked > self.tree_refresh:
                pids, walked = process_tree(self.root), time.monotonic()
            self._sample(pids)

    def sample_now(self) -> None:
        self._sample(process_tree(self.root))

    def __enter__(self) -> PeakRssSampler:
        self.sample_now()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample_now()


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU time used so far by a process tree (exited, reaped children included).

    On a shared machine, CPU spent per unit of work is steadier than wall-clock time: other
    tenants slow a server down but do not make it burn more cycles per request.
    """
    total = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        # After the ')' field 0 is the state; utime, stime, cutime, cstime are fields 11-14.
        total += sum(int(value) for value in fields[11:15])
    return total / CLOCK_TICKS
