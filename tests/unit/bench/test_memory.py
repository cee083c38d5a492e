"""The benchmark leaves the machine's settings as found, and controls their effect by its schedule instead."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from benchmarks import memory, run


@pytest.fixture
def setting(tmp_path: Path) -> Path:
    path = tmp_path / "page_reporting_order"
    path.write_text("9\n")
    os.utime(path, (1_000_000, 1_000_000))
    return path


def test_free_page_reporting_is_only_read_and_named_in_the_report(setting: Path) -> None:
    note = memory.page_reporting(setting)
    assert setting.read_text() == "9\n" and setting.stat().st_mtime == 1_000_000
    assert "on (order 9; left as found)" in note


def test_reporting_that_is_off_or_absent_is_said_so(setting: Path, tmp_path: Path) -> None:
    setting.write_text("11\n")
    assert memory.page_reporting(setting) == "free page reporting to the host off (order 11)"
    assert memory.page_reporting(tmp_path / "absent") == "no free page reporting to the host"


def test_a_warm_up_round_goes_first_and_each_side_goes_first_in_half_the_timed_rounds() -> None:
    plan = run.make_plan(run.parse_args(["--rounds", "5"]))
    assert plan.rounds == 6  # rounded up to even
    slots = run.schedule(plan)
    assert [slot.warm_up for slot in slots] == [True] + [False] * 6
    timed = [slot for slot in slots if not slot.warm_up]
    assert [slot.index for slot in timed] == list(range(6))
    assert sum(slot.candidate_first for slot in timed) == 3


def test_the_quick_run_is_also_even_and_warmed_up() -> None:
    plan = run.make_plan(run.parse_args(["--quick"]))
    assert plan.rounds % 2 == 0 and plan.warmup_rounds == 1
    assert run.make_plan(run.parse_args(["--warmup-rounds", "0", "--rounds", "1"])).rounds == 2
