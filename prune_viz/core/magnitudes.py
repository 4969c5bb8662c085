"""The sorted |w| of one weight matrix, in half the memory of a sorted float32 copy.

A non-negative float32 orders like its bit pattern. The patterns are counted by
their high 16 bits (a bucket), and only the low 16 bits are stored, sorted
within each bucket: 2 bytes per weight plus 32,768 bucket offsets, and the
exact value of any rank is still one lookup. It is built from row blocks, so
no full-size temporary exists (a plain ``np.sort`` of |w| needs 2x the matrix
while it runs). NaNs count as equal to each other and larger than infinity.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

BUCKETS = 1 << 15  # |w| has no sign bit, so the high 16 bits of its pattern are below 2**15
_CHUNK = 1 << 20
_ABS_MASK = np.uint32(0x7FFFFFFF)
_INF_BITS = np.uint32(0x7F800000)
_NAN_BITS = np.uint32(0x7FC00000)


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


class SortedMagnitudes:
    """Ascending |w| of a matrix given as row blocks; ``blocks`` is called twice (two passes)."""

    def __init__(self, blocks: Callable[[], Iterable[np.ndarray]]):
        counts = np.zeros(BUCKETS, np.int64)
        for block in blocks():
            counts += np.bincount(abs_bits(block) >> 16, minlength=BUCKETS)
        self._starts = np.zeros(BUCKETS + 1, np.int64)  # bucket b holds ranks starts[b]:starts[b+1]
        np.cumsum(counts, out=self._starts[1:])
        self._lows = np.empty(int(self._starts[-1]), np.uint16)
        cursor = self._starts[:-1].copy()
        every_bucket = np.arange(BUCKETS + 1)
        for block in blocks():
            bits = abs_bits(block)
            for c0 in range(0, len(bits), _CHUNK):  # small pieces: the int64 index temporaries are 8 bytes each
                ordered = np.sort(bits[c0 : c0 + _CHUNK])
                first = np.searchsorted(ordered >> 16, every_bucket)  # where each bucket starts in this piece
                sizes = np.diff(first)
                # the piece's run of bucket b goes to lows[cursor[b]:], i.e. position i to i + cursor[b] - first[b]
                shift = np.repeat(cursor - first[:-1], sizes)
                self._lows[shift + np.arange(len(ordered))] = ordered.astype(np.uint16)  # keeps the low 16 bits
                cursor += sizes
        # each bucket now holds sorted runs, one per piece: sort it in place
        for b in np.flatnonzero(counts > 1):
            self._lows[self._starts[b] : self._starts[b + 1]].sort()

    def __len__(self) -> int:
        return len(self._lows)

    @property
    def nbytes(self) -> int:
        return self._lows.nbytes + self._starts.nbytes

    def value_at(self, rank: int) -> np.float32:
        """The |w| at 0-based ``rank`` of the ascending order."""
        bucket = int(np.searchsorted(self._starts, rank, side="right")) - 1
        bits = np.uint32((bucket << 16) | int(self._lows[rank]))
        return bits.view(np.float32)

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
        bucket, low = bits >> 16, bits & 0xFFFF
        start, end = int(self._starts[bucket]), int(self._starts[bucket + 1])
        return start + int(np.searchsorted(self._lows[start:end], np.uint16(low), side=side))

    def histogram(self, bins: int) -> tuple[np.ndarray, np.ndarray]:
        """(counts, edges) of the finite |w| over [0, largest finite |w|], like ``np.histogram``:
        bins are half-open but the last, which includes its right edge. One lookup per edge."""
        finite = self.count_below(np.inf)
        top = float(self.value_at(finite - 1)) if finite else 0.0
        edges = np.linspace(0.0, top if top > 0 else 1.0, bins + 1)
        below = [self.count_below(_float32_at_least(e)) for e in edges[:-1]]
        below.append(self.count_at_most(_float32_at_least(edges[-1])) if top > 0 else finite)
        return np.diff(np.array(below, np.int64)), edges

    def to_array(self) -> np.ndarray:
        """The full ascending float32 array (for tests and small matrices)."""
        buckets = np.repeat(np.arange(BUCKETS, dtype=np.uint32), np.diff(self._starts))
        return ((buckets << 16) | self._lows.astype(np.uint32)).view(np.float32)
