"""A per-layer budget from sensitivity curves: the target is reached, robust layers take more, and
on a real model the ks reach the target sparsity the pruner measures."""

from __future__ import annotations

import numpy as np
import pytest

from prune_viz.core.budget import (
    BUDGET_CSV_FIELDS,
    LayerCurve,
    allocate,
    compare_at_targets,
    curves_from_points,
    layer_sizes,
)
from prune_viz.core.pruning import PruningConfig, PruningError
from prune_viz.core.sweep import SweepPoint

KS = np.array([0, 20, 40, 50, 60, 70, 80, 85, 90, 93, 95, 97, 98, 99, 100], float)


def _curve(name, size, breaks_at, steepness=0.02):
    """Score 0.95 until ``breaks_at``, then falling by ``steepness`` per point of k."""
    scores = 0.95 - np.maximum(KS - breaks_at, 0) * steepness
    return LayerCurve(name, size, KS, np.clip(scores, 0.1, None))


def _weighted_k(allocation):
    sizes = allocation.sizes
    return sum(sizes[n] * k for n, k in allocation.layer_k.items()) / sum(sizes.values())


@pytest.mark.parametrize("target", [0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99])
def test_an_allocation_reaches_its_target_within_half_a_point(target):
    curves = {c.name: c for c in (_curve("big", 90_000, 92), _curve("mid", 30_000, 70), _curve("small", 1_000, 40))}
    allocation = allocate(curves, target)
    assert abs(_weighted_k(allocation) - target * 100) < 0.5
    assert abs(allocation.sparsity - target) < 0.005
    assert all(0 <= k <= 100 for k in allocation.layer_k.values())
    assert allocation.predicted_score >= allocation.predicted_uniform_score


def test_the_robust_layer_takes_more_and_the_prediction_beats_uniform():
    curves = {c.name: c for c in (_curve("robust", 50_000, 95), _curve("fragile", 50_000, 50))}
    allocation = allocate(curves, 0.7)
    assert allocation.layer_k["robust"] > 70 > allocation.layer_k["fragile"]
    assert allocation.predicted_score > allocation.predicted_uniform_score + 0.05
    # both layers alike: nothing to gain, so one k for both
    same = allocate({c.name: c for c in (_curve("a", 10, 60), _curve("b", 10, 60))}, 0.7)
    assert same.layer_k == {"a": 70.0, "b": 70.0}


def test_a_noisy_gain_above_the_unpruned_score_is_not_trusted():
    noisy = LayerCurve("noisy", 100, KS, np.where(KS == 50, 0.99, 0.95 - np.maximum(KS - 80, 0) * 0.02))
    flat = _curve("flat", 100, 80)
    allocation = allocate({"noisy": noisy, "flat": flat}, 0.6)
    assert allocation.predicted_score <= allocation.baseline


def test_impossible_requests_are_refused_in_one_sentence():
    curves = {"a": LayerCurve("a", 10, np.array([0.0, 50.0]), np.array([0.9, 0.8]))}
    with pytest.raises(PruningError, match="reaches only up to k = 50%"):
        allocate(curves, 0.9)
    with pytest.raises(PruningError, match="from 0 to 1"):
        allocate(curves, 1.5)
    with pytest.raises(PruningError, match="sensitivity scan first"):
        curves_from_points([], {"a": 10})


def test_curves_come_from_a_scans_points():
    points = [
        SweepPoint("m", None, "weight", "layer", layer, k, 0, 0, 0.9 - k / 1000, 0.1, 0.0, score=0.9 - k / 1000)
        for layer in ("a", "b")
        for k in (50, 0, 90)
    ]
    points.append(SweepPoint("m", None, "unit", "layer", "a", 50, 0, 0, 0.1, 0.1, 0.0, score=0.1))
    curves = curves_from_points(points, {"a": 10, "b": 20}, "weight")
    assert list(curves["a"].ks) == [0, 50, 90]
    assert curves["b"].size == 20 and curves["a"].scores[1] == pytest.approx(0.85)


@pytest.mark.slow
def test_on_a_trained_model_budgets_reach_their_target_sparsity(trained_mlp_path, mnist_dir):
    from prune_viz.core.session import Session, open_model

    session = Session(data_path=str(mnist_dir), preprocessing="scale")
    session.set_model(open_model(trained_mlp_path))
    before = session.config
    rows = []
    found = compare_at_targets(session, [0.5, 0.9], on_row=rows.append, scan_ks=(0, 50, 80, 90, 95, 99))
    assert found == rows and [r.target for r in rows] == [0.5, 0.9]
    for row in rows:
        assert abs(row.allocated_sparsity - row.target) < 0.005
        assert abs(row.uniform_sparsity - row.target) < 0.005
        assert set(row.layer_k) == set(layer_sizes(session))
        assert set(row.as_row()) == set(BUDGET_CSV_FIELDS)
        # the score is the model's, pruned with these ks
        record, _ = session.evaluate(PruningConfig(k=row.target * 100, included=before.included, layer_k=row.layer_k))
        assert record.result.score == pytest.approx(row.allocated_score)
    assert session.config == before  # the session's settings are left as they were


def test_the_noise_of_a_paired_difference_counts_the_samples_the_two_disagree_on():
    from types import SimpleNamespace

    from prune_viz.core.budget import paired_noise

    labels = np.zeros(400, int)
    a = SimpleNamespace(predicted=np.zeros(400, int))
    b = SimpleNamespace(predicted=np.where(np.arange(400) < 16, 1, 0))  # wrong on 16 that a gets right
    assert paired_noise(a, b, labels) == pytest.approx(4 / 400)  # sqrt(16) of 400
    assert paired_noise(a, a, labels) == 0.0
    assert paired_noise(a, SimpleNamespace(predicted=None), labels) == 0.0  # no predictions: no pairing
    assert paired_noise(a, b, (labels, labels)) == 0.0  # several outputs
