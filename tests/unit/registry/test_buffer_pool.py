"""Upload buffers are reused from one upload to the next, and the pool keeps only a few."""

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
    pool.give_back(bytearray(10))
    assert pool.idle == 0
    assert len(pool.take()) == 1024
