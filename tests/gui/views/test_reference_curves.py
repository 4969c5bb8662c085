"""Published no-retraining curves: offered only beside the seed experiment's MLP, drawn from the
shipped CSV for the current method, and labelled as other people's models trained on full MNIST."""

from __future__ import annotations

import csv
from collections import defaultdict

import numpy as np
import pytest

from prune_viz.core.reference import REFERENCE_CSV, reference_curves
from prune_viz.core.session import Session, open_model
from prune_viz.gui.views.accuracy_plot import AccuracySparsityPlot
from prune_viz.resources import demo_model_path

DEMO = demo_model_path()


def _seed_widths_mlp(folder, use_bias: bool):
    """The seed experiment's widths, untrained: 784-1000-1000-500-200-10, ReLU."""
    import keras

    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [keras.Input((784,))]
        + [keras.layers.Dense(n, activation="relu", use_bias=use_bias) for n in (1000, 1000, 500, 200)]
        + [keras.layers.Dense(10, activation="softmax", use_bias=use_bias)]
    )
    path = folder / f"seed_mlp_bias_{use_bias}.keras"
    model.save(path)
    return open_model(path)


@pytest.fixture(scope="module")
def seed_mlp(tmp_path_factory):
    """The seed experiment's MLP: no biases."""
    return _seed_widths_mlp(tmp_path_factory.mktemp("seed"), use_bias=False)


def csv_curves(method: str) -> dict[str, tuple[list[float], list[float]]]:
    """Repository -> (k, accuracy %), read straight from the shipped CSV."""
    curves = defaultdict(lambda: ([], []))
    with open(REFERENCE_CSV, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(line for line in f if not line.startswith("#")):
            ks, accuracies = curves[row["source"]]
            ks.append(float(row["k"]))
            accuracies.append(float(row[f"{method}_accuracy"]))
    return dict(curves)


def test_the_seed_mlp_offers_the_published_curves_of_the_current_method(qtbot, seed_mlp):
    session = Session()
    plot = AccuracySparsityPlot(session)
    qtbot.addWidget(plot)
    assert plot.reference_check.isHidden()
    session.set_model(seed_mlp)
    assert not plot.reference_check.isHidden()
    assert "other people's models, trained on full MNIST" in plot.reference_check.text()
    assert plot.reference_data() == {}  # off until asked for

    plot.reference_check.setChecked(True)
    for method in ("weight", "unit"):
        session.configure(method=method)
        drawn, expected = plot.reference_data(), csv_curves(method)
        assert drawn.keys() == expected.keys()
        for source, (ks, accuracies) in expected.items():
            order = np.argsort(ks)
            np.testing.assert_allclose(drawn[source][0], np.asarray(ks)[order])
            np.testing.assert_allclose(drawn[source][1], np.asarray(accuracies)[order])
    legend = [label.text for _sample, label in plot.legend.items]
    assert {f"{source} (published)" for source in expected} <= set(legend)
    for curve in reference_curves():  # the tooltip cites each repository and file
        assert f"{curve.source}, {curve.file}" in plot.reference_check.toolTip()

    plot.reference_check.setChecked(False)
    assert plot.reference_data() == {}
    assert not any("published" in label.text for _sample, label in plot.legend.items)


def test_other_models_do_not_offer_them(qtbot):
    session = Session()
    plot = AccuracySparsityPlot(session)
    qtbot.addWidget(plot)
    plot.reference_check.setChecked(True)
    session.set_model(open_model(DEMO))  # 784-300-100-10 with biases
    assert plot.reference_check.isHidden()
    assert plot.reference_data() == {}


def test_the_same_widths_with_biases_do_not_offer_them(qtbot, tmp_path):
    session = Session()
    plot = AccuracySparsityPlot(session)
    qtbot.addWidget(plot)
    plot.reference_check.setChecked(True)
    session.set_model(_seed_widths_mlp(tmp_path, use_bias=True))  # another experiment than the published one
    assert plot.reference_check.isHidden()
    assert plot.reference_data() == {}
