"""The Fine-tune panel: masks held, numbers shown as core.finetune measured them, saving elsewhere only."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt

from gui_helpers import WAIT_MS
from panel_helpers import click_and_wait


def test_finetune_keeps_pruned_weights_zero_shows_its_numbers_and_saves_elsewhere(
    qtbot, panel, session, opened_mlp, trained_mlp_path, tmp_path
):
    import keras

    from prune_viz.core.io import load_model
    from prune_viz.core.provenance import describe_derivation
    from prune_viz.core.session import Session, open_model
    from prune_viz.gui.panels.evaluation import EvaluationController, EvaluationPanel

    tab = panel.finetune
    # the learning-rate box reaches core.finetune and the saved model
    assert tab.learning_rate.text() == "0.0001"  # core's default
    tab.learning_rate.stepBy(1)
    assert tab.learning_rate.text() == "0.0002"
    tab.learning_rate.lineEdit().setText("3e-4")
    tab.learning_rate.interpretText()
    session.configure(method="weight", k=80)
    tab.epochs.setValue(1)
    click_and_wait(qtbot, tab)
    result = tab.result
    tune = result.metadata["fine_tune"]
    assert tune["learning_rate"] == 0.0003 and tune["optimizer"] == "Adam (learning rate 0.0003)"
    assert "Adam (learning rate 0.0003)" in tab.data_label.text()
    assert "at learning rate 0.0003 in" in tab.strip.message.text()
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
    derived = load_model(out).metadata["derived_from"]
    assert (derived["method"], derived["k"], derived["epochs"], derived["learning_rate"]) == ("weight", 80.0, 1, 0.0003)

    # the window's model info says where an opened derived model came from
    tuned = Session()
    evaluation = EvaluationPanel(tuned, EvaluationController(tuned, tab.strip.jobs))
    qtbot.addWidget(evaluation)
    tuned.set_model(open_model(out))
    sentence = describe_derivation(tuned.model.loaded.metadata)
    assert sentence.startswith("mlp.keras (sha256 ") and "weight pruning, k=80%" in sentence
    assert f"derived from {sentence}" in evaluation.trained_on.text()


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
