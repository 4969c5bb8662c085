"""A budget is chosen on one part of the data and reported on the other, and what it offers is measured
against one k for every layer first: curves that mislead the greedy allocation are caught."""

from __future__ import annotations

import numpy as np
import pytest

from prune_viz.core.budget import (
    CHOSEN_ALLOCATED,
    CHOSEN_UNIFORM,
    allocate,
    blended,
    compare_at_targets,
    curves_from_points,
)
from prune_viz.core.budget_data import BudgetCache, budget_data, measure
from prune_viz.core.pruning import PruningConfig
from prune_viz.core.sweep import SweepPoint

pytestmark = pytest.mark.slow  # the one trained MLP of the run

KS = (0, 50, 80, 90, 95, 100)


def _points(breaks_at: dict[str, float]):
    """A made-up per-layer scan: each layer keeps 0.9 until its k in ``breaks_at``, then falls to 0.1."""
    return [
        SweepPoint("m", None, "weight", "layer", layer, k, 0, 0, 0, 0, 0, score=0.9 if k <= at else 0.1)
        for layer, at in breaks_at.items()
        for k in KS
    ]


@pytest.fixture(scope="module")
def session(trained_mlp_path, mnist_dir):
    from prune_viz.core.session import Session, open_model

    session = Session(data_path=str(mnist_dir), preprocessing="scale")
    session.set_model(open_model(trained_mlp_path))
    return session


@pytest.fixture(scope="module")
def cache():
    return BudgetCache()


def test_mnist_chooses_on_its_training_split_and_reports_on_the_test_set(session, cache):
    data = budget_data(session, cache=cache)
    assert "training subset" in data.chosen_on and data.reported_on == "the test set (10,000 samples)"
    assert len(data.choose.data.x_test) == 5000
    np.testing.assert_array_equal(data.choose.data.x_test, session.load_data(need_training=True).x_train)
    assert data.report is session.evaluator()
    assert budget_data(session, cache=cache) is data  # built once


def test_misleading_curves_are_caught_by_the_measured_check(session, cache):
    # the curves say the small layers are free to prune whole and the big one is fragile: the greedy
    # allocation empties the output layer, which measures far below one k for every layer
    scan = _points({"hidden1": 40, "hidden2": 100, "output": 100})
    before = session.config
    (row,) = compare_at_targets(session, [0.5], scan=scan, cache=cache)
    curves = curves_from_points(scan, {"hidden1": 50176, "hidden2": 2048, "output": 320})
    greedy = allocate(curves, 0.5).layer_k
    assert greedy["output"] == 100 and row.predicted_score > row.predicted_uniform_score  # what the curves offer
    assert row.chosen != CHOSEN_ALLOCATED and row.layer_k != greedy
    assert row.why.startswith("On the MNIST 5,000-image training subset the allocation scored")
    assert row.allocated_score >= row.uniform_score  # on the reporting part too
    assert abs(row.allocated_sparsity - 0.5) < 0.005
    if row.chosen == CHOSEN_UNIFORM:
        assert row.allocated_score == row.uniform_score and set(row.layer_k.values()) == {50.0}
    else:  # a blend: between the two, and what it scored on the choosing part beat one k there
        assert row.choice_score > row.choice_uniform_score
        assert row.layer_k == blended(greedy, 50.0, row.blend)
    # the reported score is the model's, pruned with the offered ks, on the test set
    config = PruningConfig(k=50.0, included=before.included, layer_k=row.layer_k)
    record, _ = session.evaluate(config, with_baseline=False)
    assert record.result.score == pytest.approx(row.allocated_score)
    assert session.config == before


def test_a_blend_keeps_the_target_sparsity():
    layer_k, sizes = {"a": 90.0, "b": 30.0}, {"a": 100, "b": 200}  # size-weighted mean 50
    for fraction in (0.25, 0.5, 0.75):
        ks = blended(layer_k, 50.0, fraction)
        assert sum(sizes[n] * k for n, k in ks.items()) / 300 == pytest.approx(50.0)
        assert 30.0 < ks["b"] < 50.0 < ks["a"] < 90.0


def test_without_a_training_split_the_test_set_is_cut_in_halves(trained_mlp_path, mnist, tmp_path):
    from prune_viz.core.session import Session, open_model

    path = tmp_path / "test-only.npz"
    np.savez(path, x_test=mnist.x_test[:600], y_test=mnist.y_test[:600])
    np.savez(tmp_path / "second.npz", x_test=mnist.x_test[300:600], y_test=mnist.y_test[300:600])
    session = Session(data_path=str(path), preprocessing="scale")
    session.set_model(open_model(trained_mlp_path))
    data = budget_data(session)
    assert data.chosen_on == "the first half of the test set (300 samples)"
    assert data.reported_on == "the second half of the test set (300 samples)"
    config = PruningConfig(k=60.0, included=session.config.included)
    reported, _ = measure(session, data.report, config)
    # the reporting part is exactly the second half: the same score as evaluating that half alone
    alone = Session(data_path=str(tmp_path / "second.npz"), preprocessing="scale")
    alone.set_model(session.model)
    record, _ = alone.evaluate(config, with_baseline=False)
    assert reported.score == pytest.approx(record.result.score)
    np.testing.assert_array_equal(data.choose.data.x_test, mnist.x_test[:300])
