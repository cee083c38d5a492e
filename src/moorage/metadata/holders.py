"""Who holds a maintenance lease: an id that names the process, so a dead holder is seen at once.

A lease expires after its time-to-live, which must outlast the slowest batch of work (minutes).
A holder id also names the machine (host name and PID namespace), the boot and the process (PID
and its start time, so a reused PID is not mistaken for the holder). A process on the same machine
can then tell that a holder died — a crash, `kill -9`, a reboot — and take over its lease and mark
its run `interrupted` immediately. A holder on another machine (a node sharing PostgreSQL) cannot be
checked that way: its lease still lasts until it expires.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
from functools import cache
from pathlib import Path

PROC = Path("/proc")


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


@cache
def _machine() -> str:
    """This host as its processes see each other: the host name and the PID namespace."""
    try:
        namespace = os.readlink(PROC / "self" / "ns" / "pid")
    except OSError:
        namespace = ""
    return _short_hash(f"{socket.gethostname()}\0{namespace}")


@cache
def _boot() -> str:
    boot_id = _read(PROC / "sys" / "kernel" / "random" / "boot_id")
    return _short_hash(boot_id) if boot_id else "0"


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), if it runs.

    A zombie (killed, not yet reaped: its parent died too and no init reaps orphans, as in many
    containers) has no start time here: it holds no lease any more."""
    stat = _read(PROC / str(pid) / "stat")
    if not stat:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # the command name in parentheses may hold spaces
    if len(fields) <= 19 or fields[0] in ("Z", "X"):
        return None
    return fields[19]


def new_holder(job: str) -> str:
    """An id for this process holding the lease of `job` (at most 64 characters)."""
    pid = os.getpid()
    start = _start_time(pid) or "0"
    return f"{job[:12]}-{_machine()}-{_boot()}-{pid}-{start}-{secrets.token_hex(2)}"


def is_dead(holder: str) -> bool:
    """True only when the holder provably no longer runs: it ran on this machine and its process is gone.

    Ids of other machines, or of an older format, are never called dead: their leases expire instead.
    """
    parts = holder.rsplit("-", 5)
    if len(parts) != 6 or not (_start_time(os.getpid()) and parts[3].isdigit()):
        return False
    _, machine, boot, pid, start, _ = parts
    if machine != _machine():
        return False
    if boot != _boot():
        return True
    return _start_time(int(pid)) != start
