"""One theme and colour module: a weight has one colour wherever it is drawn."""

from __future__ import annotations

import math

import pytest

from prune_viz.core.session import Session
from prune_viz.gui.views.colours import DIVERGING, HIGH_CONTRAST
from prune_viz.gui.views.heatmap import LayerHeatmaps
from prune_viz.gui.views.heatmap_data import THUMBNAIL_PIXELS, strides
from prune_viz.gui.views.tiles import UnitTileGrid

from gui_helpers import tile_pixels


@pytest.fixture
def session(opened_mlp):
    session = Session()
    session.set_model(opened_mlp)
    return session


@pytest.mark.parametrize("spec", [DIVERGING, HIGH_CONTRAST], ids=lambda spec: spec.key)
def test_a_weight_has_the_same_colour_in_the_heatmap_its_thumbnail_and_its_unit_tile(qtbot, session, spec):
    heatmaps, tiles = LayerHeatmaps(session), UnitTileGrid(session)
    for widget in (heatmaps, tiles):
        qtbot.addWidget(widget)
        widget.set_colormap(spec)
    session.configure(method="weight", k=0)  # the thumbnails are drawn for a pruning result
    name = "hidden1"  # 784 pixels in, 64 units: all three draw it
    assert heatmaps.selected == name and tiles.layer_name == name and tiles.applies
    assert list(tiles.shown_units) == list(range(64))  # in unit order: the slot is the unit

    matrix = heatmaps.data.layers[name].matrix
    drawn = heatmaps.view.image.image  # RGBA, one cell per weight (784 rows fit the screen)
    assert drawn.shape[:2] == matrix.shape
    thumbnail = heatmaps.strip.thumbnails[name].picture  # the strided matrix, scaled to a square
    row_stride, col_stride = strides(matrix.shape, THUMBNAIL_PIXELS)
    rows, cols = math.ceil(matrix.shape[0] / row_stride), math.ceil(matrix.shape[1] / col_stride)

    differing = []
    for row in range(0, matrix.shape[0], row_stride):
        for col in range(0, matrix.shape[1], col_stride):
            in_heatmap = tuple(int(c) for c in drawn[row, col, :3])
            x = int((col // col_stride + 0.5) * THUMBNAIL_PIXELS / cols)  # the middle of the cell's block
            y = int((row // row_stride + 0.5) * THUMBNAIL_PIXELS / rows)
            in_thumbnail = thumbnail.pixelColor(x, y).getRgb()[:3]
            in_tile = tuple(int(c) for c in tile_pixels(tiles, col)[divmod(row, 28)])
            if not in_heatmap == in_thumbnail == in_tile:
                differing.append((row, col, float(matrix[row, col]), in_heatmap, in_thumbnail, in_tile))
    assert differing == [], f"{len(differing)} weights differ, e.g. {differing[:3]}"
