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


def _transformer_block(path):
    import keras

    L = keras.layers
    keras.utils.set_random_seed(4)
    inputs = keras.Input((6, 8))
    attended = L.MultiHeadAttention(num_heads=4, key_dim=4, name="mha")(inputs, inputs)
    x = L.LayerNormalization()(L.Add()([inputs, attended]))
    ff = L.Dense(8, name="ff2")(L.Dense(16, activation="relu", name="ff1")(x))
    x = L.LayerNormalization()(L.Add()([x, ff]))
    keras.Model(inputs, L.Dense(3, name="out")(L.GlobalAveragePooling1D()(x))).save(path)


def test_compacting_a_transformer_block_is_offered_once_its_residual_layer_is_left_out(qtbot, jobs, tmp_path):
    import keras

    from prune_viz.core.session import Session, open_model

    _transformer_block(tmp_path / "block.keras")
    session = Session()
    session.set_model(open_model(tmp_path / "block.keras"))
    parent = QWidget()
    qtbot.addWidget(parent)
    exporter = PrunedModelExporter(session, jobs, parent)
    session.configure(method="unit", k=50, unit_mode="remove")
    problem = exporter.problem(compact=True)
    assert problem is not None and "ff2" in problem  # its units feed the residual Add
    session.configure(included=frozenset(t.name for t in session.model.layers if t.layer_path in {"mha", "ff1"}))
    assert exporter.problem(compact=True) is None
    with qtbot.waitSignal(exporter.exported, timeout=WAIT_MS) as blocker:
        exporter.export_to(tmp_path / "small.keras", compact=True)
    assert {c.name: (c.units_before, c.units_after) for c in blocker.args[0].compaction.layers}["mha"] == (4, 2)
    small = keras.saving.load_model(tmp_path / "small.keras", compile=False)
    assert small.get_layer("mha").get_config()["num_heads"] == 2
    assert small.get_layer("ff1").kernel.shape == (8, 8)
