"""A model whose weights hold NaN and infinities, opened in the window (issue 30, item 13): the window says
so up front with the core's sentences, draws them magenta (never the pruned grey) in the heatmap, its
thumbnail and the bias strip, says what they are in the legend and the hover line, and greys them only
once pruning reaches them (NaN last). And a two-head model: each head is an output layer, excluded by
default, and the window says so for each."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QWidget

from prune_viz.core.non_finite import PRUNING_RULE
from prune_viz.gui.views.colours import NON_FINITE_RGB, PRUNED_RGB

from gui_helpers import WAIT_MS

NAN_ROWS, NAN_COLUMNS = slice(300, 340), slice(2, 6)  # 160 NaN weights of h1
INF_CELLS = ((100, 10), (101, 11))  # +inf, -inf


@pytest.fixture(scope="module")
def nan_model_path(tmp_path_factory):
    import keras

    keras.utils.set_random_seed(7)
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(16, activation="relu", name="h1"),
            keras.layers.Dense(10, activation="softmax", name="out"),
        ]
    )
    kernel = model.get_layer("h1").kernel.numpy()
    kernel[NAN_ROWS, NAN_COLUMNS] = np.nan
    (r0, c0), (r1, c1) = INF_CELLS
    kernel[r0, c0], kernel[r1, c1] = np.inf, -np.inf
    model.get_layer("h1").kernel.assign(kernel)
    bias = model.get_layer("h1").bias.numpy()
    bias[12] = np.nan
    model.get_layer("h1").bias.assign(bias)
    path = tmp_path_factory.mktemp("nan") / "nan-weights.keras"
    model.save(path)
    return path


def _open(qtbot, window, path):
    with qtbot.waitSignal(window.model_opened, timeout=WAIT_MS):
        window.open_path(str(path))
    qtbot.waitUntil(lambda: window.heatmaps.view.matrix is not None, timeout=WAIT_MS)


def _is(pixels: np.ndarray, rgb) -> np.ndarray:
    return np.all(pixels[..., :3] == np.array(rgb, np.uint8), axis=-1)


def _screen_rgb(widget: QWidget) -> np.ndarray:
    """What ``widget`` shows, as an (h, w, 3) array."""
    image = widget.grab().toImage().convertToFormat(widget.grab().toImage().Format.Format_RGB888)
    array = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes()).reshape(image.height(), -1)
    return array[:, : image.width() * 3].reshape(image.height(), image.width(), 3)


def _type_k(qtbot, window, k: int) -> None:
    spin = window.controls.spin
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, str(k))
    qtbot.keyClick(spin, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.session.config.k == k, timeout=WAIT_MS)


def test_nan_weights_are_said_up_front_and_drawn_apart_from_pruned_ones(qtbot, make_window, nan_model_path):
    window = make_window(size=(1280, 720))
    _open(qtbot, window, nan_model_path)
    heatmaps, view = window.heatmaps, window.heatmaps.view

    # said up front, above the pictures, in the core's words, with the colour they are drawn in
    notes = heatmaps.notes
    assert notes.isVisible() and notes.mapTo(window, QPoint(0, 0)).y() < view.canvas.mapTo(window, QPoint(0, 0)).y()
    text = notes.text()
    assert "The model holds 163 weights that are NaN or infinite" in text
    assert "h1/kernel: 160 NaN and 2 infinite of 12,544 entries" in text and "h1/bias: 1 NaN of 16 entries" in text
    assert PRUNING_RULE in text and "magenta" in text
    assert "163 of them NaN or infinite" in window.statusBar().currentMessage()
    assert "NaN or infinite weights: 160 NaN and 2 infinite of 12,544 entries" in window.layer_list.items["h1"].toolTip(
        0
    )
    assert view.non_finite_legend.isVisible() and "NaN or infinite (magenta)" in view.non_finite_legend.text()

    # k = 0: the NaN and infinite cells magenta, nothing grey; the NaN bias entry magenta too
    drawn = view.image.image
    assert _is(drawn[NAN_ROWS, NAN_COLUMNS], NON_FINITE_RGB).all()
    assert all(_is(drawn[cell], NON_FINITE_RGB) for cell in INF_CELLS)
    assert _is(drawn, NON_FINITE_RGB).sum() == 162 and not _is(drawn, PRUNED_RGB).any()
    strip = view.vector_image.image
    assert _is(strip[0, 12], NON_FINITE_RGB) and _is(strip, NON_FINITE_RGB).sum() == 1
    assert _is(_screen_rgb(view.canvas), NON_FINITE_RGB).sum() > 50  # on screen, not only in the data
    thumbnail = heatmaps.strip.thumbnails["h1"]
    assert _is(_screen_rgb(thumbnail), NON_FINITE_RGB).any()

    # the hover line over a NaN cell says what it is
    box = view.plot.getViewBox()
    scene = box.mapViewToScene(QPointF(NAN_COLUMNS.start + 0.5, NAN_ROWS.start + 0.5))
    qtbot.mouseMove(view.canvas.viewport(), view.canvas.mapFromScene(scene))
    qtbot.waitUntil(lambda: "NOT A NUMBER" in view.readout.text(), timeout=5000)
    assert "w = NaN" in view.readout.text() and "drawn magenta" in view.readout.text()
    assert "ranked above every number: pruned last" in view.readout.text() and view.readout.text().endswith("kept")

    # k = 98: 12,293 weights pruned, all finite: the NaN and infinite ones are still kept, and magenta
    _type_k(qtbot, window, 98)
    drawn = view.image.image
    assert _is(drawn[NAN_ROWS, NAN_COLUMNS], NON_FINITE_RGB).all()
    assert all(_is(drawn[cell], NON_FINITE_RGB) for cell in INF_CELLS)
    assert _is(drawn, PRUNED_RGB).sum() == 12_293
    # k = 99: 12,419 pruned, 37 more than the finite weights: the two infinite ones, then NaN in flat order
    _type_k(qtbot, window, 99)
    drawn = view.image.image
    assert not any(_is(drawn[cell], NON_FINITE_RGB) for cell in INF_CELLS)
    nan_kept = _is(drawn[NAN_ROWS, NAN_COLUMNS], NON_FINITE_RGB)
    assert nan_kept.sum() == 160 - 35 and not nan_kept.ravel()[:35].any() and nan_kept.ravel()[35:].all()
    window.histogram.show()  # (its tab, in the Selected layer dock): the threshold is among the NaN weights
    qtbot.waitUntil(lambda: "falls among the NaN scores" in window.histogram.summary.text(), timeout=5000)
    assert window.histogram.marker.text.text() == "threshold NaN"
    # k = 100: pruning reaches them at last: grey like every pruned weight
    _type_k(qtbot, window, 100)
    drawn = view.image.image
    assert _is(drawn, PRUNED_RGB).all()
    assert _is(view.vector_image.image, NON_FINITE_RGB).sum() == 1  # weight pruning leaves biases as they are


def test_each_head_of_a_two_head_model_is_excluded_by_default_and_said_so(qtbot, make_window, tmp_path):
    import keras

    keras.utils.set_random_seed(2)
    image = keras.Input((28, 28, 1))
    trunk = keras.layers.Dense(32, activation="relu", name="trunk")(keras.layers.Flatten()(image))
    digit = keras.layers.Dense(10, activation="softmax", name="digit")(trunk)
    parity = keras.layers.Softmax(name="parity")(keras.layers.Dense(2, name="parity_logits")(trunk))
    path = tmp_path / "two-heads.keras"
    keras.Model(image, [digit, parity]).save(path)

    window = make_window(size=(1280, 720))
    _open(qtbot, window, path)
    items = window.layer_list.items
    assert {name: item.checkState(0) == Qt.CheckState.Checked for name, item in items.items()} == {
        "trunk": True,
        "parity_logits": False,
        "digit": False,
    }
    assert window.session.config.included == {"trunk"}
    strip = window.heatmaps.strip
    for head in ("parity_logits", "digit"):
        assert "(output layer, excluded by default)" in items[head].toolTip(0)
        qtbot.mouseClick(strip.thumbnails[head], Qt.MouseButton.LeftButton)
        assert window.heatmaps.selected == head
        assert "output layer (excluded by default)" in window.heatmaps.view.title.text()
        assert "(excluded)" in strip.thumbnails[head].caption
    qtbot.mouseClick(strip.thumbnails["trunk"], Qt.MouseButton.LeftButton)
    assert "output layer" not in window.heatmaps.view.title.text()
    assert "output layer" not in items["trunk"].toolTip(0)
