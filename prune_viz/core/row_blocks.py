"""Big kernels are read and written in blocks of whole rows, so no full-size temporary exists.

One place for the block size, the row blocks of an array or a variable, and the row
writes into a TensorFlow variable that the pruner uses to write pruned kernels.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

BLOCK_ELEMENTS = 1 << 22  # about 16 MB of float32
T = TypeVar("T")
R = TypeVar("R")
BLOCK_THREADS = 2  # blocks counted, or computed and written, at once: one thread leaves memory bandwidth unused


def rows_per_block(shape: tuple[int, ...], elements: int | None = None) -> int:
    """How many leading-axis rows of an array of ``shape`` make about ``elements`` (BLOCK_ELEMENTS)."""
    row = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    return max(1, (elements or BLOCK_ELEMENTS) // max(row, 1))


def is_big(shape: tuple[int, ...]) -> bool:
    """True for arrays worth handling in row blocks (2-D or more, over BLOCK_ELEMENTS)."""
    return len(shape) >= 2 and int(np.prod(shape)) > BLOCK_ELEMENTS


def row_starts(shape: tuple[int, ...], elements: int | None = None) -> Iterator[tuple[int, int]]:
    """(first row, end row) of each block of about ``elements`` (BLOCK_ELEMENTS) along the leading axis."""
    step = rows_per_block(shape, elements)
    for r0 in range(0, shape[0], step):
        yield r0, min(shape[0], r0 + step)


def row_blocks(matrix: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, rows) views of an array, about BLOCK_ELEMENTS each."""
    for r0, r1 in row_starts(matrix.shape):
        yield r0, matrix[r0:r1]


_block_threads: list[ThreadPoolExecutor] = []  # made on first use, kept for the process


def on_block_threads(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """[fn(item) for item in items], on BLOCK_THREADS threads kept for the process, each running at
    no higher a CPU priority than the caller's (a background job's blocks stay in the background);
    re-raises the first error. For NumPy and TensorFlow work on blocks, which lets go of the GIL;
    ``fn`` must not call it again (it would wait for the threads it holds)."""
    items = list(items)
    if len(items) < 2:  # one block (any small kernel): no thread to hand it to
        return [fn(item) for item in items]
    if not _block_threads:
        _block_threads.append(ThreadPoolExecutor(BLOCK_THREADS, thread_name_prefix="prune-viz blocks"))
    caller = _nice()

    def run(item: T) -> R:
        if caller is not None and (_nice() or 0) < caller:  # raising a nice value needs no privilege
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), caller)
        return fn(item)

    return list(_block_threads[0].map(run, items))


def _nice() -> int | None:
    """The calling thread's nice value (Linux), None where threads have none of their own."""
    if not hasattr(os, "getpriority") or not os.path.isdir("/proc/self/task"):
        return None
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def write_rows(variable, shape: tuple[int, ...], value_of: Callable[[int, int], object]) -> None:
    """Write a tf.Variable of ``shape`` in place, block of rows by block of rows: ``value_of(r0, r1)``
    gives rows r0:r1, on the block threads (``on_block_threads``).

    Rows go in with a scatter update, which copies whole rows (a strided-slice assign is several
    times slower). A scatter leaves the variable in copy-on-read mode, where every later read (each
    forward pass) copies the whole kernel and TensorFlow keeps that memory: it is switched off."""
    import tensorflow as tf

    if not hasattr(variable, "handle"):  # not a resource variable: a sliced assign
        for r0, r1 in row_starts(shape):
            variable[r0:r1].assign(value_of(r0, r1))
        return

    def write(rows: tuple[int, int]) -> None:
        r0, r1 = rows
        tf.raw_ops.ResourceScatterUpdate(resource=variable.handle, indices=tf.range(r0, r1), updates=value_of(r0, r1))

    blocks = list(row_starts(shape))
    on_block_threads(write, blocks)
    tf.raw_ops.DisableCopyOnRead(resource=variable.handle)
