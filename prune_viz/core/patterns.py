"""Structured sparsity patterns: N:M groups and b_r x b_c blocks, in vectorised NumPy.

N:M (the convention of NVIDIA's sparse tensor cores and of tensorflow-model-optimization): along
the input (reduction) axis of each output column, every group of M consecutive weights keeps its N
highest-scoring weights. The input axis is the matrix view's rows (``PrunableLayer``: rows are a
unit's inputs, columns its units). For a convolution kernel (kh, kw, ..., in, out) the rows are the
kernel positions times the input channels, channels fastest, so groups run along the input channels
of each kernel position (``input_run``): when the channels (or a Dense layer's inputs) are not a
multiple of M, each run is padded with zeros to the next multiple, and a group holding r < M real
weights keeps min(N, r) of them (the padding is pruned first). Ties keep the later weight (the
earlier one is pruned first, as weight pruning's stable order prunes the lower flat index first);
NaN scores are kept.

Blocks: the matrix view is cut into b_r x b_c blocks (the last row and column of blocks may be
smaller), each ranked by the L2 norm of its scores (of its weights for magnitude); k% of the blocks
(rounded half up, of each layer or of all included layers together) with the smallest norms are
pruned whole, ties to the lower block index (row-major; layers in model order for global scope).
"""

from __future__ import annotations

import math

import numpy as np

from prune_viz.core.errors import UserError

DEFAULT_NM = (2, 4)
DEFAULT_BLOCK = (4, 4)
MAX_M = 256  # groups longer than this are not a hardware pattern: refused as a typo
MAX_BLOCK = 4096
_CHUNK = 1 << 20  # entries per column chunk when ranking groups (bounds the argsort's temporaries)


class PatternError(UserError, ValueError):
    """An N:M or block request that cannot be honoured; the message is one sentence."""


# -- parsing and checking -----------------------------------------------------------------------
def check_nm(value) -> tuple[int, int]:
    """(N, M) with 0 < N < M <= MAX_M, from a pair or a text like "2:4"; PatternError otherwise."""
    if isinstance(value, str):
        return parse_nm(value)
    try:
        n, m = value
    except (TypeError, ValueError):
        raise PatternError(f"N:M must be two whole numbers like 2:4, not {value!r}.") from None
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in (n, m)):
        raise PatternError(f"N:M must be two whole numbers like 2:4, not {value!r}.")
    n, m = int(n), int(m)
    if not 0 < n < m:
        raise PatternError(f"N:M needs 0 < N < M (e.g. 2:4), not {n}:{m}.")
    if m > MAX_M:
        raise PatternError(f"M of N:M must be at most {MAX_M}, not {m}.")
    return n, m


def parse_nm(text: str) -> tuple[int, int]:
    """ "2:4" -> (2, 4)."""
    parts = str(text).strip().split(":")
    try:
        n, m = (int(p) for p in parts)
    except ValueError:
        raise PatternError(f"N:M must be written like 2:4, not {text!r}.") from None
    return check_nm((n, m))


def check_block(value) -> tuple[int, int]:
    """(b_r, b_c) of whole numbers from 1 to MAX_BLOCK, from a pair or a text like "4x4"."""
    if isinstance(value, str):
        return parse_block(value)
    try:
        br, bc = value
    except (TypeError, ValueError):
        raise PatternError(f"A block must be two whole numbers like 4x4, not {value!r}.") from None
    if any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in (br, bc)):
        raise PatternError(f"A block must be two whole numbers like 4x4, not {value!r}.")
    br, bc = int(br), int(bc)
    if not (1 <= br <= MAX_BLOCK and 1 <= bc <= MAX_BLOCK):
        raise PatternError(f"A block's sides must be from 1 to {MAX_BLOCK}, not {br}x{bc}.")
    return br, bc


def parse_block(text: str) -> tuple[int, int]:
    """ "4x4" -> (4, 4), "1x8" -> (1, 8)."""
    parts = str(text).strip().lower().split("x")
    try:
        br, bc = (int(p) for p in parts)
    except ValueError:
        raise PatternError(f"A block must be written like 4x4 or 1x8 (rows x columns), not {text!r}.") from None
    return check_block((br, bc))


def nm_text(nm: tuple[int, int]) -> str:
    return f"{nm[0]}:{nm[1]}"


def block_text(block: tuple[int, int]) -> str:
    return f"{block[0]}x{block[1]}"


# -- N:M ----------------------------------------------------------------------------------------
_CONV_KINDS = {"Conv1D", "Conv2D", "Conv3D"}


def input_run(layer) -> int:
    """How many consecutive rows of ``layer``'s matrix view are one run of its input axis: a
    convolution kernel's input channels (its rows are kernel positions x channels), else all rows."""
    shape = layer.shape
    if layer.kind in _CONV_KINDS and not layer.mapped and len(shape) >= 3 and layer.rows % shape[-2] == 0:
        return int(shape[-2])
    return int(layer.rows)


def padded_run(run: int, m: int) -> int:
    return int(math.ceil(run / m) * m)


def padding_note(rows: int, run: int, m: int) -> str:
    """The padding of the input axis, in one sentence ("" when the axis is a multiple of M)."""
    if run % m == 0:
        return ""
    where = f"{rows // run} kernel positions x {run} input channels" if run != rows else f"{run} inputs"
    return (
        f"the input axis ({where}) is not a multiple of {m}: each run of {run} is padded with zeros to "
        f"{padded_run(run, m)}, so its last group holds {run % m} real weight{'s' if run % m != 1 else ''} "
        f"and keeps up to N of them"
    )


