"""The experiment panels driven like a user would (buttons, Cancel), offscreen, on the small trained MLP
and real MNIST; every number shown is checked against the core function run directly."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QWidget

from prune_viz.core.pruning import PruningConfig, count_to_prune
from prune_viz.core.session import Session
from gui_helpers import WAIT_MS, job_threads
from prune_viz.core.sweep import run_sweep
from prune_viz.gui.experiments_qt import KERAS_FILTER, ExperimentsPanel, PrunedModelExporter, megabytes
from prune_viz.gui.workers import JobQueue

@pytest.fixture
def session(opened_mlp, mnist_dir):
    session = Session(data_path=str(mnist_dir))
    session.set_model(opened_mlp)
    return session


@pytest.fixture
def jobs():
    queue = JobQueue()
    yield queue
    queue.shutdown()
    assert job_threads() == []


@pytest.fixture
def panel(qtbot, session, jobs):
    panel = ExperimentsPanel(session, jobs)
    qtbot.addWidget(panel)
    panel.resize(1200, 500)
    panel.show()
    return panel


def _click_and_wait(qtbot, tab):
    qtbot.mouseClick(tab.strip.run_button, Qt.MouseButton.LeftButton)
    assert tab.strip.busy
    qtbot.waitUntil(lambda: not tab.strip.busy, timeout=WAIT_MS)


def _table(table) -> list[list[str]]:
    return [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]


def test_sweep_plots_one_point_per_method_and_k_live_equal_to_run_sweep(qtbot, panel, session, opened_mlp,
                                                                        mnist_dir, tmp_path):
    sweep = panel.sweep
    sweep.ks_edit.setText("0, 50 90")
    busy_at_each_point = []
    sweep.point_added.connect(lambda _p: busy_at_each_point.append(sweep.strip.busy))
    _click_and_wait(qtbot, sweep)

    expected = run_sweep(opened_mlp, ("weight", "unit"), (0, 50, 90), "layer", data_path=str(mnist_dir))
    assert len(sweep.points) == len(expected) == 6
    assert busy_at_each_point == [True] * 6  # drawn while the sweep was still running
    for method in ("weight", "unit"):
        x, y = sweep.accuracy_plot.series_data(method, "layer", sweep=True)
        want = sorted((100 * p.sparsity_included, 100 * p.accuracy) for p in expected if p.method == method)
        assert len(x) == 3
        np.testing.assert_allclose(x, [w[0] for w in want])
        np.testing.assert_array_equal(y, [w[1] for w in want])
    rows = _table(sweep.table)
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (p.method, f"{p.k:g}", f"{p.accuracy * 100:.2f}") for p in expected]
    assert "Done: 6 points" in sweep.strip.message.text()
    assert session.model.pruner  # the model stays open and unpruned
    np.testing.assert_array_equal(opened_mlp.layers[0].variable.numpy(), opened_mlp.layers[0].original)

    assert sweep.save_csv(tmp_path / "sweep.csv")
    with open(tmp_path / "sweep.csv", newline="") as f:
        saved = list(csv.DictReader(f))
    assert [(r["method"], float(r["k"]), float(r["accuracy"])) for r in saved] == [
        (p.method, p.k, float(f"{p.accuracy:.6g}")) for p in expected]
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
    _click_and_wait(qtbot, sweep)
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
    _click_and_wait(qtbot, sensitivity)
    expected = run_sweep(opened_mlp, ("weight",), (0, 90), "layer", per_layer=True, data_path=str(mnist_dir))
    assert {p.layer for p in expected} == {"hidden1", "hidden2"}
    for layer in ("hidden1", "hidden2"):
        ks, accuracies = sensitivity.curve_data(layer, "weight")
        assert ks == [0.0, 90.0]
        assert accuracies == [100 * p.accuracy for p in expected if p.layer == layer]
    assert [r[0] for r in _table(sensitivity.table)] == [p.layer for p in expected]


def test_size_and_speed_shows_the_report_and_compaction_only_for_unit_pruning(qtbot, panel, session):
    tab = panel.size_speed
    tab.repeats.setValue(1)
    session.configure(method="unit", k=50)
    _click_and_wait(qtbot, tab)
    report = tab.report
    assert report.config == session.config
    rows = _table(tab.table)
    assert [(r[0], r[1]) for r in rows] == [(row.name, megabytes(row.bytes)) for row in report.rows]
    assert len(rows) == 4 and rows[3][0].startswith("compacted")
    assert rows[0][3] == f"{report.rows[0].latency_seconds * 1000:.1f} ms"
    assert report.rows[3].bytes < report.rows[0].bytes
    summary = tab.summary.text()
    assert f"{report.coupling.useless_weights:,} non-zero weights read only dead units" in summary
    assert f"{report.compaction.parameters_after:,} parameters" in summary

    session.configure(method="weight", k=90)
    assert "measure again" in tab.config_label.text()  # the numbers shown are for the old settings
    _click_and_wait(qtbot, tab)
    rows = _table(tab.table)
    assert [r[0] for r in rows] == [row.name for row in tab.report.rows if not row.name.startswith("compacted")]
    assert "offered for unit pruning only" in tab.summary.text()


def test_finetune_keeps_pruned_weights_zero_shows_its_numbers_and_saves_elsewhere(
        qtbot, panel, session, opened_mlp, trained_mlp_path, tmp_path):
    import keras

    tab = panel.finetune
    session.configure(method="weight", k=80)
    tab.epochs.setValue(1)
    _click_and_wait(qtbot, tab)
    result = tab.result
    assert result.config == session.config
    masks = opened_mlp.pruner.prune(session.config).masks
    for name in session.config.included:
        kernel = np.asarray(result.model.get_layer(name).kernel.numpy())
        pruned = ~np.asarray(masks[name].numpy(), bool)
        assert pruned.sum() > 0 and np.all(kernel[pruned] == 0)
    text = tab.accuracy_label.text()
    assert f"<b>{result.accuracy_before * 100:.2f}%</b> before" in text
    assert f"<b>{result.accuracy_after * 100:.2f}%</b> after" in text
    assert f"unpruned {result.unpruned_accuracy * 100:.2f}%" in text
    assert "MNIST 5,000-image training subset" in tab.data_label.text()
    assert "not the full 60,000-image training set" in tab.data_label.text()

    before = trained_mlp_path.read_bytes()
    assert tab.save_to(trained_mlp_path) is None
    assert "Refusing to write over the opened model" in tab.error_box.text()
    assert trained_mlp_path.read_bytes() == before

    out = tmp_path / "finetuned.keras"
    assert tab.save_to(out) is not None
    qtbot.waitUntil(lambda: not tab.strip.busy, timeout=WAIT_MS)
    assert tab.saved_path == out
    saved = keras.saving.load_model(out, compile=False)
    for layer in result.model.layers:
        for a, b in zip(layer.get_weights(), saved.get_layer(layer.name).get_weights()):
            np.testing.assert_array_equal(a, b)


def test_a_cancelled_write_reports_whether_the_file_was_written(tmp_path):
    import time

    from prune_viz.gui.experiments_qt import write_outcome

    old = tmp_path / "old.keras"
    old.write_bytes(b"x")
    start = time.time() + 60  # as if the job began a minute after old.keras was written
    new = tmp_path / "new.keras"
    assert write_outcome(new, start) == "new.keras was not written"
    assert write_outcome(old, start) == "old.keras was not written"
    assert write_outcome(old, time.time()) == "old.keras was written"


def test_export_writes_a_loadable_pruned_model_and_refuses_the_opened_file(qtbot, session, jobs, opened_mlp,
                                                                           trained_mlp_path, tmp_path):
    import keras

    parent = QWidget()
    qtbot.addWidget(parent)
    exporter = PrunedModelExporter(session, jobs, parent)
    session.configure(method="unit", k=50)
    config = session.config

    before = trained_mlp_path.read_bytes()
    assert exporter.export_to(trained_mlp_path) is None
    assert "Refusing to write over the opened model" in exporter.error_box.text()
    assert trained_mlp_path.read_bytes() == before

    dense, compact = tmp_path / "dense.keras", tmp_path / "compact.keras"
    with qtbot.waitSignal(exporter.exported, timeout=WAIT_MS):
        exporter.export_to(dense)
    with qtbot.waitSignal(exporter.exported, timeout=WAIT_MS) as blocker:
        exporter.export_to(compact, compact=True)
    assert blocker.args[0].compacted
    expected = opened_mlp.pruner.prune(PruningConfig(config.method, config.k, config.scope, config.included))
    loaded = keras.saving.load_model(dense, compile=False)
    for name in config.included:
        np.testing.assert_array_equal(loaded.get_layer(name).kernel.numpy(), expected.kernels[name].numpy())
    small = keras.saving.load_model(compact, compile=False)
    assert small.get_layer("hidden1").kernel.shape == (784, 32)  # half of the 64 units removed
    assert small.get_layer("hidden2").kernel.shape == (32, 16)
    np.testing.assert_array_equal(opened_mlp.layers[0].variable.numpy(), opened_mlp.layers[0].original)


def test_cancel_stops_fine_tuning_and_leaves_the_model_unpruned(qtbot, panel, session, opened_mlp):
    tab = panel.finetune
    session.configure(method="unit", k=50)
    tab.epochs.setValue(20)
    qtbot.mouseClick(tab.strip.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "epoch 2/20" in tab.strip.message.text(), timeout=WAIT_MS)
    qtbot.mouseClick(tab.strip.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.strip.busy, timeout=WAIT_MS)
    assert tab.result is None and not tab.save_button.isEnabled()
    assert tab.strip.message.text() == "Fine-tuning cancelled."
    assert tab.strip.run_button.isEnabled()
    for layer in opened_mlp.layers:
        np.testing.assert_array_equal(layer.variable.numpy(), layer.original)


# -- in the main window ----------------------------------------------------------------------------


@pytest.fixture
def window(qtbot, tmp_path, mnist_dir, opened_mlp, trained_mlp_path):
    from PySide6.QtCore import QSettings

    from prune_viz.gui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Session(data_path=str(mnist_dir)), settings)
    window.show()
    qtbot.waitExposed(window)
    window.set_opened_model(str(trained_mlp_path), opened_mlp)
    yield window
    window.close()
    window.deleteLater()
    assert job_threads() == []


def test_experiments_menu_runs_a_sweep_into_the_window_plot_and_file_menu_exports(qtbot, window, tmp_path,
                                                                                  monkeypatch):
    import keras
    from PySide6.QtWidgets import QFileDialog

    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    experiments = [a.text().replace("&", "") for a in menus["Experiments"].actions()]
    assert experiments[:4] == ["Run sweep", "Per-layer sensitivity", "Size and speed", "Fine-tune..."]
    panel = window.experiments
    assert not window.experiments_dock.isVisible()
    panel.sweep.ks_edit.setText("0 90")
    qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert window.experiments_dock.isVisible() and panel.currentWidget() is panel.sweep
    assert panel.sweep.strip.busy and window.job_label.text().startswith("Sweep")
    qtbot.waitUntil(lambda: not panel.sweep.strip.busy, timeout=WAIT_MS)
    for method in ("weight", "unit"):
        np.testing.assert_array_equal(window.accuracy_plot.series_data(method, "layer", sweep=True)[1],
                                      panel.sweep.accuracy_plot.series_data(method, "layer", sweep=True)[1])
        assert window.accuracy_plot.series_data(method, "layer", sweep=True)[1].size == 2

    out = tmp_path / "exported"  # the suffix is added
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(out), KERAS_FILTER))
    window.session.configure(method="weight", k=70)
    with qtbot.waitSignal(window.exporter.exported, timeout=WAIT_MS):
        window.export_action.trigger()
    model = keras.saving.load_model(tmp_path / "exported.keras", compile=False)
    kernel = model.get_layer("hidden1").kernel.numpy()
    assert np.count_nonzero(kernel == 0) == count_to_prune(kernel.size, 70)
    assert "Exported" in window.statusBar().currentMessage()


def test_opening_another_model_stops_a_running_sweep(qtbot, window, trained_mlp_path):
    sweep = window.experiments.sweep
    sweep.ks_edit.setText(" ".join(str(k) for k in range(0, 100, 2)))
    window.sweep_action.trigger()
    qtbot.waitUntil(lambda: len(sweep.points) >= 1, timeout=WAIT_MS)
    with qtbot.waitSignal(window.model_opened, timeout=WAIT_MS):
        window.open_path(trained_mlp_path)
    assert not sweep.strip.busy and sweep.points == []  # cleared for the new model
    assert sweep.strip.run_button.isEnabled()
