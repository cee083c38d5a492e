"""Maintenance leases and runs of a process that died are taken over and marked at once, not after the TTL."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from moorage.metadata import holders, lifecycle_store, maintenance
from moorage.metadata.database import Database
from moorage.metadata.lifecycle_schema import gc_runs, lifecycle_runs

TTL = timedelta(minutes=5)


def holder_of_a_finished_process() -> str:
    """The holder id a process on this machine had: it has exited, as after `kill -9`."""
    code = "from moorage.metadata import holders; print(holders.new_holder('gc'))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_a_holder_is_dead_only_when_its_process_on_this_machine_is_gone() -> None:
    mine = holders.new_holder("gc")
    assert len(mine) <= 64 and not holders.is_dead(mine)
    dead = holder_of_a_finished_process()
    assert holders.is_dead(dead)
    job, machine, boot, pid, start, suffix = dead.rsplit("-", 5)
    assert not holders.is_dead(f"{job}-ffffffff-{boot}-{pid}-{start}-{suffix}")  # another machine: its TTL rules
    assert holders.is_dead(f"{job}-{machine}-ffffffff-{pid}-{start}-{suffix}")  # this machine, an earlier boot
    assert not holders.is_dead("gc-0123456789ab")  # an older id: its TTL rules


def test_a_killed_holder_not_yet_reaped_is_dead() -> None:
    """After `kill -9` of a server whose parent died too, its worker may stay a zombie for as long as
    nothing reaps orphans (no init in many containers): it holds nothing any more."""
    code = "import sys; from moorage.metadata import holders; print(holders.new_holder('gc')); sys.stdout.flush()"
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    holder = child.stdout.read().strip()  # the child has exited; not waited for, it stays a zombie
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the child did not exit"
        time.sleep(0.01)
    try:
        assert holders.is_dead(holder)
    finally:
        child.wait()


def database(tmp_path: Path) -> Database:
    store = Database(f"sqlite:///{tmp_path / 'metadata.db'}")
    store.migrate()
    return store


def test_a_lease_held_by_a_dead_process_is_taken_over_and_its_gc_run_is_dead(tmp_path: Path) -> None:
    store = database(tmp_path)
    dead, alive = holder_of_a_finished_process(), holders.new_holder("gc")
    with store.write() as connection:
        assert maintenance.acquire_lease(connection, "gc", dead, TTL)
        run_id = maintenance.start_gc_run(connection, False, dead)
    with store.read() as connection:
        assert maintenance.dead_gc_runs(connection) == [run_id]
    with store.write() as connection:
        maintenance.interrupt_runs(connection, gc_runs, [run_id])
        assert maintenance.acquire_lease(connection, "gc", alive, TTL)
        assert not maintenance.acquire_lease(connection, "gc", holders.new_holder("gc"), TTL)  # a live holder keeps it
    with store.read() as connection:
        assert maintenance.gc_run_list(connection, 1)[0]["status"] == "interrupted"
        assert maintenance.dead_gc_runs(connection) == []
    store.dispose()


def test_a_lifecycle_run_is_dead_when_its_lease_holder_is(tmp_path: Path) -> None:
    store = database(tmp_path)
    with store.write() as connection:
        assert maintenance.acquire_lease(connection, "lifecycle", holders.new_holder("lifecycle"), TTL)
        alive_run = lifecycle_store.start_run(connection)
    with store.read() as connection:
        assert maintenance.dead_lifecycle_runs(connection, "lifecycle") == []
    with store.write() as connection:
        maintenance.release_lease(connection, "lifecycle", maintenance.lease_holder(connection, "lifecycle") or "")
        assert maintenance.acquire_lease(connection, "lifecycle", holder_of_a_finished_process(), TTL)
    with store.read() as connection:
        assert maintenance.dead_lifecycle_runs(connection, "lifecycle") == [alive_run]
    with store.write() as connection:
        maintenance.interrupt_runs(connection, lifecycle_runs, [alive_run])
    with store.read() as connection:
        assert lifecycle_store.run(connection, alive_run)["status"] == "interrupted"  # type: ignore[index]
    store.dispose()
