"""An Embedding + LSTM text model in the window: every tensor in the layer list with its matrix shape,
the left-out normalisation layer listed greyed with its reason, the share of weights said, heatmap axes
named after what rows and columns are, and unit pruning counting an LSTM's hidden units once."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from gui_helpers import WAIT_MS

pytestmark = pytest.mark.slow


def test_an_lstm_model_shows_every_tensor_and_what_it_leaves_out(qtbot, make_window, text_model_path):
    window = make_window()
    with qtbot.waitSignal(window.model_opened, timeout=WAIT_MS):
        window.open_path(text_model_path)
    tree = window.layer_list
    rows = [[tree.topLevelItem(i).text(c) for c in range(3)] for i in range(tree.topLevelItemCount())]
    assert rows == [
        ["embedding", "Embedding", "200 x 16"],
        ["lstm/kernel", "LSTM kernel", "16 x 48"],
        ["lstm/recurrent_kernel", "LSTM recurrent kernel", "12 x 48"],
        ["head", "Dense", "12 x 2"],
        ["norm", "left out", ""],
    ]
    left_out = tree.topLevelItem(4)
    assert not left_out.flags() & Qt.ItemFlag.ItemIsEnabled
    assert "a normalisation layer: never pruned itself" in left_out.toolTip(0)
    assert "100.0% of the model's weight-matrix entries" in window.statusBar().currentMessage()

    window.heatmaps.set_layer("embedding")
    plot = window.heatmaps.view.plot
    assert plot.getAxis("left").labelText == "tokens (row)"
    assert plot.getAxis("bottom").labelText == "dimensions (column)"

    window.session.configure(method="unit", unit_mode="remove")
    window.controls.slider.setValue(50)
    qtbot.waitUntil(lambda: window.session.config.k == 50, timeout=WAIT_MS)
    text = window.controls.readout.text()
    assert "Prunable: 100.0% of the model's weight-matrix entries; 1 layer(s) left out" in text
    assert "Units pruned: 14 of 28" in text  # 8 of 16 dimensions and 6 of 12 hidden units, each once
    window.heatmaps.set_layer("lstm/recurrent_kernel")
    shown = window.heatmaps.view.displayed_image()
    assert shown.shape == (12, 48)
    assert int(np.isnan(shown).sum()) == 12 * 48 - 6 * 24  # pruned: the units' gate columns and their rows
