"""The Experiments dock and menu inside the main window."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from prune_viz.core.pruning import count_to_prune
from prune_viz.gui.experiments.base import KERAS_FILTER
from prune_viz.gui.features import Action, Dock

from gui_helpers import WAIT_MS


def test_experiments_menu_runs_a_sweep_into_the_window_plot_and_file_menu_exports(qtbot, window, tmp_path, monkeypatch):
    import keras
    from PySide6.QtWidgets import QFileDialog

    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions()}
    experiments = [a.text().replace("&", "") for a in menus["Experiments"].actions()]
    assert experiments[:4] == ["Run sweep", "Per-layer sensitivity", "Size and speed", "Fine-tune..."]
    panel = window.experiments
    assert not window.features.docks[Dock.EXPERIMENTS].isVisible()
    panel.sweep.ks_edit.setText("0 90")
    qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert window.features.docks[Dock.EXPERIMENTS].isVisible() and panel.currentWidget() is panel.sweep
    assert not panel.sweep.strip.busy  # opening the tab starts nothing
    panel.sweep.strip.run_button.click()
    assert panel.sweep.strip.busy and window.job_label.text().startswith("Sweep")
    qtbot.waitUntil(lambda: not panel.sweep.strip.busy, timeout=WAIT_MS)
    for method in ("weight", "unit"):
        np.testing.assert_array_equal(
            window.accuracy_plot.series_data(method, "layer", sweep=True)[1],
            panel.sweep.accuracy_plot.series_data(method, "layer", sweep=True)[1],
        )
        assert window.accuracy_plot.series_data(method, "layer", sweep=True)[1].size == 2

    out = tmp_path / "exported"  # the suffix is added
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(out), KERAS_FILTER))
    window.session.configure(method="weight", k=70)
    with qtbot.waitSignal(window.experiments.exporter.exported, timeout=WAIT_MS):
        window.features.actions[Action.EXPORT].trigger()
    model = keras.saving.load_model(tmp_path / "exported.keras", compile=False)
    kernel = model.get_layer("hidden1").kernel.numpy()
    assert np.count_nonzero(kernel == 0) == count_to_prune(kernel.size, 70)
    assert "Exported" in window.statusBar().currentMessage()


def test_opening_another_model_stops_a_running_sweep(qtbot, window, trained_mlp_path):
    sweep = window.experiments.sweep
    sweep.ks_edit.setText(" ".join(str(k) for k in range(0, 100, 2)))
    window.features.actions[Action.SWEEP].trigger()
    sweep.run()
    qtbot.waitUntil(lambda: len(sweep.points) >= 1, timeout=WAIT_MS)
    with qtbot.waitSignal(window.model_opened, timeout=WAIT_MS):
        window.open_path(trained_mlp_path)
    assert not sweep.strip.busy and sweep.points == []  # cleared for the new model
    assert sweep.strip.run_button.isEnabled()
