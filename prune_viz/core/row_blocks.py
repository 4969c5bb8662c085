"""Big kernels are read and written in blocks of whole rows, so no full-size temporary exists.

One place for the block size, the row blocks of an array or a variable, and the row
writes into a TensorFlow variable that the pruner uses to write pruned kernels.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

BLOCK_ELEMENTS = 1 << 22  # about 16 MB of float32


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


def write_rows(variable, blocks: Iterable[tuple[int, object]]) -> None:
    """Write (first row, rows) blocks into a tf.Variable in place.

    Rows go in with a scatter update, which copies whole rows (a strided-slice assign is several
    times slower). A scatter leaves the variable in copy-on-read mode, where every later read (each
    forward pass) copies the whole kernel and TensorFlow keeps that memory: it is switched off."""
    import tensorflow as tf

    if not hasattr(variable, "handle"):  # not a resource variable: a sliced assign
        for r0, rows in blocks:
            variable[r0 : r0 + len(rows)].assign(rows)
        return
    for r0, rows in blocks:
        tf.raw_ops.ResourceScatterUpdate(resource=variable.handle, indices=tf.range(r0, r0 + len(rows)),
                                         updates=rows)
    tf.raw_ops.DisableCopyOnRead(resource=variable.handle)
