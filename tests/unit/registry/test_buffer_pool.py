"""Upload buffers are reused from one upload to the next, and the pool keeps only a few."""

import ctypes
import mmap

from moorage.registry.uploads import BufferPool


def test_a_returned_buffer_is_the_next_one_taken() -> None:
    pool = BufferPool(size=1024, keep=2)
    first = pool.take()
    pool.give_back(first)
    assert pool.take() is first


def test_the_pool_keeps_at_most_keep_buffers() -> None:
    pool = BufferPool(size=1024, keep=2)
    buffers = [pool.take() for _ in range(3)]
    for buffer in buffers:
        pool.give_back(buffer)
    assert pool.idle == 2


def test_a_buffer_of_another_size_is_not_kept() -> None:
    pool = BufferPool(size=1024, keep=2)
    pool.give_back(mmap.mmap(-1, 10))
    assert pool.idle == 0
    assert len(pool.take()) == 1024


def test_buffers_are_page_aligned_for_direct_writes() -> None:
    buffer = BufferPool(size=1 << 20, keep=2).take()
    address = ctypes.addressof(ctypes.c_char.from_buffer(buffer))
    assert address % mmap.PAGESIZE == 0
