"""How one pruning config prunes one layer: a small typed plan that says which weights are kept.

A plan works on the layer's kernel seen as its (fan_in, units) matrix (rows are
inputs, columns are units; flat index = row * units + column, the kernel's own
C order). It answers "which cells are kept" for the whole matrix or for a
strided window of it without building the full mask, so the heatmap pays only
for the cells it draws and the Pruner's block writes for the rows they write.

The rules (the Pruner makes the plans, see ``prune_viz.core.pruning``):

- Weight pruning at k% zeroes the n = round(size*k/100) smallest |w| (rounding
  halves up; for global scope n counts over all included layers together). The
  order is a stable ascending sort of |w|, so among equal |w| the lower flat
  index goes first (for global scope, layers in model order, then flat index).
  NaN sorts after every number. A ``WeightPlan`` states that as a threshold t
  and a cut: pruned are every |w| < t and the weights with |w| == t whose flat
  index is below the cut.
- Unit pruning at k% zeroes whole output units (columns): the round(units*k/100)
  units with the smallest L2 norm of their incoming weights (ties to the lower
  unit index; global scope ranks the units of all included layers together).
  A ``UnitPlan`` holds which units are kept.
- Other criteria (``prune_viz.core.criteria``) replace |w| by a score per weight
  and the unit norm by a score per unit, with the same order and tie rules; a
  ``WeightPlan`` then carries its layer's score matrix and thresholds that.
- N:M pruning keeps the N highest scores of every group of M along the rows (an
  ``NMPlan`` holds its keep-mask); block pruning zeroes whole b_r x b_c blocks (a
  ``BlockPlan`` holds which blocks are kept). ``prune_viz.core.patterns`` states their rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from prune_viz.core.patterns import block_cells, expand_blocks, group_starts
from prune_viz.core.row_blocks import rows_per_block

Window = slice  # rows or columns of the matrix: start:stop:step, as numpy slices them


def _window_ranges(shape: tuple[int, int], rows: Window, cols: Window) -> tuple[range, range]:
    return range(*rows.indices(shape[0])), range(*cols.indices(shape[1]))


@dataclass(frozen=True)
class WeightPlan:
    """Weight pruning of one layer: every |w| < ``threshold`` is pruned, and so are the weights
    with |w| == ``threshold`` whose flat index is below ``cut`` (the cut falls inside a run of
    equal magnitudes; ``cut == size`` prunes all of them, ``cut == 0`` none).

    ``threshold`` is None when nothing is pruned (k = 0). For global scope it is the threshold
    of all included layers together, so a layer may have nothing below it. A NaN threshold
    means the cut is among NaN weights (NaN sorts last): every number is pruned, and the NaNs
    before the cut.
    """

    shape: tuple[int, int]  # (fan_in, units)
    pruned: int  # how many weights the plan prunes
    threshold: float | None
    cut: int
    # the (fan_in, units) float32 scores thresholded instead of |w|; None for magnitude
    scores: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def prunes_every_tie(self) -> bool:
        """True when every weight with |w| == threshold is pruned (the mask is just |w| <= t)."""
        return self.cut >= self.size

    @property
    def cut_cell(self) -> tuple[int, int]:
        """(row, column) of flat index ``cut``: ties are pruned in rows above it, and in its row
        left of it."""
        return divmod(self.cut, self.shape[1])

    def pruned_where(self, magnitude: np.ndarray, before_cut) -> np.ndarray:
        """Which weights of |w| ``magnitude`` are pruned, given whether each one's flat index is
        below the cut (a bool array broadcastable to ``magnitude``, read only when the cut falls
        inside the ties: 0 < cut < size)."""
        if self.threshold is None:
            return np.zeros(np.shape(magnitude), bool)
        magnitude = np.asarray(magnitude)
        if np.isnan(self.threshold):  # every number is below, the NaNs are the ties
            if self.prunes_every_tie:
                return np.ones(magnitude.shape, bool)
            is_nan = np.isnan(magnitude)
            return ~is_nan if self.cut == 0 else ~is_nan | (is_nan & before_cut)
        threshold = magnitude.dtype.type(self.threshold)
        with np.errstate(invalid="ignore"):
            if self.prunes_every_tie:
                return magnitude <= threshold
            if self.cut == 0:
                return magnitude < threshold
            return (magnitude < threshold) | ((magnitude == threshold) & before_cut)

    def kept(self, matrix: np.ndarray, rows: Window = slice(None), cols: Window = slice(None)) -> np.ndarray:
        """The keep-mask of ``matrix[rows, cols]``, where ``matrix`` is the layer's original
        (fan_in, units) matrix; only the window's cells are read, in row blocks (of the plan's
        scores instead, when it has any)."""
        if matrix.shape != self.shape:
            raise ValueError(f"the plan is for a {self.shape} matrix, not {matrix.shape}")
        if self.scores is not None:
            matrix = self.scores
        row_range, col_range = _window_ranges(self.shape, rows, cols)
        window = matrix[rows, cols]
        if self.threshold is None or window.size == 0:
            return np.ones(window.shape, bool)
        out = np.empty(window.shape, bool)
        cut_row, cut_col = self.cut_cell
        cols_before = np.asarray(col_range) < cut_col
        step = rows_per_block(window.shape)
        for i0 in range(0, len(row_range), step):
            before_cut = False  # only read when the cut falls inside the ties
            if 0 < self.cut < self.size:
                block_rows = np.asarray(row_range[i0 : i0 + step])[:, None]
                before_cut = (block_rows < cut_row) | ((block_rows == cut_row) & cols_before[None, :])
            np.logical_not(self.pruned_where(np.abs(window[i0 : i0 + step]), before_cut), out=out[i0 : i0 + step])
        return out


@dataclass(frozen=True, eq=False)
class UnitPlan:
    """Unit pruning of one tensor: the units where ``kept_units`` is False are pruned whole.

    For Dense and Conv kernels a unit is a column. A tensor whose units are other slices (an LSTM's
    gate columns and recurrent rows, an attention head's columns or rows) gives its maps: column
    -> unit and row -> unit (-1: no unit); a cell is pruned when its row or its column belongs to a
    pruned unit. ``threshold`` is the largest pruned unit score (of all included layers for global
    scope), None when no unit is pruned anywhere."""

    shape: tuple[int, int]  # (rows, columns)
    kept_units: np.ndarray  # bool per unit, read-only
    threshold: float | None
    column_units: np.ndarray | None = field(default=None, repr=False)
    row_units: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self):
        kept = np.array(self.kept_units, dtype=bool)
        if self.column_units is None and self.row_units is None and kept.shape != (self.shape[1],):
            raise ValueError(f"kept_units needs {self.shape[1]} entries, not {kept.shape}")
        kept.flags.writeable = False
        object.__setattr__(self, "kept_units", kept)
        if self.mapped:
            object.__setattr__(self, "_kept_columns", _kept_slices(self.column_units, kept, self.shape[1]))
            object.__setattr__(self, "_kept_rows", _kept_slices(self.row_units, kept, self.shape[0]))

    @property
    def mapped(self) -> bool:
        return self.column_units is not None or self.row_units is not None

    @property
    def pruned_units(self) -> int:
        return int(len(self.kept_units) - np.count_nonzero(self.kept_units))

    @property
    def pruned(self) -> int:
        """How many weights the plan prunes."""
        if self.mapped:
            kept = np.count_nonzero(self._kept_rows) * np.count_nonzero(self._kept_columns)
            return int(self.shape[0] * self.shape[1] - kept)
        return self.pruned_units * self.shape[0]

    def kept(
        self, matrix: np.ndarray | None = None, rows: Window = slice(None), cols: Window = slice(None)
    ) -> np.ndarray:
        """The keep-mask of ``matrix[rows, cols]`` (the values are not needed, only the shape)."""
        if matrix is not None and matrix.shape != self.shape:
            raise ValueError(f"the plan is for a {self.shape} matrix, not {matrix.shape}")
        if self.mapped:
            return self._kept_rows[rows][:, None] & self._kept_columns[cols][None, :]
        row_range, _ = _window_ranges(self.shape, rows, cols)
        return np.broadcast_to(self.kept_units[cols], (len(row_range), len(self.kept_units[cols]))).copy()


def _kept_slices(units_of: np.ndarray | None, kept_units: np.ndarray, length: int) -> np.ndarray:
    """Bool per row or column: False where it belongs to a pruned unit."""
    if units_of is None:
        return np.ones(length, bool)
    return np.where(units_of >= 0, kept_units[np.maximum(units_of, 0)], True)


@dataclass(frozen=True, eq=False)
class NMPlan:
    """N:M pruning of one tensor: ``kept_mask`` (rows, columns) keeps N of every group of M along the
    rows (runs of ``run`` rows, padded to a multiple of M: ``padding`` says so in words)."""

    shape: tuple[int, int]
    kept_mask: np.ndarray = field(repr=False)  # bool, read-only
    nm: tuple[int, int]
    run: int
    padding: str = ""
    threshold = None  # no score threshold: each group has its own

    def __post_init__(self):
        mask = np.asarray(self.kept_mask, bool)
        if mask.shape != tuple(self.shape):
            raise ValueError(f"the mask needs shape {self.shape}, not {mask.shape}")
        mask.flags.writeable = False
        object.__setattr__(self, "kept_mask", mask)
        object.__setattr__(self, "pruned", int(mask.size - np.count_nonzero(mask)))

    def kept(
        self, matrix: np.ndarray | None = None, rows: Window = slice(None), cols: Window = slice(None)
    ) -> np.ndarray:
        """The keep-mask of ``matrix[rows, cols]`` (the values are not needed, only the shape)."""
        if matrix is not None and matrix.shape != self.shape:
            raise ValueError(f"the plan is for a {self.shape} matrix, not {matrix.shape}")
        return np.array(self.kept_mask[rows, cols])

    def boundaries(self) -> tuple[np.ndarray, np.ndarray]:
        """Where the pattern's cells start (for drawing them): the rows that start a group of M (every M
        rows of each run of the input axis) and no columns (each column has its own groups)."""
        return group_starts(self.shape[0], self.run, self.nm[1]), np.zeros(0, np.int64)


@dataclass(frozen=True, eq=False)
class BlockPlan:
    """Block pruning of one tensor: the b_r x b_c blocks where ``kept_blocks`` is False are pruned
    whole. ``threshold`` is the largest pruned block norm (of all included layers for global scope),
    None when no block is pruned."""

    shape: tuple[int, int]
    kept_blocks: np.ndarray = field(repr=False)  # bool (block rows, block columns), read-only
    block: tuple[int, int]
    threshold: float | None

    def __post_init__(self):
        kept = np.array(self.kept_blocks, dtype=bool)
        kept.flags.writeable = False
        object.__setattr__(self, "kept_blocks", kept)
        object.__setattr__(self, "pruned", block_cells(kept, self.block, self.shape))

    @property
    def pruned_blocks(self) -> int:
        return int(self.kept_blocks.size - np.count_nonzero(self.kept_blocks))

    def kept(
        self, matrix: np.ndarray | None = None, rows: Window = slice(None), cols: Window = slice(None)
    ) -> np.ndarray:
        """The keep-mask of ``matrix[rows, cols]`` (the values are not needed, only the shape)."""
        if matrix is not None and matrix.shape != self.shape:
            raise ValueError(f"the plan is for a {self.shape} matrix, not {matrix.shape}")
        row_range, col_range = _window_ranges(self.shape, rows, cols)
        return expand_blocks(self.kept_blocks, self.block, row_range, col_range)

    def boundaries(self) -> tuple[np.ndarray, np.ndarray]:
        """Where the pattern's cells start (for drawing them): the rows and the columns that start a block."""
        return np.arange(0, self.shape[0], self.block[0]), np.arange(0, self.shape[1], self.block[1])


PatternPlan = NMPlan | BlockPlan
LayerPlan = WeightPlan | UnitPlan | NMPlan | BlockPlan
