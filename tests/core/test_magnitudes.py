"""MagnitudeOrder must equal np.sort(|w|) exactly, in every order statistic the pruner asks for."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from prune_viz.core import magnitudes
from prune_viz.core.magnitudes import MagnitudeOrder


@pytest.fixture(params=["sorted whole", "bucket by bucket"])
def either_way(request, monkeypatch):
    """Small matrices are sorted whole when opened; big ones bucket by bucket: check both ways."""
    if request.param == "bucket by bucket":
        monkeypatch.setattr(magnitudes, "SORTED_WHOLE", 0)


def _blocks(matrix: np.ndarray, rows: int):
    return lambda: (matrix[r : r + rows] for r in range(0, len(matrix), rows))


def _counted_blocks(matrix: np.ndarray, rows: int):
    """Row blocks of ``matrix`` as ``_blocks`` gives them, and a count of the passes made over them."""
    passes = {"n": 0}

    def blocks():
        passes["n"] += 1
        return (matrix[r : r + rows] for r in range(0, len(matrix), rows))

    return blocks, passes


def _awkward_matrix(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    m = rng.normal(scale=0.05, size=(257, 61)).astype(np.float32)
    m[rng.random(m.shape) < 0.1] = 0.0
    m[0, :7] = -0.0
    m[1, :3] = np.nan
    m[1, 3] = -np.nan
    m[2, :2] = -np.inf
    m[3] = np.float32(0.5)  # a long run of ties, with both signs
    m[4, :20] = -0.5
    m[5, :4] = np.float32(1e-42)  # subnormals
    m[6, :4] = np.finfo(np.float32).max
    return m


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("rows", [1, 16, 257])
def test_sorted_magnitudes_equal_numpy_sort(seed, rows, either_way):
    matrix = _awkward_matrix(seed)
    expected = np.sort(np.abs(matrix).ravel())
    found = MagnitudeOrder(_blocks(matrix, rows))
    assert len(found) == matrix.size
    np.testing.assert_array_equal(found.to_array(), expected)
    for rank in [0, 1, 7, 100, matrix.size // 2, matrix.size - 5, matrix.size - 1]:
        np.testing.assert_array_equal(found.value_at(rank), expected[rank])
    assert np.isnan(found.max())


def test_counts_match_searchsorted(either_way):
    matrix = _awkward_matrix(7)
    expected = np.sort(np.abs(matrix).ravel())
    found = MagnitudeOrder(_blocks(matrix, 10))
    for value in [0.0, 1e-42, 0.01, 0.5, float(expected[3000]), 3.0, np.finfo(np.float32).max, np.inf]:
        v = np.float32(value)
        assert found.count_below(v) == np.searchsorted(expected, v, side="left"), value
        assert found.count_at_most(v) == np.searchsorted(expected, v, side="right"), value
    # NaN sorts last and every NaN is equal
    assert found.count_at_most(np.nan) == matrix.size
    assert found.count_below(np.nan) == np.count_nonzero(~np.isnan(expected)) == matrix.size - 4


def test_keeps_nothing_per_weight_and_sorts_only_the_group_asked_for(monkeypatch):
    matrix = np.random.default_rng(0).normal(size=(2200, 500)).astype(np.float32)
    offsets = 8 * (magnitudes.BUCKETS + 1) + magnitudes.BUCKETS + 8 * (magnitudes.GROUPS + 1) + 4 * 500
    whole = MagnitudeOrder(_blocks(matrix, 300))  # sorted whole: 2 bytes per weight
    assert whole.nbytes <= 2 * matrix.size + offsets
    monkeypatch.setattr(magnitudes, "SORTED_WHOLE", 0)
    found = MagnitudeOrder(_blocks(matrix, 300))
    opened = found.nbytes
    assert opened <= offsets  # bucket offsets and column maxima: nothing per weight
    expected = np.sort(np.abs(matrix).ravel())
    assert found.value_at(matrix.size // 2) == expected[matrix.size // 2]
    # one group (about 1/GROUPS of the weights, 6 bytes each) was read and sorted, not the whole order
    assert 0 < found.nbytes - opened <= 6 * 3 * matrix.size / magnitudes.GROUPS


def test_small_matrices_are_sorted_whole_when_opened():
    matrix = _awkward_matrix(1)
    blocks, passes = _counted_blocks(matrix, 40)
    found = MagnitudeOrder(blocks)
    expected = np.sort(np.abs(matrix).ravel())
    for rank in range(0, matrix.size, 97):
        assert found.value_at(rank) == expected[rank] or np.isnan(expected[rank])
    assert found.count_at_most(0.5) == np.searchsorted(expected, np.float32(0.5), side="right")
    assert passes["n"] == 2  # counting and sorting, both when opened: none per query


def test_cache_is_bounded_and_evicted_groups_come_back_equal(monkeypatch):
    monkeypatch.setattr(magnitudes, "SORTED_WHOLE", 0)
    matrix = np.random.default_rng(1).normal(size=(300, 200)).astype(np.float32)
    expected = np.sort(np.abs(matrix).ravel())
    found = MagnitudeOrder(_blocks(matrix, 7))
    ranks = np.linspace(0, matrix.size - 1, 4 * magnitudes.CACHED_GROUPS).astype(int)
    for rank in [*ranks, *ranks[::-1]]:
        assert found.value_at(int(rank)) == expected[rank]
    assert len(found._cache) <= magnitudes.CACHED_GROUPS


def test_read_ahead_reads_the_groups_of_several_buckets_in_one_pass(monkeypatch):
    monkeypatch.setattr(magnitudes, "SORTED_WHOLE", 0)
    monkeypatch.setattr(magnitudes, "CACHED_SHARE", 1 / 8)  # room for the five groups below
    matrix = _awkward_matrix(2)
    blocks, passes = _counted_blocks(matrix, 40)
    found = MagnitudeOrder(blocks)
    magnitude = np.abs(matrix).ravel()
    expected = np.sort(magnitude)
    # ranks a few groups apart, the last among the NaNs (their patterns are made one on reading)
    ranks = [int(matrix.size * q) for q in (0.30, 0.31, 0.29, 0.32)] + [matrix.size - 1]
    groups = {int(found._group_of[found.bucket_of_rank(r)]) for r in ranks}
    opened = passes["n"]
    read = found.read_ahead([found.bucket_of_rank(r) for r in ranks])
    assert passes["n"] == opened + 1 and read == len(groups) >= 3  # one pass for all of them
    assert found.read_ahead([found.bucket_of_rank(r) for r in ranks]) == 0 and passes["n"] == opened + 1
    for rank in ranks:
        t = expected[rank]
        np.testing.assert_array_equal(found.value_at(rank), t)
        np.testing.assert_array_equal(
            found.positions_equal(t), np.flatnonzero(np.isnan(magnitude) if np.isnan(t) else magnitude == t)
        )
    assert passes["n"] == opened + 1  # every bucket asked for came from the cache
    np.testing.assert_array_equal(found.to_array(), expected)  # and the groups between them read alone


def test_column_max_zeros_and_tie_positions(either_way):
    matrix = _awkward_matrix(5)
    found = MagnitudeOrder(_blocks(matrix, 13))
    magnitude = np.abs(matrix)
    expected_max = np.where(np.isnan(magnitude).any(axis=0), np.nan, np.nanmax(magnitude, axis=0))
    np.testing.assert_array_equal(found.column_max, expected_max.astype(np.float32))
    np.testing.assert_array_equal(found.column_zeros, np.count_nonzero(matrix == 0, axis=0))  # -0.0 too
    few = np.random.default_rng(6).uniform(1, 2, size=(100, 9)).astype(np.float32)
    few[50, 3], few[51, 7] = 0.0, -0.0  # in one block of 13 rows: the others have none to count
    np.testing.assert_array_equal(MagnitudeOrder(_blocks(few, 13)).column_zeros, [0, 0, 0, 1, 0, 0, 0, 1, 0])
    flat = magnitude.ravel()
    for value in [0.0, 0.5, np.inf, float(flat[1000])]:
        np.testing.assert_array_equal(found.positions_equal(value), np.flatnonzero(flat == np.float32(value)))
    np.testing.assert_array_equal(found.positions_equal(np.nan), np.flatnonzero(np.isnan(flat)))


@pytest.mark.parametrize("bins", [8, 37, 120])
@pytest.mark.parametrize("scale", [0.05, 1.0, 1e-39])  # 1.0 keeps float32 max; 1e-39: subnormals
def test_histogram_equals_numpy_histogram_of_the_finite_magnitudes(bins, scale, either_way):
    matrix = _awkward_matrix(3)
    matrix[np.isfinite(matrix)] *= np.float32(scale)
    values = np.abs(matrix[np.isfinite(matrix)]).astype(np.float64)
    counts, edges = MagnitudeOrder(_blocks(matrix, 50)).histogram(bins)
    assert bins / 2 < len(counts) <= bins and edges[0] == 0.0
    assert edges[-2] < values.max() <= edges[-1]  # the bins reach the largest |w| and no further
    expected, _ = np.histogram(values, bins=edges)
    np.testing.assert_array_equal(counts, expected)


def test_histogram_is_read_from_the_bucket_counts(monkeypatch):
    monkeypatch.setattr(magnitudes, "SORTED_WHOLE", 0)
    matrix = np.random.default_rng(4).normal(scale=0.02, size=(3000, 400)).astype(np.float32)
    found = MagnitudeOrder(_blocks(matrix, 200))
    opened = found.nbytes
    counts, edges = found.histogram(120)
    # no group was read: the top edge comes from the column maxima, the counts from the bucket offsets
    assert found.nbytes == opened
    values = np.abs(matrix).ravel().astype(np.float64)
    assert edges[-2] < values.max() <= edges[-1]
    np.testing.assert_array_equal(counts, np.histogram(values, bins=edges)[0])


def test_histogram_of_all_zero_weights():
    counts, edges = MagnitudeOrder(_blocks(np.zeros((4, 5), np.float32), 2)).histogram(8)
    assert counts.sum() == 20 and counts[0] == 20 and edges[-1] == 1.0


def test_a_thread_reading_a_bucket_never_blocks_another(monkeypatch):
    """The slider (GUI thread) asks while a job thread reads a bucket: it is answered at once."""
    monkeypatch.setattr(magnitudes, "SORTED_WHOLE", 0)
    matrix = np.random.default_rng(2).normal(size=(400, 50)).astype(np.float32)
    expected = np.sort(np.abs(matrix).ravel())
    reading, release = threading.Event(), threading.Event()
    hold = {"on": False}

    def blocks():
        if hold["on"]:  # the job thread's pass stops half-way until released
            reading.set()
            assert release.wait(10)
        return (matrix[r : r + 64] for r in range(0, len(matrix), 64))

    found = MagnitudeOrder(blocks)
    assert found.value_at(100) == expected[100]  # this bucket is now cached
    far = matrix.size - 10
    hold["on"] = True
    job = threading.Thread(target=found.value_at, args=(far,))
    job.start()
    assert reading.wait(10)
    hold["on"] = False
    answers = []
    middle = matrix.size // 2
    asker = threading.Thread(target=lambda: answers.extend([found.value_at(100), found.value_at(middle)]))
    asker.start()
    asker.join(5)
    answered_during_the_pass = not asker.is_alive()
    release.set()
    job.join(10)
    asker.join(10)
    assert answered_during_the_pass
    assert answers == [expected[100], expected[middle]]
    assert not job.is_alive() and found.value_at(far) == expected[far]
