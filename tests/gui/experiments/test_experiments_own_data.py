"""Issue 27 item 4 in the window: sweep, sensitivity, compare, fine-tune and size/speed follow the chosen
data and its metric. Driven from the Experiments menu at 1280x720 on the small models and data of
tests/own_data.py: a regression sweep plots R² (no chance line), an unlabelled data set plots top-1
agreement with the unpruned model (no chance line), a classifier's chance line is 1 / its classes,
compare shows a colour model's own images and class names, fine-tuning is off with one sentence where
the data has no labels, and the window's CSV has the columns ``prune-viz sweep --csv`` writes."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QApplication

from prune_viz.core.session import open_model
from prune_viz.core.sweep import run_sweep
from prune_viz.gui.features import Action, Dock, Menu

from gui_helpers import WAIT_MS
from panel_helpers import table_texts

pytestmark = pytest.mark.slow
SHOTS = Path(os.environ.get("PRUNE_VIZ_SHOTS", "") or "/nonexistent")


def _window(qtbot, make_window, model: Path, data: Path):
    """A 1280x720 window with ``model`` open on ``data`` (chosen first, read as the model opens)."""
    window = make_window(size=(1280, 720))
    window.session.set_data(data_path=str(data))
    with qtbot.waitSignal(window.controller.data_read, timeout=WAIT_MS):
        window.set_opened_model(str(model), open_model(model))
    return window


def _open(qtbot, window, text: str):
    """Experiments > ``text``, as the user picks it from the menu; the page it shows."""
    menu = window.features.menus[Menu.EXPERIMENTS]
    action = next(a for a in menu.actions() if a.text().replace("&", "") == text)
    action.trigger()
    dock = window.features.docks[Dock.EXPERIMENTS]
    qtbot.waitUntil(dock.isVisible)
    qtbot.wait(50)  # its room is made and laid out
    return window.experiments.currentWidget()


def _run(qtbot, page, ks: str = "0 50 90") -> None:
    page.method_boxes["unit"].setChecked(False)
    page.ks_edit.setText(ks)
    qtbot.mouseClick(page.strip.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.strip.busy, timeout=WAIT_MS)


def _left_label(plot_item) -> str:
    return plot_item.getAxis("left").labelText


def _shot(window, name: str) -> None:
    """The 1280x720 screen as the user sees it: the window, and the experiments panel where it floats
    (at 720 px it opens as a window of its own beside the k slider) painted over it where it lies."""
    if not SHOTS.is_dir():
        return
    QApplication.processEvents()
    picture = window.grab()
    dock = window.features.docks[Dock.EXPERIMENTS]
    if dock.isVisible() and dock.isFloating():
        painter = QPainter(picture)
        painter.drawPixmap(dock.geometry().topLeft() - window.geometry().topLeft(), dock.grab())
        painter.end()
    picture.save(str(SHOTS / f"score-{name}.png"))


def _saved_csv(page, path: Path) -> list[dict]:
    assert page.save_csv(path)
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_a_regression_sweep_plots_r2_with_no_chance_line(qtbot, make_window, own_data, tmp_path, capsys):
    window = _window(qtbot, make_window, own_data / "regression.keras", own_data / "regression.npz")
    sweep = _open(qtbot, window, "Run sweep")
    assert sweep is window.experiments.sweep
    _run(qtbot, sweep)
    assert sweep.strip.message.text().startswith("Done: 3 points")
    points = sweep.points
    assert [p.score_metric for p in points] == ["r2"] * 3 and all(math.isnan(p.accuracy) for p in points)
    assert points[0].score > 0.8  # the unpruned model's R²
    for plot in (sweep.accuracy_plot, window.accuracy_plot):  # the panel's plot and the window's tab
        assert _left_label(plot.plot) == "R²" and not plot.chance_line.isVisible()
        x, y = plot.series_data("weight", "layer", sweep=True)
        want = sorted((100 * p.sparsity_included, p.score) for p in points)
        np.testing.assert_allclose(x, [w[0] for w in want])
        np.testing.assert_allclose(y, [w[1] for w in want])  # R² as it is, not a NaN accuracy
        low, high = plot.plot.getViewBox().viewRange()[1]
        assert low <= min(y) and high >= 1.0 and high < 2  # its range is R²'s, not 0-100
    headers = [sweep.table.horizontalHeaderItem(c).text() for c in range(sweep.table.columnCount())]
    assert headers[2:4] == ["R²", "MSE (lower is better)"]
    assert [row[2] for row in table_texts(sweep.table)] == [f"{p.score:.4f}" for p in points]
    assert "R² vs sparsity" in sweep.accuracy_plot.caption.text()

    # the window's CSV and prune-viz sweep --csv: the same columns, the score named after its metric
    saved = _saved_csv(sweep, tmp_path / "window.csv")
    from prune_viz.cli import main

    code = main([str(a) for a in (
        "sweep", own_data / "regression.keras", "--data", own_data / "regression.npz",
        "--ks", "0", "50", "90", "--methods", "weight", "--csv", tmp_path / "cli.csv",
    )])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    with open(tmp_path / "cli.csv", newline="") as f:
        cli = list(csv.DictReader(f))
    assert list(saved[0]) == list(cli[0]) and "r2" in saved[0] and "accuracy" not in saved[0]
    assert [float(r["r2"]) for r in saved] == pytest.approx([float(r["r2"]) for r in cli], abs=1e-5)
    assert [float(r["r2"]) for r in saved] == pytest.approx([p.score for p in points], abs=1e-5)
    window.result_tabs.setCurrentWidget(window.accuracy_plot)  # the window's own plot of the score, too
    _shot(window, "sweep-regression")


def test_an_unlabelled_sweep_plots_top1_agreement_and_sensitivity_follows(qtbot, make_window, own_data):
    window = _window(qtbot, make_window, own_data / "colours.keras", own_data / "colours-unlabelled.npz")
    sweep = _open(qtbot, window, "Run sweep")
    _run(qtbot, sweep, "0 50 90 99")
    points = sweep.points
    assert {p.task for p in points} == {"agreement"} and {p.score_metric for p in points} == {"top1_agreement"}
    assert points[0].score == 1.0  # unpruned, it agrees with itself
    plot = sweep.accuracy_plot
    assert _left_label(plot.plot) == "Top-1 agreement %" and not plot.chance_line.isVisible()
    x, y = plot.series_data("weight", "layer", sweep=True)
    np.testing.assert_allclose(y, [100 * p.score for p in sorted(points, key=lambda p: p.sparsity_included)])
    assert y[0] == 100.0 and not np.any(np.isnan(y))
    headers = [sweep.table.horizontalHeaderItem(c).text() for c in range(sweep.table.columnCount())]
    assert headers[2:4] == ["Top-1 agreement %", "output MSE (lower is better)"]
    _shot(window, "sweep-agreement")

    sensitivity = _open(qtbot, window, "Per-layer sensitivity")
    assert sensitivity is window.experiments.sensitivity
    sensitivity.method_boxes["unit"].setChecked(False)
    sensitivity.ks_edit.setText("0 90")
    qtbot.mouseClick(sensitivity.strip.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not sensitivity.strip.busy, timeout=WAIT_MS)
    assert _left_label(sensitivity.plot) == "Top-1 agreement %" and not sensitivity.chance_line.isVisible()
    ks, scores = sensitivity.curve_data("conv", "weight")
    assert ks == [0.0, 90.0] and scores[0] == 100.0
    expected = run_sweep(window.session, ("weight",), (0, 90), per_layer=True)
    assert scores == pytest.approx([100 * p.score for p in expected if p.layer == "conv"])


def test_a_classifier_draws_chance_at_one_over_its_classes(qtbot, make_window, own_data):
    window = _window(qtbot, make_window, own_data / "colours.keras", own_data / "colours-png")
    sweep = _open(qtbot, window, "Run sweep")
    _run(qtbot, sweep, "0 90")
    plot = sweep.accuracy_plot
    assert _left_label(plot.plot) == "Accuracy %"
    assert plot.chance_line.isVisible() and plot.chance_line.value() == pytest.approx(100 / 3)
    assert plot.chance_line.label.format == "chance 33.3%"  # three classes: blue, green, red
    assert window.accuracy_plot.chance_line.value() == pytest.approx(100 / 3)
    _x, y = plot.series_data("weight", "layer", sweep=True)
    assert y[0] == pytest.approx(100 * sweep.points[0].accuracy) and y[0] > 80


def test_compare_shows_a_colour_model_its_own_images_and_class_names(qtbot, make_window, own_data):
    window = _window(qtbot, make_window, own_data / "colours.keras", own_data / "colours-png")
    compare = _open(qtbot, window, "Compare...")
    assert compare is window.experiments.compare and compare.strip.run_button.isEnabled()
    compare.set_side_b("weight", 95.0)
    qtbot.mouseClick(compare.strip.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not compare.strip.busy and compare.comparison is not None, timeout=WAIT_MS)
    comparison = compare.comparison
    assert comparison.images.shape[1:] == (32, 32, 3)  # the folder's images at the model's size, not MNIST
    assert "colours-png" in comparison.data and "90 test images" in comparison.data
    text = compare.accuracy_label.text()
    assert f"A: <b>{comparison.a.evaluation.accuracy * 100:.2f}%</b>" in text and "accuracy (classification)" in text
    ticks = compare.digits.getAxis("bottom")._tickLevels[0]
    assert [label for _pos, label in ticks] == ["blue", "green", "red"]
    assert compare.gallery.count() == len(comparison.differing) > 0
    item = compare.gallery.item(0)
    index = int(comparison.differing[0])
    names = ("blue", "green", "red")
    a, b = comparison.a.evaluation.predicted[index], comparison.b.evaluation.predicted[index]
    assert item.text() == f"{names[a]} / {names[b]} ({names[comparison.labels[index]]})"
    picture = item.icon().pixmap(56, 56).toImage()
    colours = [picture.pixelColor(x, y) for x in range(0, 56, 4) for y in range(0, 56, 4)]
    assert any(c.red() != c.green() or c.green() != c.blue() for c in colours)  # a colour image, not a grey digit
    if SHOTS.is_dir():  # docked under the heatmap at 720 px the results scroll: shown in a window of their own
        window.features.actions[Action.EXPERIMENTS_WINDOW].trigger()
        dock = window.features.docks[Dock.EXPERIMENTS]
        qtbot.waitUntil(dock.isFloating)
        qtbot.wait(200)
        dock.setGeometry(window.geometry().left() + 100, window.geometry().top() + 30, 1150, 670)
        qtbot.wait(200)
        _shot(window, "compare-colour-folder")


def test_fine_tuning_needs_labels_and_trains_on_the_datas_own_training_split(qtbot, make_window, own_data):
    window = _window(qtbot, make_window, own_data / "colours.keras", own_data / "colours-unlabelled.npz")
    finetune = _open(qtbot, window, "Fine-tune...")
    assert not finetune.strip.run_button.isEnabled()
    assert finetune.strip.message.text() == "Fine-tuning needs labels, and colours-unlabelled.npz has none."
    assert finetune.strip.run_button.toolTip() == finetune.strip.message.text()

    with qtbot.waitSignal(window.controller.data_read, timeout=WAIT_MS):
        window.evaluation.data_path_chosen.emit(str(own_data / "colours.npz"))
    assert finetune.strip.run_button.isEnabled() and finetune.strip.message.text() == ""
    finetune.epochs.setValue(1)
    qtbot.mouseClick(finetune.strip.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not finetune.strip.busy and finetune.result is not None, timeout=WAIT_MS)
    said = finetune.data_label.text()
    assert "colours.npz training split (300 samples)" in said and "MNIST" not in said
    assert finetune.result.metadata["test_images"] == 90


def test_fine_tuning_a_regression_model_is_off_once_its_task_is_known(qtbot, make_window, own_data, tmp_path):
    arrays = np.load(own_data / "regression.npz")
    x, y = arrays["x"], arrays["y"]
    np.savez(tmp_path / "split.npz", x_test=x[:50], y_test=y[:50], x_train=x[50:], y_train=y[50:])
    window = _window(qtbot, make_window, own_data / "regression.keras", tmp_path / "split.npz")
    finetune = _open(qtbot, window, "Fine-tune...")
    assert finetune.strip.run_button.isEnabled()  # labels and a training split: the task is not known yet
    with qtbot.waitSignal(window.controller.shown, timeout=WAIT_MS):
        window.evaluation.evaluate_button.click()
    assert not finetune.strip.run_button.isEnabled()
    assert finetune.strip.message.text() == (
        "Fine-tuning trains classifiers with one output; on split.npz this model's task is regression."
    )


def test_size_and_speed_times_a_pass_over_the_chosen_data(qtbot, make_window, own_data):
    window = _window(qtbot, make_window, own_data / "colours.keras", own_data / "colours-png")
    page = _open(qtbot, window, "Size and speed")
    page.repeats.setValue(1)
    qtbot.mouseClick(page.strip.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.strip.busy and page.report is not None, timeout=WAIT_MS)
    assert page.report.test_images == 90  # the folder's 90 images, not MNIST's 10,000
    assert "over 90 test images" in page.strip.message.text()
    rows = table_texts(page.table)
    assert rows[0][3].endswith(" ms") and rows[0][4].endswith("%")
