"""The budget plot speaks the rows' metric: accuracy in %, R² as it is (never x 100)."""

from __future__ import annotations

import numpy as np

from prune_viz.core.budget import BudgetRow
from prune_viz.gui.views.budget_chart import budget_plot_layout, write_budget_plot


def _row(target, uniform, allocated, task, metric):
    return BudgetRow(
        model="m.keras",
        method="weight",
        criterion="magnitude",
        target=target,
        uniform_k=target * 100,
        uniform_sparsity=target,
        uniform_score=uniform,
        allocated_sparsity=target,
        allocated_score=allocated,
        predicted_score=allocated,
        predicted_uniform_score=uniform,
        score_name="R²" if metric == "r2" else "accuracy",
        layer_k={"a": target * 100, "b": target * 100},
        reported_on="the second half of the test set (500 samples)",
        task=task,
        score_metric=metric,
    )


def _scores(plot):
    return [np.asarray(item.yData) for item in plot.listDataItems()]


def test_a_regression_budget_plots_r2_as_it_is(qapp, tmp_path):
    rows = [_row(0.5, 0.81, 0.84, "regression", "r2"), _row(0.9, -0.2, 0.35, "regression", "r2")]
    _widget, plot = budget_plot_layout(rows)
    assert plot.getAxis("left").labelText == "R²"
    uniform, allocated, _predicted = _scores(plot)
    np.testing.assert_allclose(uniform, [0.81, -0.2])
    np.testing.assert_allclose(allocated, [0.84, 0.35])
    assert "measured on the second half of the test set" in plot.titleLabel.text
    assert write_budget_plot(tmp_path / "r2.png", rows).stat().st_size > 5_000


def test_a_classifier_budget_plots_accuracy_in_percent(qapp):
    _widget, plot = budget_plot_layout([_row(0.5, 0.9, 0.95, "classification", "accuracy")])
    assert plot.getAxis("left").labelText == "Accuracy %"
    np.testing.assert_allclose(_scores(plot)[1], [95.0])
