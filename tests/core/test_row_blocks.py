"""The block threads: results in order, the first error raised, and a background caller's blocks
run in the background too."""

from __future__ import annotations

import os
import threading

import pytest

from prune_viz.core.row_blocks import on_block_threads

LOWEST_PRIORITY = 19  # Linux's highest nice value


def _own_nice(_item=None) -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_results_come_in_the_items_order_and_an_error_is_raised():
    assert on_block_threads(lambda i: i * i, range(20)) == [i * i for i in range(20)]

    def fails_on_seven(i):
        if i == 7:
            raise ValueError("block 7")
        return i

    with pytest.raises(ValueError, match="block 7"):
        on_block_threads(fails_on_seven, range(10))


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="threads have nice values of their own on Linux")
def test_blocks_of_a_background_caller_run_at_its_lower_priority():
    on_block_threads(_own_nice, range(2))  # the kept threads exist, made from this (foreground) thread
    seen = []

    def background_job():  # the lowest priority there is: no earlier caller left the threads lower
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOWEST_PRIORITY)
        seen.append(on_block_threads(_own_nice, range(6)))

    job = threading.Thread(target=background_job)
    job.start()
    job.join(30)
    assert seen == [[LOWEST_PRIORITY] * 6]
