"""File > Export pruned model: a loadable pruned model, never written over the opened file."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QWidget

from prune_viz.core.pruning import PruningConfig
from prune_viz.gui.experiments.export import PrunedModelExporter

from gui_helpers import WAIT_MS


def test_export_writes_a_loadable_pruned_model_and_refuses_the_opened_file(
    qtbot, session, jobs, opened_mlp, trained_mlp_path, tmp_path
):
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
