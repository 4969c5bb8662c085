"""The ascending order of |w| of one weight matrix, from one pass over it and no sort.

A non-negative float32 orders like its bit pattern. Opening a matrix makes one
pass: it counts the patterns by their high 16 bits (a bucket), and keeps only
the counts: nothing per weight. Buckets are joined into runs of about 1/GROUPS of
the weights (a group), whose patterns are one range. An order statistic needs the
sorted contents of one bucket only: its group is read when first asked for (a
pass over the matrix finds the weights in its range, sorted with their flat
positions) and kept in a small cache, so a k step costs at most one pass, not a
sort of the matrix. Matrices of up to SORTED_WHOLE weights are sorted whole when
opened instead (their bit patterns, of which the low 16 bits are kept: 2 bytes
per weight).

NaNs count as equal to each other and larger than infinity. Ties keep their flat
order, so the m-th weight equal to t in flat order is one lookup too.
"""

from __future__ import annotations

import math
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from prune_viz.core.row_blocks import BLOCK_ELEMENTS, on_block_threads

BUCKETS = 1 << 15  # |w| has no sign bit, so the high 16 bits of its pattern are below 2**15
GROUPS = 256  # runs of buckets holding about 1/GROUPS of the weights each: what one group read sorts
CACHED_GROUPS = 8  # sorted groups kept per matrix: a slider drag revisits the same few ...
CACHED_SHARE = 1 / 64  # ... as long as they hold at most this share of the weights (a group may hold more
# than 1/GROUPS when one bucket does)
SORTED_WHOLE = 1 << 20  # matrices up to this many weights are sorted whole when opened (2 bytes per weight, as
# the buckets of the others): a k step is then lookups only
_COUNT_CHUNK = 1 << 20
_ABS_MASK = np.uint32(0x7FFFFFFF)
_INF_BITS = np.uint32(0x7F800000)
_NAN_BITS = np.uint32(0x7FC00000)
_HIGH_HALF = 1 if sys.byteorder == "little" else 0  # which uint16 of a uint32 holds its high bits


def abs_bits(values: np.ndarray) -> np.ndarray:
    """Bit patterns of |values| (float32) as uint32, with every NaN made the same pattern."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32) & _ABS_MASK
    bits[bits > _INF_BITS] = _NAN_BITS
    return bits.ravel()


def _float32_at_least(value: float) -> np.float32:
    """The smallest float32 >= value: for float32 w, w < value exactly when w < this."""
    rounded = np.float32(value)
    return rounded if float(rounded) >= value else np.nextafter(rounded, np.float32(np.inf))


def _bits_of(value) -> int:
    return int(abs_bits(np.asarray([value], np.float32))[0])


def _as_float(bits: int) -> np.float32:
    return np.uint32(bits).view(np.float32)


def _count_block(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One row block's bucket counts and largest |w| pattern per column."""
    bits = np.ascontiguousarray(block, dtype=np.float32).view(np.uint32) & _ABS_MASK
    block_max = bits.max(axis=0) if bits.size else np.zeros(bits.shape[-1:], np.uint32)
    if block_max.max(initial=0) > _INF_BITS:  # NaNs: one pattern for all of them
        bits[bits > _INF_BITS] = _NAN_BITS
        block_max[block_max > _INF_BITS] = _NAN_BITS
    highs = bits.reshape(-1).view(np.uint16)[_HIGH_HALF::2]
    counts = np.zeros(BUCKETS, np.int64)
    for c0 in range(0, highs.size, _COUNT_CHUNK):  # bincount makes an 8-byte copy of what it counts
        counts += np.bincount(highs[c0 : c0 + _COUNT_CHUNK], minlength=BUCKETS)
    return counts, block_max


def _in_range(block: np.ndarray, first: np.uint32, span: np.uint32) -> tuple[np.ndarray, np.ndarray]:
    """(flat positions, |w| patterns) of a row block's weights whose pattern p has first <= p <
    first + span, in flat order. One subtraction and one compare: below ``first`` wraps to large."""
    bits = np.ascontiguousarray(block, dtype=np.float32).reshape(-1).view(np.uint32) & _ABS_MASK
    if first + span > _INF_BITS:  # the range reaches the NaNs: one pattern for all of them
        bits[bits > _INF_BITS] = _NAN_BITS
    bits -= first
    hits = np.flatnonzero(bits < span)
    found = bits[hits]
    found += first
    return hits, found


