"""The picture widgets show the session's real numbers: thresholds, pruned units, accuracies, confusions."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import shiboken6
from PySide6.QtCore import QPointF
from PySide6.QtGui import QFont

from prune_viz.core.criteria import TaylorScores
from prune_viz.core.inputs import layer_seeing_pixels
from prune_viz.core.pruning import unit_norms
from prune_viz.core.session import Session, open_model
from prune_viz.gui.views.accuracy_plot import AccuracySparsityPlot
from prune_viz.gui.views.confusion import EvaluationDetails
from prune_viz.gui.views.histogram import WeightHistogram, histogram_of_sorted
from prune_viz.gui.views.pictures import STALE_OPACITY
from prune_viz.gui.views.tiles import GAP, SIDE, UnitTileGrid

from gui_helpers import tile_pixels


@pytest.fixture(scope="module")
def opened(trained_mlp_path):
    return open_model(trained_mlp_path)


@pytest.fixture
def session(opened, mnist_dir):
    session = Session()
    session.set_data(data_path=str(mnist_dir))
    session.set_model(opened)
    return session


def evaluate(session: Session, **config):
    session.configure(**config)
    record, baseline = session.evaluate()
    session.record_evaluation(record)
    return record, baseline


def screenshot(qtbot, widget, name: str, size=(640, 420)):
    """Paint the widget for real and keep the picture for a human to look at."""
    widget.resize(*size)
    widget.show()
    qtbot.waitExposed(widget)
    qtbot.wait(20)  # let pending layout requests run, as the event loop would
    image = widget.grab().toImage()
    assert not image.isNull()
    image.save(f"/tmp/pictures_{name}.png")
    return image


# -- WeightHistogram ---------------------------------------------------------------------------


def test_histogram_threshold_line_sits_at_the_core_threshold(qtbot, session):
    widget = WeightHistogram(session)
    qtbot.addWidget(widget)
    assert widget.layer_name == "hidden1"
    assert widget.threshold is None  # k = 0 after set_model: nothing pruned, no line

    result = session.configure(method="weight", k=40)
    assert widget.threshold == pytest.approx(result.threshold("hidden1"))
    # the pruned shading ends exactly at the line and the kept shading starts there
    assert widget.pruned_side.rect().right() == pytest.approx(result.threshold("hidden1"))
    assert widget.kept_side.rect().left() == pytest.approx(result.threshold("hidden1"))
    # and both sides draw the whole histogram, each clipped to its side
    edges, heights = widget.steps
    assert np.array_equal(edges, widget.histogram.edges) and np.array_equal(heights, widget.histogram.counts)
    for bars in (widget.pruned_bars, widget.kept_bars):
        assert bars.parentItem().flags() & bars.parentItem().GraphicsItemFlag.ItemClipsChildrenToShape
        outline = bars.path().toFillPolygon()
        tops = {round(outline[i].y(), 6) for i in range(outline.size())}
        assert tops >= {float(count) for count in widget.histogram.counts}  # every bar's top is drawn
        assert bars.path().boundingRect().left() == edges[0] and bars.path().boundingRect().right() == edges[-1]

    widget.set_layer("hidden2")
    assert widget.threshold == pytest.approx(result.threshold("hidden2"))
    assert widget.threshold != pytest.approx(result.threshold("hidden1"))
    screenshot(qtbot, widget, "histogram_weight")
    axis = widget.plot.getAxis("bottom")  # |w| ticks read 0.05, not "50 (x0.001)"
    assert axis.autoSIPrefixScale == 1.0
    assert axis.tickStrings([0.05, 0.1], axis.autoSIPrefixScale * axis.scale, 0.05) == ["0.05", "0.10"]


def test_histogram_of_originals_is_computed_once_per_layer(qtbot, session, opened):
    widget = WeightHistogram(session)
    qtbot.addWidget(widget)
    session.configure(method="weight", k=10)
    histogram = widget.histogram
    assert histogram.total == opened.layers[0].size
    assert histogram.counts.sum() == opened.layers[0].size
    for k in (20, 55, 90):
        result = session.configure(k=k)
        assert widget.histogram is histogram  # only the line and the shading moved
        assert widget.threshold == pytest.approx(result.threshold("hidden1"))


def test_histogram_shows_unit_norms_for_unit_pruning(qtbot, session, opened):
    widget = WeightHistogram(session)
    qtbot.addWidget(widget)
    result = session.configure(method="unit", k=30)
    norms = unit_norms(opened.layers[0].original)
    histogram = widget.histogram
    assert histogram.method == "unit"
    assert histogram.counts.sum() == len(norms) == 64
    assert histogram.edges[0] == pytest.approx(norms.min())
    assert histogram.edges[-1] == pytest.approx(norms.max())
    assert widget.threshold == pytest.approx(result.threshold("hidden1"))
    # the threshold is the norm of the strongest pruned unit
    assert widget.threshold == pytest.approx(np.sort(norms)[result.layer("hidden1").pruned_units - 1])
    assert "19 of 64 units pruned" in widget.summary.text()
    screenshot(qtbot, widget, "histogram_unit")


def test_histogram_follows_taylor_scores_when_they_are_replaced(qtbot, trained_mlp_path):
    opened = open_model(trained_mlp_path)  # its own: the module's model keeps no Taylor scores
    session = Session()
    session.set_model(opened)
    widget = WeightHistogram(session)
    qtbot.addWidget(widget)

    def taylor(offset: float) -> TaylorScores:
        return TaylorScores(
            {layer.name: np.abs(layer.as_matrix(layer.original)) * offset for layer in opened.layers}, 1, "made up"
        )

    opened.pruner.set_taylor_scores(taylor(1.0))
    session.configure(method="weight", criterion="taylor", k=30)
    first = widget.histogram
    opened.pruner.set_taylor_scores(taylor(3.0))  # e.g. computed again on other images
    session.configure(k=31)
    expected = histogram_of_sorted(opened.pruner.scores("hidden1", session.config))
    assert expected.edges[-1] > 2.9 * first.edges[-1]
    np.testing.assert_array_equal(widget.histogram.edges, expected.edges)
    np.testing.assert_array_equal(widget.histogram.counts, expected.counts)


def test_histogram_keeps_a_global_threshold_in_view(qtbot, session, opened):
    """hidden2's units (64 inputs) have smaller norms than hidden1's (784 inputs), so one global
    unit threshold falls below all of hidden1's norms at small k and above all of hidden2's at large k."""
    widget = WeightHistogram(session)
    qtbot.addWidget(widget)
    for index, k in ((0, 5), (1, 60)):
        layer = opened.layers[index]
        widget.set_layer(layer.name)
        result = session.configure(method="unit", scope="global", k=k)
        norms = unit_norms(layer.original)
        assert widget.threshold == pytest.approx(result.threshold(layer.name))
        assert widget.threshold < norms.min() or widget.threshold >= norms.max()
        (x_low, x_high), _ = widget.plot.viewRange()
        assert x_low <= widget.threshold <= x_high
        assert "global threshold" in widget.summary.text()


def test_histogram_axes_stay_put_while_a_global_threshold_moves(qtbot, session, opened):
    """A global threshold lies anywhere among the included layers' scores: the x axis spans them all
    from the first step, so a k step moves the line, not the axes (which a k step would redraw, ~20 ms)."""
    widget = WeightHistogram(session)
    qtbot.addWidget(widget)
    layer = opened.layers[0]
    widget.set_layer(layer.name)
    for method in ("unit", "weight"):
        ranges = []
        for k in (5, 40, 95):
            session.configure(method=method, scope="global", k=k)
            ranges.append(tuple(widget.plot.viewRange()[0]))
            assert ranges[-1][0] <= widget.threshold <= ranges[-1][1]
        assert ranges[0] == ranges[1] == ranges[2], method
        included = [other for other in opened.layers if other.name in session.config.included]
        assert len(included) > 1 and layer in included
        if method == "unit":
            norms = np.concatenate([unit_norms(other.original) for other in included])
            assert ranges[0][0] <= norms.min() and norms.max() <= ranges[0][1]
        else:
            assert max(float(np.abs(other.original).max()) for other in included) <= ranges[0][1]
    session.configure(method="unit", scope="layer", k=40)  # layerwise: the layer's own norms, as before
    norms = unit_norms(layer.original)
    (low, high), _ = widget.plot.viewRange()
    assert low <= norms.min() and norms.max() <= high and high - low < 1.1 * (norms.max() - norms.min())


def test_histogram_log_counts_and_unselected_layer(qtbot, session):
    widget = WeightHistogram(session)
    qtbot.addWidget(widget)
    session.configure(method="weight", k=40)
    widget.set_log_counts(True)
    _, heights = widget.steps
    assert np.allclose(heights, np.log10(np.maximum(widget.histogram.counts, 0.5)))
    assert widget.pruned_bars.path() == widget.kept_bars.path()
    assert widget.plot.getAxis("left").logMode
    screenshot(qtbot, widget, "histogram_log")

    widget.set_layer("output")  # the output layer is not selected by default
    assert widget.threshold is None
    assert not widget.pruned_bars.isVisible()
    assert "not selected for pruning" in widget.summary.text()

    widget.set_layer("no_such_layer")  # e.g. a stale name from the previous model: said, not raised
    assert widget.histogram is None and "no prunable layer named no_such_layer" in widget.caption.text()


# -- UnitTileGrid ------------------------------------------------------------------------------


def test_greyed_tiles_are_the_pruned_units(qtbot, session):
    widget = UnitTileGrid(session)
    qtbot.addWidget(widget)
    assert widget.applies and widget.layer_name == "hidden1"
    assert len(widget.shown_units) == 64 and len(widget.greyed_units) == 0

    result = session.configure(method="unit", k=30)
    pruned_units = result.layer("hidden1").pruned_units
    assert pruned_units == 19
    assert len(widget.greyed_units) == pruned_units
    kept_units = np.asarray(result.masks["hidden1"].numpy()).any(axis=0)
    assert set(widget.greyed_units) == set(np.flatnonzero(~kept_units))
    for slot, unit in enumerate(widget.shown_units):
        pixels = tile_pixels(widget, slot).astype(int)
        grey = np.all(pixels[..., 0] == pixels[..., 1]) and np.all(pixels[..., 1] == pixels[..., 2])
        assert grey == (unit in set(widget.greyed_units))
    screenshot(qtbot, widget, "tiles_unit", (640, 640))

    session.configure(k=0)
    assert len(widget.greyed_units) == 0


def test_pruned_weights_are_marked_pixel_by_pixel(qtbot, session):
    widget = UnitTileGrid(session)
    qtbot.addWidget(widget)
    result = session.configure(method="weight", k=50)
    kept = np.asarray(result.masks["hidden1"].numpy())  # (784, 64)
    assert len(widget.greyed_units) == result.layer("hidden1").pruned_units == 0
    for slot, unit in enumerate(widget.shown_units[:8]):
        marked = np.all(tile_pixels(widget, slot) == widget.spec.pruned, axis=-1)
        assert np.array_equal(marked.ravel(), ~kept[:, unit])
    screenshot(qtbot, widget, "tiles_weight", (640, 640))


def test_tiles_follow_the_heatmap_colour_map(qtbot, session):
    from prune_viz.gui.views.colours import DIVERGING, HIGH_CONTRAST

    widget = UnitTileGrid(session)
    qtbot.addWidget(widget)
    assert widget.spec is DIVERGING
    result = session.configure(method="weight", k=60)
    widget.set_colormap(HIGH_CONTRAST)  # black at zero, pruned weights white
    kept = np.asarray(result.masks["hidden1"].numpy())
    marked = np.all(tile_pixels(widget, 0) == HIGH_CONTRAST.pruned, axis=-1)
    assert np.array_equal(marked.ravel(), ~kept[:, int(widget.shown_units[0])])
    assert np.all(widget.image.image[SIDE : SIDE + GAP] == 0)  # the gap between tile rows is black
    screenshot(qtbot, widget, "tiles_high_contrast", (640, 640))


def test_tile_order_and_cap(qtbot, session, opened):
    widget = UnitTileGrid(session)
    qtbot.addWidget(widget)
    norms = unit_norms(opened.layers[0].original)
    widget.set_tile_cap(36)
    widget.set_order("strongest")
    assert np.array_equal(widget.shown_units, np.argsort(-norms, kind="stable")[:36])
    assert widget._prepared.norms is opened.pruner.unit_norms("hidden1")  # the core's, not computed again
    assert widget.image.image.shape == (6 * (SIDE + GAP) - GAP, 6 * (SIDE + GAP) - GAP, 3)

    session.configure(method="unit", k=25)  # the 16 weakest units
    assert len(widget.greyed_units) == 0  # none of them is among the 36 strongest
    widget.set_order("weakest")
    assert len(widget.greyed_units) == 16
    assert set(widget.greyed_units) == set(widget.shown_units[:16])


def test_tile_tooltip_names_the_unit_under_the_mouse(qtbot, session):
    widget = UnitTileGrid(session)
    qtbot.addWidget(widget)
    result = session.configure(method="unit", k=30)
    screenshot(qtbot, widget, "tiles_hover", (500, 500))
    slot = 9  # second row, second column of the 8x8 grid
    centre = QPointF(1 * (SIDE + GAP) + SIDE / 2, 1 * (SIDE + GAP) + SIDE / 2)
    widget._on_mouse_moved(widget.view.mapViewToScene(centre))
    unit = int(widget.shown_units[slot])
    kept = int(np.count_nonzero(np.asarray(result.masks["hidden1"].numpy())[:, unit]))
    tip = widget.view_widget.toolTip()
    assert tip.startswith(f"unit {unit}:")
    assert ("pruned unit" in tip) == (kept == 0)


def tiny_model(tmp_path, name: str, *layers, input_shape):
    """An untrained model: the tiles only need its layer shapes, not its accuracy."""
    import keras

    model = keras.Sequential([keras.Input(input_shape), *layers])
    path = tmp_path / f"{name}.keras"
    model.save(path)
    return open_model(path)


def test_tiles_apply_to_dense_after_flatten_but_not_to_convolutions(qtbot, tmp_path):
    import keras

    flat = tiny_model(
        tmp_path,
        "flat",
        keras.layers.Flatten(),
        keras.layers.Dense(12, name="fc"),
        keras.layers.Dense(10, name="out"),
        input_shape=(28, 28, 1),
    )
    conv = tiny_model(
        tmp_path,
        "conv",
        keras.layers.Conv2D(4, 3, name="conv"),
        keras.layers.Flatten(),
        keras.layers.Dense(10, name="out"),
        input_shape=(28, 28, 1),
    )
    session = Session()
    widget = UnitTileGrid(session)
    qtbot.addWidget(widget)
    assert not widget.applies and "No model open" in widget.message.text()

    session.set_model(flat)
    assert widget.applies and len(widget.shown_units) == 12
    # tile 5 is unit 5's weights, pixel (row, column) = input pixel (row, column): red where positive
    weights = flat.loaded.keras_model.get_layer("fc").kernel.numpy()[:, 5].reshape(SIDE, SIDE)
    pixels = tile_pixels(widget, 5).astype(int)
    clear = np.abs(weights) > 0.2 * np.abs(weights).max()
    assert np.array_equal((pixels[..., 0] > pixels[..., 2])[clear], (weights > 0)[clear])

    assert layer_seeing_pixels(flat.layers, flat.loaded.input_shape) == "fc"  # the heatmaps' hover rule too

    session.set_model(conv)
    assert not widget.applies
    assert layer_seeing_pixels(conv.layers, conv.loaded.input_shape) is None
    assert "Conv2D" in widget.message.text() and "whole 28x28 image" in widget.message.text()
    widget.set_layer("out")
    assert "first layer, conv, cannot be drawn as tiles either" in widget.message.text()

    whole = tiny_model(
        tmp_path,
        "whole",
        keras.layers.Conv2D(5, 28, name="whole"),
        keras.layers.Flatten(),
        keras.layers.Dense(10, name="out"),
        input_shape=(28, 28, 1),
    )
    session.set_model(whole)  # each unit sees the whole image: its rows are pixels for tiles and heatmaps alike
    widget.set_layer("whole")
    assert widget.applies and len(widget.shown_units) == 5
    assert layer_seeing_pixels(whole.layers, whole.loaded.input_shape) == "whole"


def test_tiles_explain_when_the_layer_is_not_a_first_image_layer(qtbot, session):
    widget = UnitTileGrid(session)
    qtbot.addWidget(widget)
    widget.set_layer("hidden2")
    assert not widget.applies
    assert widget.stack.currentWidget() is widget.message
    assert "not the first layer" in widget.message.text() and "Select hidden1" in widget.message.text()
    session.configure(method="unit", k=50)  # still a message, no tiles
    assert len(widget.shown_units) == 0
    screenshot(qtbot, widget, "tiles_other_layer", (500, 300))
    widget.set_layer("hidden1")
    assert widget.applies and widget.stack.currentWidget() is widget.view_widget


# -- AccuracySparsityPlot and EvaluationDetails (real MNIST evaluations) -----------------------


def test_accuracy_plot_fills_in_with_evaluations(qtbot, session, opened):
    widget = AccuracySparsityPlot(session)
    qtbot.addWidget(widget)
    assert widget.point_count == 0

    first, baseline = evaluate(session, method="weight", k=50)
    assert widget.point_count == 1
    x, y = widget.series_data("weight", "layer")
    assert y[0] == pytest.approx(100 * first.result.accuracy)
    assert x[0] == pytest.approx(100 * first.sparsity)
    assert widget.baseline_line.isVisible()
    assert widget.baseline_line.value() == pytest.approx(100 * baseline.result.accuracy)
    assert baseline.result.accuracy > 0.8  # the fixture MLP really learned MNIST

    second, _ = evaluate(session, k=90)
    unit, _ = evaluate(session, method="unit", k=50)
    assert widget.point_count == 3
    x, y = widget.series_data("weight", "layer")
    assert list(y) == pytest.approx([100 * first.result.accuracy, 100 * second.result.accuracy])
    assert widget.series_data("unit", "layer")[1] == pytest.approx([100 * unit.result.accuracy])
    ring_x, ring_y = widget.current_ring.getData()
    assert (ring_x[0], ring_y[0]) == pytest.approx((100 * unit.sparsity, 100 * unit.result.accuracy))

    evaluate(session, method="unit", k=50)  # the same config again replaces, not adds
    assert widget.point_count == 3

    widget.add_sweep_point("weight", "global", 0.3, 0.85)
    widget.add_sweep_point("weight", "global", 0.1, 0.9)
    x, y = widget.series_data("weight", "global", sweep=True)
    assert list(x) == pytest.approx([10, 30]) and list(y) == pytest.approx([90, 85])
    screenshot(qtbot, widget, "accuracy_plot")
    widget.clear_sweep()
    assert len(widget.series_data("weight", "global", sweep=True)[0]) == 0

    session.set_model(opened)  # a (re)opened model starts an empty plot
    assert widget.point_count == 0
    assert not widget.baseline_line.isVisible()


def test_evaluation_details_show_the_record_and_grey_when_stale(qtbot, session):
    widget = EvaluationDetails(session)
    qtbot.addWidget(widget)
    assert widget.record is None and widget.confusion is None

    record, baseline = evaluate(session, method="unit", k=60)
    result = record.result
    assert np.array_equal(widget.confusion, result.confusion)
    assert widget.confusion.sum() == result.total == 10_000
    assert widget.count_labels[3, 3].textItem.toPlainText() == str(result.confusion[3, 3])
    assert np.allclose(widget.bar_heights, 100 * np.nan_to_num(result.per_class_accuracy))
    assert widget.overall_line.value() == pytest.approx(100 * result.accuracy)
    assert np.allclose(widget.baseline_bars.opts["height"], 100 * baseline.result.per_class_accuracy)
    assert not widget.is_stale and widget.stale_note.isHidden()
    screenshot(qtbot, widget, "evaluation_details", (800, 420))
    true, predicted = 4, 9  # hovering a cell names its digits and count
    widget._on_confusion_hover(widget.confusion_plot.getViewBox().mapViewToScene(QPointF(predicted, true)))
    count = int(result.confusion[true, predicted])
    assert widget.confusion_widget.toolTip().startswith(f"{count:,} images of a 4 taken for a 9")

    session.configure(k=70)
    assert widget.is_stale
    assert not widget.stale_note.isHidden()
    assert "k=60%" in widget.stale_note.text()
    assert widget.confusion_image.opacity() == pytest.approx(STALE_OPACITY)
    assert np.array_equal(widget.confusion, result.confusion)  # still the old record, greyed
    screenshot(qtbot, widget, "evaluation_details_stale", (800, 420))

    session.configure(k=60)
    assert not widget.is_stale and widget.stale_note.isHidden()
    assert widget.confusion_image.opacity() == pytest.approx(1.0)

    session.set_data(preprocessing="raw")  # other inputs: the shown numbers no longer apply
    assert widget.is_stale and "test data" in widget.stale_note.text()
    evaluate(session)
    assert not widget.is_stale
    assert widget.record.result.preprocessing == "raw"
    assert np.array_equal(widget.confusion, widget.record.result.confusion)


def test_closing_the_model_empties_every_picture(qtbot, session):
    histogram, tiles = WeightHistogram(session), UnitTileGrid(session)
    plot, details = AccuracySparsityPlot(session), EvaluationDetails(session)
    for widget in (histogram, tiles, plot, details):
        qtbot.addWidget(widget)
    evaluate(session, method="unit", k=40)
    assert histogram.threshold is not None and len(tiles.greyed_units) and plot.point_count == 1
    assert details.confusion is not None

    session.set_model(None)
    assert histogram.histogram is None and histogram.threshold is None
    assert "no model open" in histogram.caption.text()
    assert not tiles.applies and "No model open" in tiles.message.text()
    assert plot.point_count == 0 and len(plot.current_ring.getData()[0]) == 0
    assert details.record is None and details.confusion is None and not details.is_stale


def test_deleted_widgets_stop_listening(qtbot, session):
    widgets = [cls(session) for cls in (WeightHistogram, UnitTileGrid, AccuracySparsityPlot, EvaluationDetails)]
    for widget in widgets:
        shiboken6.delete(widget)
    session.configure(method="unit", k=20)  # would raise RuntimeError if a slot touched a dead widget
    session.set_model(session.model)


def test_plots_follow_the_widget_font(qtbot, session):
    """pyqtgraph items do not inherit Qt fonts; a bigger font (presenter mode) must reach the axes."""
    widgets = [WeightHistogram(session), AccuracySparsityPlot(session), EvaluationDetails(session)]
    plots = [widgets[0].plot, widgets[1].plot, widgets[2].bars_plot, widgets[2].confusion_plot]
    for widget in widgets:
        qtbot.addWidget(widget)
        font = QFont(widget.font())
        font.setPointSizeF(21.0)
        widget.setFont(font)
    for plot in plots:
        assert plot.getAxis("bottom").style["tickFont"].pointSizeF() == pytest.approx(21.0)
    assert widgets[0].marker.text.font().pointSizeF() == pytest.approx(21.0)


def test_importing_the_pictures_does_not_import_tensorflow():
    """The pictures are on the GUI start-up path, where a 5-second TensorFlow import would show."""
    modules = ["pictures", "histogram", "tiles", "accuracy_plot", "confusion"]
    code = (
        "import importlib, sys; "
        f"[importlib.import_module('prune_viz.gui.views.' + name) for name in {modules!r}]; "
        "print('tensorflow' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert out.stdout.strip() == "False"
