"""The Sweep and Per-layer sensitivity panels driven like a user would, offscreen, on the small trained
MLP and real MNIST; every point shown is checked against core.sweep.run_sweep run directly."""

from __future__ import annotations

import csv

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from prune_viz.core.sweep import run_sweep

from gui_helpers import WAIT_MS
from panel_helpers import click_and_wait, table_texts


def test_sweep_plots_one_point_per_method_and_k_live_equal_to_run_sweep(
    qtbot, panel, session, opened_mlp, mnist_dir, tmp_path
):
    sweep = panel.sweep
    sweep.ks_edit.setText("0, 50 90")
    busy_at_each_point = []
    sweep.point_added.connect(lambda _p: busy_at_each_point.append(sweep.strip.busy))
    click_and_wait(qtbot, sweep)

    expected = run_sweep(opened_mlp, ("weight", "unit"), (0, 50, 90), "layer", data_path=str(mnist_dir))
    assert len(sweep.points) == len(expected) == 6
    assert busy_at_each_point == [True] * 6  # drawn while the sweep was still running
    for method in ("weight", "unit"):
        x, y = sweep.accuracy_plot.series_data(method, "layer", sweep=True)
        want = sorted((100 * p.sparsity_included, 100 * p.accuracy) for p in expected if p.method == method)
        assert len(x) == 3
        np.testing.assert_allclose(x, [w[0] for w in want])
        np.testing.assert_array_equal(y, [w[1] for w in want])
    rows = table_texts(sweep.table)
    assert [(r[0], r[1], r[2]) for r in rows] == [(p.method, f"{p.k:g}", f"{p.accuracy * 100:.2f}") for p in expected]
    assert "Done: 6 points" in sweep.strip.message.text()
    assert session.model.pruner  # the model stays open and unpruned
    np.testing.assert_array_equal(opened_mlp.layers[0].variable.numpy(), opened_mlp.layers[0].original)

    assert sweep.save_csv(tmp_path / "sweep.csv")
    with open(tmp_path / "sweep.csv", newline="") as f:
        saved = list(csv.DictReader(f))
    assert [(r["method"], float(r["k"]), float(r["accuracy"])) for r in saved] == [
        (p.method, p.k, float(f"{p.accuracy:.6g}")) for p in expected
    ]
    assert sweep.save_png(tmp_path / "sweep.png")
    image = QImage(str(tmp_path / "sweep.png"))
    assert image.width() > 500 and image.height() > 300
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.csv", "sweep.png"]  # no temp files left


def test_cancel_stops_a_sweep_early_and_the_panel_stays_usable(qtbot, panel):
    sweep = panel.sweep
    sweep.ks_edit.setText(" ".join(str(k) for k in range(0, 100, 5)))
    qtbot.mouseClick(sweep.strip.run_button, Qt.MouseButton.LeftButton)
    planned = sweep.planned
    assert planned == 40
    qtbot.waitUntil(lambda: len(sweep.points) >= 1, timeout=WAIT_MS)
    qtbot.mouseClick(sweep.strip.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not sweep.strip.busy, timeout=WAIT_MS)
    stopped_at = len(sweep.points)
    assert 1 <= stopped_at < planned
    assert "cancelled" in sweep.strip.message.text()
    assert sweep.strip.run_button.isEnabled() and not sweep.strip.cancel_button.isEnabled()
    assert sweep.table.rowCount() == stopped_at

    sweep.ks_edit.setText("0")
    click_and_wait(qtbot, sweep)
    assert [(p.method, p.k) for p in sweep.points] == [("weight", 0.0), ("unit", 0.0)]
    assert sweep.accuracy_plot.series_data("weight", "layer", sweep=True)[0].size == 1


def test_bad_ks_are_refused_before_any_job(qtbot, panel, jobs):
    panel.sweep.ks_edit.setText("10 150")
    assert panel.sweep.run() is None
    assert not jobs.busy
    assert "150" in panel.sweep.error_box.text()


def test_sensitivity_draws_one_curve_per_layer_equal_to_run_sweep(qtbot, panel, opened_mlp, mnist_dir):
    sensitivity = panel.sensitivity
    sensitivity.method_boxes["unit"].setChecked(False)
    sensitivity.ks_edit.setText("0 90")
    click_and_wait(qtbot, sensitivity)
    expected = run_sweep(opened_mlp, ("weight",), (0, 90), "layer", per_layer=True, data_path=str(mnist_dir))
    assert {p.layer for p in expected} == {"hidden1", "hidden2"}
    for layer in ("hidden1", "hidden2"):
        ks, accuracies = sensitivity.curve_data(layer, "weight")
        assert ks == [0.0, 90.0]
        assert accuracies == [100 * p.accuracy for p in expected if p.layer == layer]
    assert [r[0] for r in table_texts(sensitivity.table)] == [p.layer for p in expected]


def test_a_sweep_goes_stale_with_its_layers_or_data_but_not_with_k(qtbot, panel, session):
    sweep = panel.sweep
    sweep.method_boxes["unit"].setChecked(False)
    sweep.ks_edit.setText("0 50")
    click_and_wait(qtbot, sweep)
    assert "since this sweep" not in sweep.scope_label.text()
    session.configure(k=30)  # a sweep covers every k: still current
    assert "since this sweep" not in sweep.scope_label.text()
    session.configure(included=frozenset({"hidden1"}))
    assert "The pruning settings changed since this sweep: the included layers changed." in sweep.scope_label.text()
    session.configure(included=frozenset({"hidden1", "hidden2"}))
    assert "since this sweep" not in sweep.scope_label.text()
    session.set_data(preprocessing="raw")
    assert "The test data or its input scaling changed since this sweep." in sweep.scope_label.text()
