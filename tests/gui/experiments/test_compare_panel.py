"""The Compare panel: side B chosen like a user does, the numbers shown as core.compare computes them."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF

from prune_viz.core.compare import compare
from prune_viz.core.data import load_mnist
from prune_viz.core.pruning import PruningConfig

from panel_helpers import click_and_wait, table_texts


def test_compare_two_settings_shows_the_table_accuracies_and_gallery(qtbot, panel, session, opened_mlp, mnist_dir):
    tab = panel.compare
    session.configure(method="weight", k=90)
    tab.set_side_b("unit", 60)
    click_and_wait(qtbot, tab)
    expected = compare(
        opened_mlp,
        session.config,
        opened_mlp,
        PruningConfig("unit", 60, "layer", session.config.included),
        load_mnist(str(mnist_dir)),
    )
    assert table_texts(tab.table) == [
        [layer.name, f"{layer.sparsity_a * 100:.2f}%", f"{layer.sparsity_b * 100:.2f}%", f"{layer.jaccard:.4f}"]
        for layer in expected.layers
    ]
    assert table_texts(tab.table)[-1] == ["output", "0.00%", "0.00%", "1.0000"]
    text = tab.accuracy_label.text()
    assert f"A: <b>{expected.a.evaluation.accuracy * 100:.2f}%</b> (weight pruning, k=90%" in text
    assert f"B: <b>{expected.b.evaluation.accuracy * 100:.2f}%</b> (unit pruning, k=60%" in text
    assert f"{len(expected.differing):,} of 10,000 test images are predicted differently" in text
    assert tab.gallery.count() == min(len(expected.differing), 200) > 0
    first = int(expected.differing[0])
    assert tab.gallery.item(0).text() == (
        f"{expected.a.evaluation.predicted[first]} / "
        f"{expected.b.evaluation.predicted[first]} ({expected.labels[first]})"
    )

    # the heatmaps show each side's mask of the selected layer, and zoom together
    assert tab.layer.currentText() == "hidden1"
    assert np.array_equal(np.isnan(tab.view_a.displayed_image()), ~expected.a.kept("hidden1"))
    assert np.array_equal(np.isnan(tab.view_b.displayed_image()), ~expected.b.kept("hidden1"))
    assert np.array_equal(tab.view_difference.displayed_image(), expected.difference("hidden1"))
    tab.view_a.plot.getViewBox().setRange(QRectF(5, 100, 10, 50), padding=0.0)
    for view in (tab.view_b, tab.view_difference):
        assert view.plot.getViewBox().viewRange() == tab.view_a.plot.getViewBox().viewRange()
    tab.table.cellClicked.emit(1, 0)
    assert tab.view_b.layer_name == "B: hidden2"

    # A is the window's current pruning: changing it marks the comparison stale
    session.configure(k=50)
    assert "k changed (90% -> 50%)" in tab.stale_label.text()


def test_compare_with_a_checkpoint_of_another_architecture_says_why(qtbot, panel, session, tmp_path):
    import keras

    model = keras.Sequential(
        [keras.Input((784,)), keras.layers.Dense(16, name="hidden1"), keras.layers.Dense(10, name="output")]
    )
    other = tmp_path / "other.keras"
    model.save(other)
    tab = panel.compare
    tab.set_side_b("weight", 0, checkpoint=other)
    click_and_wait(qtbot, tab)
    assert tab.comparison is None
    assert "different architectures" in tab.strip.error_box.text()


def test_cancel_stops_a_comparison_and_leaves_the_model_unpruned(qtbot, panel, session, opened_mlp):
    from PySide6.QtCore import Qt

    from prune_viz.core.tasks import tensorflow_job

    from gui_helpers import WAIT_MS

    tab = panel.compare
    session.configure(method="weight", k=90)
    tab.set_side_b("unit", 90)
    with tensorflow_job():  # the job waits at the lock, so it is surely still running when cancelled
        qtbot.mouseClick(tab.strip.run_button, Qt.MouseButton.LeftButton)
        assert tab.strip.busy and tab.strip.cancel_button.isEnabled()
        qtbot.mouseClick(tab.strip.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.strip.busy, timeout=WAIT_MS)
    assert tab.comparison is None and tab.table.rowCount() == 0
    assert tab.strip.message.text() == "Comparing cancelled."
    for layer in opened_mlp.layers:
        np.testing.assert_array_equal(layer.variable.numpy(), layer.original)
