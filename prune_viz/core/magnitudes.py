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
CACHED_SHARE = 1 / 32  # ... as long as they hold at most this share of the weights (a group may hold more
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


def _count_block(block: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One row block's bucket counts, largest |w| pattern per column and zeros (+-0) per column."""
    bits = np.ascontiguousarray(block, dtype=np.float32).view(np.uint32) & _ABS_MASK
    block_max = bits.max(axis=0) if bits.size else np.zeros(bits.shape[-1:], np.uint32)
    if block_max.max(initial=0) > _INF_BITS:  # NaNs: one pattern for all of them
        bits[bits > _INF_BITS] = _NAN_BITS
        block_max[block_max > _INF_BITS] = _NAN_BITS
    highs = bits.reshape(-1).view(np.uint16)[_HIGH_HALF::2]
    counts = np.zeros(BUCKETS, np.int64)
    for c0 in range(0, highs.size, _COUNT_CHUNK):  # bincount makes an 8-byte copy of what it counts
        counts += np.bincount(highs[c0 : c0 + _COUNT_CHUNK], minlength=BUCKETS)
    # zeros lie in bucket 0 (with the smallest subnormals): most blocks have none to count
    zeros = np.count_nonzero(bits == 0, axis=0) if counts[0] else np.zeros(bits.shape[-1:], np.int64)
    return counts, block_max, zeros


def _in_range(
    bits: np.ndarray, first: np.uint32, span: np.uint32, overwrite: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """(indices, patterns) of the patterns p of ``bits`` with first <= p < first + span, in order: one
    subtraction and one compare (below ``first`` wraps to large). ``overwrite``: ``bits`` is scratch."""
    shifted = np.subtract(bits, first, out=bits if overwrite else None)
    hits = np.flatnonzero(shifted < span)
    found = shifted[hits]
    found += first
    return hits, found


def _block_in_range(block: np.ndarray, first: np.uint32, span: np.uint32) -> tuple[np.ndarray, np.ndarray]:
    """``_in_range`` of a row block's |w| patterns (flat positions in the block)."""
    bits = np.ascontiguousarray(block, dtype=np.float32).reshape(-1).view(np.uint32) & _ABS_MASK
    if first + span > _INF_BITS:  # the range reaches the NaNs: one pattern for all of them
        bits[bits > _INF_BITS] = _NAN_BITS
    return _in_range(bits, first, span, overwrite=True)


class MagnitudeOrder:
    """Ascending |w| of a (rows, units) matrix given as row blocks.

    ``blocks`` is called when the matrix is opened (twice if it is sorted whole) and again
    whenever a bucket or tie positions are first needed; it must yield the same 2-D row blocks,
    in order, every time. ``column_max`` (the largest |w| of each column, NaN above all) and
    ``column_zeros`` (how many weights of each column are zero) are gathered on the way."""

    def __init__(self, blocks: Callable[[], Iterable[np.ndarray]]):
        self._blocks = blocks
        counted = on_block_threads(_count_block, blocks())
        counts = np.zeros(BUCKETS, np.int64)
        column_max, column_zeros = None, None
        for block_counts, block_max, block_zeros in counted:
            counts += block_counts
            column_max = block_max if column_max is None else np.maximum(column_max, block_max)
            column_zeros = block_zeros if column_zeros is None else column_zeros + block_zeros
        del counted
        self.column_max = (column_max if column_max is not None else np.zeros(0, np.uint32)).view(np.float32)
        self.column_zeros = (column_zeros if column_zeros is not None else np.zeros(0)).astype(np.int64)
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
        return self._starts.nbytes + self._group_of.nbytes + self._group_starts.nbytes + self.column_max.nbytes + cached

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
            found = self._keep(self._read([g]))[g]
        lows, positions = found
        first = self._starts[self._group_starts[g]]  # the group's lowest rank
        window = slice(self._starts[b] - first, self._starts[b + 1] - first)
        return lows[window], positions[window]

    def bucket_of_rank(self, rank: int) -> int:
        """The bucket holding 0-based ``rank`` of the ascending order."""
        return int(np.searchsorted(self._starts, rank, side="right")) - 1

    def read_ahead(self, buckets: Iterable[int]) -> int:
        """Read the groups holding ``buckets`` that are not cached, as many of them (in the order
        given) as the cache keeps, in one pass; returns how many were read. For thresholds close
        together: the pass finds every weight between the lowest group and the highest."""
        if self._whole is not None:
            return 0
        with self._lock:
            cached = set(self._cache)
        wanted: list[int] = []
        held = 0
        for b in buckets:
            if self._starts[b] == self._starts[b + 1]:
                continue
            g = int(self._group_of[b])
            if g in cached or g in wanted:
                continue
            size = int(self._starts[self._group_starts[g + 1]] - self._starts[self._group_starts[g]])
            if wanted and self._over_bounds(len(wanted) + 1, held + size):
                break
            wanted.append(g)
            held += size
        if wanted:
            self._keep(self._read(wanted))
        return len(wanted)

    def _keep(self, groups: dict[int, tuple[np.ndarray, np.ndarray]]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Cache ``groups``, dropping the least recently used others beyond the cache's bounds."""
        with self._lock:
            for g, found in groups.items():
                self._cache[g] = found
                self._cache.move_to_end(g)
            held = sum(len(lows) for lows, _ in self._cache.values())
            while len(self._cache) > 1 and self._over_bounds(len(self._cache), held):
                held -= len(self._cache.popitem(last=False)[1][0])
        return groups

    def _over_bounds(self, groups: int, weights: int) -> bool:
        """Whether a cache of ``groups`` groups holding ``weights`` weights is more than it keeps."""
        return groups > CACHED_GROUPS or weights > len(self) * CACHED_SHARE

    def _pattern_range(self, first_group: int, last_group: int) -> tuple[np.uint32, np.uint32]:
        """(first, span) of the |w| patterns of groups first_group..last_group."""
        first, end = int(self._group_starts[first_group]), int(self._group_starts[last_group + 1])
        return np.uint32(first << 16), np.uint32((end - first) << 16)

    def _read(self, groups: list[int]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Each group's low 16 bits and flat positions in ascending |w|, ties in flat order (a
        stable radix sort by the low, then the high 16 bits), from one pass over the matrix: a
        group's weights are one range of patterns, and so are the groups between two."""
        first, span = self._pattern_range(min(groups), max(groups))
        ranges = [self._pattern_range(g, g) for g in groups]

        def members(block: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
            hits, patterns = _block_in_range(block, first, span)
            if len(groups) == 1:
                return [(hits, patterns)]
            return [(hits[inside], found) for inside, found in (_in_range(patterns, *r) for r in ranges)]

        blocks = list(self._blocks())
        if len(self) > BLOCK_ELEMENTS:
            per_block = on_block_threads(members, blocks)
        else:  # a handful of small blocks: handing them to threads costs more than it saves
            per_block = [members(block) for block in blocks]
        offsets = np.cumsum([0] + [block.size for block in blocks[:-1]])
        read = {}
        for i, g in enumerate(groups):
            positions = np.concatenate(
                [np.zeros(0, self._position_type)]
                + [(found[i][0] + offset).astype(self._position_type) for found, offset in zip(per_block, offsets)]
            )
            bits = np.concatenate([np.zeros(0, np.uint32)] + [found[i][1] for found in per_block])
            lows = (bits & 0xFFFF).astype(np.uint16)
            by_low = np.argsort(lows, kind="stable")
            order = by_low[np.argsort((bits[by_low] >> 16).astype(np.uint16), kind="stable")]
            read[g] = lows[order], positions[order]
        return read

    # -- order statistics ---------------------------------------------------------------------
    def value_at(self, rank: int) -> np.float32:
        """The |w| at 0-based ``rank`` of the ascending order."""
        b = self.bucket_of_rank(rank)
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
        if not finite:
            top = 0.0
        elif finite == len(self):  # no inf or NaN: the largest |w| is the largest column maximum (no group read)
            top = float(self.column_max.max())
        else:
            top = float(self.value_at(finite - 1))
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
