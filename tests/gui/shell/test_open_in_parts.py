"""Opening a model from a file paints the window a part at a time and ends where showing the same
model in one go ends; what the views keep from one k step to the next (thumbnail colours, the unit
strips, column sizes, a caption's height) gives the same pictures as drawing them afresh. Offscreen,
on the small trained MLP."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QHeaderView

from prune_viz.gui.shell.opening import open_for_window
from prune_viz.gui.views.colours import (
    DIVERGING,
    colour_indices,
    kept_colours,
    layer_level,
)
from prune_viz.gui.views.heatmap_data import (
    THUMBNAIL_PIXELS,
    display_matrix,
    heatmap_data,
)

from gui_helpers import WAIT_MS


def _pixels(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine() // 4, 4)
    return rows[:, : image.width(), :3].copy()


def _open_from_file(qtbot, window, path) -> list[list[bool]]:
    """Open ``path`` as File > Open does; the parts' updatesEnabled() at each of their turns."""
    turns = []
    window.jobs.started.connect(
        lambda job: job.succeeded.connect(
            lambda _value: turns.append([part.updatesEnabled() for part in window._unpainted])
        )
    )
    with qtbot.waitSignal(window.model_opened, timeout=WAIT_MS):
        window.open_path(path)
    return turns


@pytest.mark.slow
def test_a_model_opened_from_a_file_ends_as_one_shown_at_once(qtbot, make_window, opened_mlp, trained_mlp_path):
    in_parts = make_window(size=(1300, 850))
    at_once = make_window(size=(1300, 850))
    turns = _open_from_file(qtbot, in_parts, trained_mlp_path)
    assert turns == [[False, False, False, False]]  # every part waited for a turn of its own
    assert in_parts._unpainted == [] and all(
        part.updatesEnabled() for part in [*in_parts.docks.values(), in_parts.stack]
    )
    heatmaps = in_parts.heatmaps
    assert heatmaps.data.opened is in_parts.session.model  # the data the open job made
    at_once.set_opened_model(str(trained_mlp_path), opened_mlp)
    qtbot.wait(50)  # both windows' layouts settle
    for window in (in_parts, at_once):
        window.controls.slider.setValue(40)
    qtbot.wait(50)
    assert np.array_equal(_pixels(in_parts.grab().toImage()), _pixels(at_once.grab().toImage()))


def test_the_open_job_makes_the_heatmaps_data(opened_mlp, trained_mlp_path):
    opened, data = open_for_window(str(trained_mlp_path))
    assert data.opened is opened and list(data.layers) == [layer.name for layer in opened.layers]
    for layer in opened.layers:
        picture = data.layers[layer.name]
        assert picture.level == layer_level(opened.pruner.magnitudes(layer.name))
        assert np.array_equal(picture.matrix, layer.as_matrix(layer.original))
        strided, _, _ = display_matrix(picture.matrix, None, THUMBNAIL_PIXELS)
        assert np.array_equal(picture.thumbnail, strided)


def test_heatmaps_made_for_another_model_are_not_used(qtbot, window, opened_mlp, trained_mlp_path):
    other = heatmap_data(opened_mlp)
    window.heatmaps.prepare(other)
    window.session.set_model(None)
    assert window.heatmaps.data.opened is None and window.heatmaps.data.layers == {}
    window.set_opened_model(str(trained_mlp_path), opened_mlp, heatmap_data(opened_mlp))
    assert window.heatmaps.data is not other and window.heatmaps.data.opened is opened_mlp