class MagnitudeOrder:
    """Ascending |w| of a (rows, units) matrix given as row blocks.

    ``blocks`` is called when the matrix is opened (twice if it is sorted whole) and again
    whenever a bucket or tie positions are first needed; it must yield the same 2-D row blocks,
    in order, every time. ``column_max`` (the largest |w| of
    each column, NaN above all) is gathered on the way."""

    def __init__(self, blocks: Callable[[], Iterable[np.ndarray]]):
        self._blocks = blocks
        counted = on_block_threads(_count_block, blocks())
        counts = np.zeros(BUCKETS, np.int64)
        column_max = None
        for block_counts, block_max in counted:
            counts += block_counts
            column_max = block_max if column_max is None else np.maximum(column_max, block_max)
        del counted
        self.column_max = (column_max if column_max is not None else np.zeros(0, np.uint32)).view(np.float32)
        self._starts = np.zeros(BUCKETS + 1, np.int64)  # bucket b holds ranks starts[b]:starts[b+1]
        np.cumsum(counts, out=self._starts[1:])
        self._position_type = np.int32 if len(self) < 2**31 else np.int64
        self._cache: OrderedDict[int, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()  # the GUI thread and a job thread may ask at once
        self._whole: np.ndarray | None = None  # low 16 bits of every |w|, ascending
        # bucket b is in group group_of[b]; group g holds buckets group_starts[g]:group_starts[g + 1]
        self._group_of = np.minimum(GROUPS - 1, self._starts[:-1] * GROUPS // max(len(self), 1)).astype(np.uint8)
        self._group_starts = np.searchsorted(self._group_of, np.arange(GROUPS + 1), side="left")
        if len(self) <= SORTED_WHOLE:
            ordered = np.concatenate([np.zeros(0, np.uint32), *(abs_bits(block) for block in blocks())])
            ordered.sort()
            self._whole = ordered.astype(np.uint16)

    def __len__(self) -> int:
        return int(self._starts[-1])

    @property
    def nbytes(self) -> int:
        """Memory held: the bucket offsets and the cached groups (or the whole sorted order)."""
        with self._lock:
            cached = sum(lows.nbytes + positions.nbytes for lows, positions in self._cache.values())
        if self._whole is not None:
            cached += self._whole.nbytes
        return (self._starts.nbytes + self._group_of.nbytes + self._group_starts.nbytes
                + self.column_max.nbytes + cached)

    @property
    def sorted_whole(self) -> bool:
        """True when the matrix was sorted whole: an order statistic is a lookup, no group read."""
        return self._whole is not None

    @property
    def bucket_starts(self) -> np.ndarray:
        """starts[b] = how many |w| lie in buckets below b (read-only; BUCKETS + 1 entries)."""
        view = self._starts.view()
        view.flags.writeable = False
        return view

    # -- buckets, read on demand by group ------------------------------------------------------
    def bucket(self, b: int) -> tuple[np.ndarray, np.ndarray | None]:
        """(low 16 bits ascending, flat positions) of the weights in bucket ``b``; equal values
        keep their flat order. A matrix sorted whole keeps no positions (None)."""
        if self._whole is not None:
            return self._whole[self._starts[b] : self._starts[b + 1]], None
        if self._starts[b] == self._starts[b + 1]:
            return np.zeros(0, np.uint16), np.zeros(0, self._position_type)
        g = int(self._group_of[b])
        with self._lock:
            found = self._cache.get(g)
            if found is not None:
                self._cache.move_to_end(g)
        if found is None:
            # read outside the lock: a thread never waits for another's pass (at worst both read a group)
            found = self._read(g)
            with self._lock:
                self._cache[g] = found
                held = sum(len(lows) for lows, _ in self._cache.values())
                limit = len(self) * CACHED_SHARE
                while len(self._cache) > 1 and (len(self._cache) > CACHED_GROUPS or held > limit):
                    held -= len(self._cache.popitem(last=False)[1][0])
        lows, positions = found
        first = self._starts[self._group_starts[g]]  # the group's lowest rank
        window = slice(self._starts[b] - first, self._starts[b + 1] - first)
        return lows[window], positions[window]

    def _read(self, g: int) -> tuple[np.ndarray, np.ndarray]:
        """Group ``g``'s low 16 bits and flat positions in ascending |w|, ties in flat order (a
        stable radix sort by the low, then the high 16 bits), from one pass over the matrix (a
        group's weights are one range of patterns)."""
        first = np.uint32(int(self._group_starts[g]) << 16)
        span = np.uint32((int(self._group_starts[g + 1]) - int(self._group_starts[g])) << 16)
        blocks = list(self._blocks())
        if len(self) > BLOCK_ELEMENTS:
            found = on_block_threads(lambda block: _in_range(block, first, span), blocks)
        else:  # a handful of small blocks: handing them to threads costs more than it saves
            found = [_in_range(block, first, span) for block in blocks]
        offsets = np.cumsum([0] + [block.size for block in blocks[:-1]])
        positions = np.concatenate([np.zeros(0, self._position_type)]
                                   + [(hits + offset).astype(self._position_type)
                                      for (hits, _), offset in zip(found, offsets)])
        bits = np.concatenate([np.zeros(0, np.uint32)] + [patterns for _, patterns in found])
        lows = (bits & 0xFFFF).astype(np.uint16)
        by_low = np.argsort(lows, kind="stable")
        order = by_low[np.argsort((bits[by_low] >> 16).astype(np.uint16), kind="stable")]
        return lows[order], positions[order]

    # -- order statistics ---------------------------------------------------------------------
    def value_at(self, rank: int) -> np.float32:
        """The |w| at 0-based ``rank`` of the ascending order."""
        b = int(np.searchsorted(self._starts, rank, side="right")) - 1
        lows, _ = self.bucket(b)
        return _as_float((b << 16) | int(lows[rank - self._starts[b]]))

    def max(self) -> np.float32:
        return self.value_at(len(self) - 1)

    def count_below(self, value) -> int:
        """How many |w| are < value (NaN compares as the largest value)."""
        return self._count(value, "left")

    def count_at_most(self, value) -> int:
        """How many |w| are <= value (NaN compares as the largest value)."""
        return self._count(value, "right")

    def _count(self, value, side: str) -> int:
        bits = _bits_of(value)
        b = bits >> 16
        start = int(self._starts[b])
        if start == self._starts[b + 1]:
            return start
        lows, _ = self.bucket(b)
        return start + int(np.searchsorted(lows, np.uint16(bits & 0xFFFF), side=side))

    def positions_equal(self, value) -> np.ndarray:
        """Flat positions of the weights with |w| == value (all NaNs for NaN), ascending."""
        bits = _bits_of(value)
        lows, positions = self.bucket(bits >> 16)
        low = np.uint16(bits & 0xFFFF)
        first, end = np.searchsorted(lows, low, side="left"), np.searchsorted(lows, low, side="right")
        if positions is not None:
            return positions[first:end]
        if first == end:  # a matrix sorted whole: look for them, if there are any
            return np.zeros(0, self._position_type)
        found, offset = [], 0
        for block in self._blocks():
            flat = abs_bits(block)
            found.append((np.flatnonzero(flat == bits) + offset).astype(self._position_type))
            offset += flat.size
        return np.concatenate(found)

    def histogram(self, bins: int) -> tuple[np.ndarray, np.ndarray]:
        """(counts, edges) of the finite |w| from 0 up to the largest, like ``np.histogram`` with
        these edges (half-open bins but the last). The edges are multiples of a power of two, with
        more than bins/2 and at most ``bins`` bins: such a number has at most 8 significant bits,
        so it starts a bucket, and every count is a bucket offset (no pass over the weights)."""
        finite = self.count_below(np.inf)
        top = float(self.value_at(finite - 1)) if finite else 0.0
        if top > 0:
            step = 2.0 ** math.ceil(math.log2(top / bins))
            if math.ceil(top / step) > bins:  # log2 rounded the wrong way
                step *= 2
            edges = np.arange(max(1, math.ceil(top / step)) + 1) * step
        else:
            edges = np.linspace(0.0, 1.0, bins + 1)
        below = [self._count_below_edge(e) for e in edges[:-1]]
        below.append(finite)  # the last edge is at least the largest finite |w|
        return np.diff(np.array(below, np.int64)), edges

    def _count_below_edge(self, edge: float) -> int:
        bits = _bits_of(_float32_at_least(edge))
        if bits & 0xFFFF == 0:  # the edge starts its bucket
            return int(self._starts[bits >> 16])
        return self.count_below(_float32_at_least(edge))  # e.g. an edge among subnormals

    def to_array(self) -> np.ndarray:
        """The full ascending float32 array (for tests and small matrices)."""
        return np.concatenate([np.zeros(0, np.float32), *self._sorted_runs()])

    def _sorted_runs(self) -> Iterator[np.ndarray]:
        for b in np.flatnonzero(np.diff(self._starts)):
            lows, _ = self.bucket(int(b))
            yield ((np.uint32(b) << 16) | lows.astype(np.uint32)).view(np.float32)
