"""Sweeps and per-layer sensitivity on a real trained MLP and the real MNIST test set."""

from __future__ import annotations

import numpy as np
import pytest

from prune_viz.core.pruning import PruningConfig, PruningError
from prune_viz.core.session import Session, open_model
from prune_viz.core.sweep import SweepPoint, run_sweep, summarise

pytestmark = pytest.mark.keras_floor

KS = (0, 50, 90)


@pytest.fixture(scope="module")
def session(trained_mlp_path, mnist_dir):
    s = Session(data_path=str(mnist_dir), preprocessing="scale")
    s.set_model(open_model(trained_mlp_path))
    return s


def test_every_point_is_run_from_the_originals_with_one_evaluator(session):
    originals = [w.copy() for w in session.model.loaded.keras_model.get_weights()]
    live = []
    points = run_sweep(session, ("weight", "unit"), KS, "layer", on_point=live.append)
    assert live == points
    assert [(p.method, p.k) for p in points] == [(m, float(k)) for m in ("weight", "unit") for k in KS]
    evaluator = session.evaluator()
    assert evaluator._forward.experimental_get_tracing_count() == 1  # never retraced
    for got, want in zip(session.model.loaded.keras_model.get_weights(), originals):
        assert got.tobytes() == want.tobytes()
    # a point equals a single evaluation of that config
    config = PruningConfig("unit", 50, "layer", session.config.included)
    record, _ = session.evaluate(config, with_baseline=False)
    point = next(p for p in points if p.method == "unit" and p.k == 50)
    assert point.accuracy == record.result.accuracy and point.loss == pytest.approx(record.result.loss)
    assert point.model == session.model.loaded.path.name and point.layer == ""


def test_sparsity_grows_with_k_and_accuracy_falls_at_the_extreme(session):
    points = run_sweep(session, ("weight", "unit"), (0, 25, 50, 75, 99), "global")
    for method in ("weight", "unit"):
        curve = [p for p in points if p.method == method]
        sparsity = [p.sparsity_included for p in curve]
        assert sparsity == sorted(sparsity) and sparsity[0] == 0.0
        assert all(p.sparsity_all <= p.sparsity_included for p in curve)  # biases and output stay
        assert curve[-1].accuracy < curve[0].accuracy - 0.2
        assert all(p.scope == "global" for p in curve)
    unpruned = [p for p in points if p.k == 0]
    assert unpruned[0].accuracy == unpruned[1].accuracy > 0.85


def test_per_layer_sensitivity_prunes_one_layer_at_a_time(session):
    points = run_sweep(session, ("unit",), (0, 50), per_layer=True)
    assert [(p.layer, p.k) for p in points] == [("hidden1", 0), ("hidden1", 50), ("hidden2", 0), ("hidden2", 50)]
    hidden1_half = next(p for p in points if p.layer == "hidden1" and p.k == 50)
    assert hidden1_half.sparsity_included == pytest.approx(32 / 64)
    # only hidden1's kernel is pruned, so the all-weights sparsity is its share of the model
    total = session.model.total_parameters
    assert hidden1_half.sparsity_all == pytest.approx(32 * 784 / total)


def test_opened_model_without_a_session(trained_mlp_path, mnist_dir):
    points = run_sweep(
        open_model(trained_mlp_path), ("weight",), (0, 90), data_path=str(mnist_dir), preprocessing="scale"
    )
    assert len(points) == 2 and points[1].accuracy < points[0].accuracy


def test_bad_grid_is_refused(session):
    with pytest.raises(PruningError, match="method"):
        run_sweep(session, ("magnitude",), KS)
    with pytest.raises(PruningError, match="k must be"):
        run_sweep(session, ("weight",), (0, 120))


def _point(model, k, accuracy, loss):
    return SweepPoint(model, None, "weight", "layer", "", k, k / 100, k / 100, accuracy, loss, 0.1)


def test_summary_is_mean_and_sample_std_over_models():
    points = [
        _point("a", 0, 0.90, 0.3),
        _point("b", 0, 0.94, 0.5),
        _point("c", 0, 0.95, 0.4),
        _point("a", 50, 0.5, 1.0),
    ]
    summary = summarise(points)
    assert [(s.k, s.models) for s in summary] == [(0, 3), (50, 1)]
    assert summary[0].accuracy_mean == pytest.approx(0.93)
    assert summary[0].accuracy_std == pytest.approx(np.std([0.90, 0.94, 0.95], ddof=1))
    assert summary[0].loss_mean == pytest.approx(0.4)
    assert summary[1].accuracy_std == 0.0
