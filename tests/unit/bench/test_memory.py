"""The benchmark keeps the host from taking freed memory back, and always puts the setting back."""

from pathlib import Path

import pytest

from benchmarks import memory


@pytest.fixture
def setting(tmp_path: Path) -> Path:
    path = tmp_path / "page_reporting_order"
    path.write_text("9\n")
    return path


def test_reporting_is_paused_inside_the_block_and_restored_after(setting: Path) -> None:
    with memory.host_memory_kept(setting) as note:
        assert setting.read_text() == memory.PAUSED_ORDER
    assert setting.read_text() == "9"
    assert "paused" in note and "order 9" in note


def test_the_setting_is_restored_when_the_run_fails(setting: Path) -> None:
    with pytest.raises(KeyboardInterrupt), memory.host_memory_kept(setting):
        raise KeyboardInterrupt
    assert setting.read_text() == "9"


def test_a_machine_without_reporting_is_left_alone(tmp_path: Path) -> None:
    missing = tmp_path / "page_reporting_order"
    with memory.host_memory_kept(missing) as note:
        pass
    assert not missing.exists()
    assert note == "no free page reporting to the host"


def test_reporting_already_off_is_not_written(setting: Path) -> None:
    setting.write_text(memory.PAUSED_ORDER + "\n")
    with memory.host_memory_kept(setting) as note:
        setting.write_text("changed by someone else")
    assert setting.read_text() == "changed by someone else"
    assert "already off" in note


def test_touching_covers_a_size_that_is_not_a_whole_number_of_steps() -> None:
    size = memory.TOUCH_STEP + 4096
    assert memory.touch_and_free(size) == size
    assert memory.touch_and_free(0) == 0