def test_thumbnails_drawn_from_kept_colours_match_the_matrix_drawn_afresh(qtbot, window):
    heatmaps = window.heatmaps
    for method, k in (("weight", 35), ("unit", 60)):
        window.session.configure(method=method, k=float(k))
        qtbot.wait(10)
        for name, thumb in heatmaps.strip.thumbnails.items():
            picture = heatmaps.data.layers[name]
            kept = heatmaps.kept_matrix(name, limit=THUMBNAIL_PIXELS)
            fresh, _, _ = display_matrix(picture.matrix, kept, THUMBNAIL_PIXELS)
            assert np.array_equal(thumb.image, fresh, equal_nan=True)
            assert np.isnan(fresh).any() == (name in window.session.config.included)  # the output layer is not
            kept_cells = np.isfinite(fresh)
            assert np.array_equal(
                kept_colours(picture.thumbnail_indices, kept_cells, DIVERGING),
                kept_colours(colour_indices(fresh, picture.level), kept_cells, DIVERGING),
            )


def test_a_k_step_keeps_the_unit_strips_of_the_selected_layer(qtbot, window):
    view = window.heatmaps.view
    strips = view.vectors
    assert strips is not None and view.vector_labels == ["bias"]
    window.controls.slider.setValue(55)
    assert view.vectors is strips  # the same array: the strips were not drawn again
    window.session.configure(unit_mode="remove", method="unit")
    removed = window.session.result.removed_units(window.heatmaps.selected)
    assert view.vectors is strips and np.array_equal(view.removed, removed) and removed.any()


def test_the_layer_list_sizes_its_columns_to_the_new_numbers(qtbot, window):
    tree = window.layer_list
    window.session.configure(method="unit", unit_mode="remove", k=45.0)
    qtbot.wait(10)
    header = tree.header()
    assert all(header.sectionResizeMode(c) == QHeaderView.ResizeMode.ResizeToContents for c in range(3))
    for stats in window.session.result.layers:
        item = tree.items[stats.name]
        assert item.text(3) == f"{stats.sparsity * 100:.1f}%"
        assert item.text(4) == f"{stats.pruned_units} / {stats.units}" + (" + bias/BN" if stats.vector_entries else "")
    for column in (3, 4):
        assert header.sectionSize(column) >= tree.sizeHintForColumn(column) > 0
    widths = [header.sectionSize(column) for column in range(5)]
    window.session.configure(k=0.0)  # shorter numbers: the columns keep their width, nothing jumps
    qtbot.wait(10)
    assert [header.sectionSize(column) for column in range(5)] == widths


def test_the_histogram_summary_keeps_its_height_while_k_moves(qtbot, window):
    histogram = window.histogram
    window.docks["selected"].setFixedWidth(260)  # narrow: the summary wraps
    qtbot.wait(20)
    heights = {}
    for k in (0, 37, 0, 81):
        window.controls.slider.setValue(k)
        qtbot.wait(10)
        heights.setdefault(k, []).append(histogram.summary.height())
    assert heights[0][1] >= heights[37][0] > heights[0][0]  # k = 0 says less, in the lines k = 37 needed
    assert histogram.summary.heightForWidth(histogram.summary.width()) <= histogram.summary.height()
    window.session.configure(method="unit")  # another setting: the summary starts afresh
    qtbot.wait(10)
    fresh = histogram.summary.height()
    assert fresh == pytest.approx(histogram.summary.heightForWidth(histogram.summary.width()), abs=2)
    assert fresh < heights[81][0]
    window.controls.slider.setValue(0)  # says less, in the lines it has
    qtbot.wait(10)
    assert histogram.summary.height() == fresh


def test_the_histogram_summary_has_room_for_a_k_step_after_a_settings_change(qtbot, window):
    """At the dock's width the legend and a k's numbers fit the reserved lines: the first step after
    a settings change does not shrink the plot."""
    histogram = window.histogram
    plot_height = histogram.plot_widget.height()
    for method in ("weight", "unit"):
        window.session.configure(method=method, k=0.0)
        qtbot.wait(10)
        plot_height = histogram.plot_widget.height()
        for k in (10, 55, 90):
            window.controls.slider.setValue(k)
            qtbot.wait(10)
            assert histogram.plot_widget.height() == plot_height, (method, k)
