"""An upload's bytes start going to disk while it is written, in whole pages, without changing them."""

from __future__ import annotations

import errno
import os
import sys
from itertools import pairwise
from pathlib import Path

import pytest

from moorage.storage import writeback
from moorage.storage.filesystem import PAGE, WRITEBACK_SIZE, FileUploadWriter


class Recorder:
    def __init__(self) -> None:
        self.ranges: list[tuple[int, int]] = []

    def __call__(self, fd: int, offset: int, length: int) -> None:
        self.ranges.append((offset, offset + length))


def write_in_pieces(writer: FileUploadWriter, data: bytes, sizes: list[int]) -> None:
    start = 0
    for size in sizes:
        writer.write(data[start : start + size])
        start += size
    assert start == len(data)


def test_written_pages_are_handed_to_the_disk_in_order_and_whole(tmp_path: Path) -> None:
    path = tmp_path / "upload"
    path.touch()
    data = os.urandom(3 * WRITEBACK_SIZE + 12345)
    recorder = Recorder()
    writer = FileUploadWriter(path, 0, recorder)
    write_in_pieces(writer, data, [WRITEBACK_SIZE - 1, 1, 777, WRITEBACK_SIZE, WRITEBACK_SIZE + 10000, 1568])
    writer.close()

    assert path.read_bytes() == data
    assert recorder.ranges[0][0] == 0
    assert all(end % PAGE == 0 for _, end in recorder.ranges)
    assert all(previous[1] == following[0] for previous, following in pairwise(recorder.ranges))
    assert all(end - start >= WRITEBACK_SIZE - PAGE for start, end in recorder.ranges)
    assert len(data) - recorder.ranges[-1][1] < WRITEBACK_SIZE  # the rest is the commit's fsync's


def test_a_resumed_upload_starts_at_the_page_holding_its_offset(tmp_path: Path) -> None:
    path = tmp_path / "upload"
    first = os.urandom(5000)
    path.write_bytes(first)
    recorder = Recorder()
    writer = FileUploadWriter(path, len(first), recorder)
    rest = os.urandom(WRITEBACK_SIZE)
    writer.write(rest)
    writer.close()

    assert path.read_bytes() == first + rest
    assert recorder.ranges == [(PAGE, (len(first) + len(rest)) // PAGE * PAGE)]


def test_a_file_system_that_refuses_is_not_asked_again_and_the_bytes_still_land(tmp_path: Path) -> None:
    calls = []

    def refuse(fd: int, offset: int, length: int) -> None:
        calls.append(offset)
        raise OSError(errno.EINVAL, "not here")

    path = tmp_path / "upload"
    path.touch()
    data = os.urandom(3 * WRITEBACK_SIZE)
    writer = FileUploadWriter(path, 0, refuse)
    write_in_pieces(writer, data, [WRITEBACK_SIZE] * 3)
    writer.close()

    assert path.read_bytes() == data
    assert calls == [0]


@pytest.mark.skipif(sys.platform != "linux", reason="sync_file_range is a Linux call")
def test_the_kernel_call_accepts_a_range_of_a_regular_file(tmp_path: Path) -> None:
    assert writeback.start_writeback is not None
    path = tmp_path / "file"
    path.write_bytes(os.urandom(4 * PAGE))
    fd = os.open(path, os.O_RDONLY)
    try:
        writeback.start_writeback(fd, 0, 4 * PAGE)
        with pytest.raises(OSError) as refused:
            writeback.start_writeback(fd, -1, PAGE)  # a negative offset is invalid
        assert refused.value.errno == errno.EINVAL
    finally:
        os.close(fd)