def _grouped(matrix: np.ndarray, m: int, run: int, fill) -> np.ndarray:
    """(runs, groups, m, columns): each run of ``run`` rows padded with ``fill`` to a multiple of m."""
    rows, cols = matrix.shape
    runs = rows // run
    blocks = matrix.reshape(runs, run, cols)
    padded = padded_run(run, m)
    if padded != run:
        blocks = np.concatenate([blocks, np.full((runs, padded - run, cols), fill, blocks.dtype)], axis=1)
    return blocks.reshape(runs, padded // m, m, cols)


def nm_keep(scores: np.ndarray, n: int, m: int, run: int) -> np.ndarray:
    """The keep-mask (rows, columns) keeping the N highest |scores| of every group of M along the rows."""
    rows, cols = scores.shape
    out = np.empty((rows, cols), bool)
    step = max(1, _CHUNK // max(1, rows))
    for c0 in range(0, cols, step):
        chunk = np.abs(np.asarray(scores[:, c0 : c0 + step], np.float32))
        grouped = _grouped(chunk, m, run, -np.inf)
        order = np.argsort(grouped, axis=2, kind="stable")  # ascending; NaN last; ties: earlier first
        keep = np.zeros(grouped.shape, bool)
        np.put_along_axis(keep, order[:, :, m - n :, :], True, axis=2)
        runs = rows // run
        out[:, c0 : c0 + step] = keep.reshape(runs, -1, keep.shape[-1])[:, :run, :].reshape(rows, -1)
    return out


def nm_group_counts(matrix: np.ndarray, m: int, run: int) -> np.ndarray:
    """Nonzero entries per group of M along the rows: (runs, groups, columns)."""
    return np.count_nonzero(_grouped(np.asarray(matrix) != 0, m, run, False), axis=2)


def is_valid_nm(matrix: np.ndarray, n: int, m: int, run: int | None = None) -> bool:
    """Whether the (rows, columns) weights hold at most N nonzeros in every group of M along the
    rows (runs of ``run`` rows padded with zeros; default: the whole rows): what a sparse tensor core
    needs. NaN counts as nonzero."""
    matrix = np.asarray(matrix)
    run = matrix.shape[0] if run is None else run
    return bool(matrix.size == 0 or nm_group_counts(matrix, m, run).max() <= n)


def layer_is_valid_nm(layer, kernel: np.ndarray, nm: tuple[int, int]) -> bool:
    """Whether ``kernel`` (of ``layer``'s shape) is valid N:M along ``layer``'s input axis."""
    return is_valid_nm(layer.as_matrix(kernel), nm[0], nm[1], input_run(layer))


def group_starts(rows: int, run: int, m: int) -> np.ndarray:
    """The rows where a group of M starts (for drawing boundaries): every M rows of each run."""
    starts = np.arange(0, run, m)
    return (np.arange(rows // run)[:, None] * run + starts[None, :]).ravel()


def packed_nm_bytes(matrix: np.ndarray, n: int, m: int, run: int | None = None, value_bytes: int = 4) -> int:
    """Bytes of the packed N:M storage of a valid N:M matrix: N values per group (float32) plus
    ceil(log2 M) bits of index per value (2 bits for 2:4, NVIDIA's metadata), padding included."""
    rows, cols = np.shape(matrix)
    run = rows if run is None else run
    groups = (rows // run) * (padded_run(run, m) // m) * cols
    index_bits = max(1, math.ceil(math.log2(m)))
    return groups * n * value_bytes + math.ceil(groups * n * index_bits / 8)


# -- blocks -------------------------------------------------------------------------------------
def block_grid(shape: tuple[int, int], block: tuple[int, int]) -> tuple[int, int]:
    """How many blocks (rows, columns) cover a matrix of ``shape``."""
    return math.ceil(shape[0] / block[0]), math.ceil(shape[1] / block[1])


def block_norms(scores: np.ndarray, block: tuple[int, int]) -> np.ndarray:
    """The L2 norm of each b_r x b_c block of ``scores`` (float64, (block rows, block columns));
    edge blocks are the cells they hold. Summed a band of blocks at a time."""
    br, bc = block
    rows, cols = scores.shape
    grid = block_grid(scores.shape, block)
    out = np.zeros(grid, np.float64)
    band = max(1, _CHUNK // max(1, cols * br))  # block rows per pass
    for b0 in range(0, grid[0], band):
        r0, r1 = b0 * br, min(rows, (b0 + band) * br)
        part = np.square(np.asarray(scores[r0:r1], np.float64))
        pad_r, pad_c = (-part.shape[0]) % br, (-cols) % bc
        if pad_r or pad_c:
            part = np.pad(part, ((0, pad_r), (0, pad_c)))
        out[b0 : b0 + band] = part.reshape(part.shape[0] // br, br, grid[1], bc).sum(axis=(1, 3))
    return np.sqrt(out)


def expand_blocks(kept_blocks: np.ndarray, block: tuple[int, int], rows: range, cols: range) -> np.ndarray:
    """The cell mask of rows x cols (ranges of matrix indices) from a block mask."""
    r = np.asarray(rows, np.int64) // block[0]
    c = np.asarray(cols, np.int64) // block[1]
    return kept_blocks[np.ix_(r, c)]


def block_cells(kept_blocks: np.ndarray, block: tuple[int, int], shape: tuple[int, int]) -> int:
    """How many cells of a ``shape`` matrix the pruned blocks (False in ``kept_blocks``) hold."""
    rows_in = np.minimum(block[0], shape[0] - np.arange(kept_blocks.shape[0]) * block[0])
    cols_in = np.minimum(block[1], shape[1] - np.arange(kept_blocks.shape[1]) * block[1])
    return int((rows_in[:, None] * cols_in[None, :])[~kept_blocks].sum())
