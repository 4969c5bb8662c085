"""Heatmap helpers: strided display keeps pruned cells honest, colours keep pruned apart."""

from __future__ import annotations

import numpy as np
import pytest

from prune_viz.gui.views.colours import (
    COLORMAPS,
    NON_FINITE_INDEX,
    PRUNED_INDEX,
    colour_indices,
    indexed_rgb,
    kept_colours,
    kept_indices,
    layer_level,
    symmetric_level,
)
from prune_viz.gui.views.heatmap_data import display_matrix, strides


def test_large_matrices_are_drawn_with_a_stride_that_keeps_pruned_cells():
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(3000, 10)).astype(np.float32)
    kept = np.abs(matrix) > 0.5
    image, rs, cs = display_matrix(matrix, kept[::3], limit=1024)
    assert (rs, cs) == (3, 1) and image.shape == (1000, 10)
    np.testing.assert_array_equal(np.isnan(image), ~kept[::3])
    np.testing.assert_array_equal(image[~np.isnan(image)], matrix[::3][kept[::3]])
    assert strides((1024, 1025), 1024) == (1, 2)


def test_nothing_is_marked_pruned_without_a_mask():
    matrix = np.arange(12, dtype=np.float32).reshape(3, 4) - 6
    image, rs, cs = display_matrix(matrix, None, limit=1024)
    assert (rs, cs) == (1, 1) and not np.isnan(image).any()


def _channels(rgb32: np.ndarray) -> np.ndarray:
    """(..., 4) R, G, B, A of 0xAARRGGBB pixels."""
    return np.stack([(rgb32 >> shift) & 0xFF for shift in (16, 8, 0, 24)], axis=-1)


def test_pruned_colour_is_never_a_live_weight_colour():
    matrix = np.linspace(-1, 1, 101, dtype=np.float32).reshape(1, -1)
    for spec in COLORMAPS.values():
        rgba = _channels(kept_colours(colour_indices(matrix, 1.0), None, spec))
        assert np.all(rgba[..., 3] == 255)  # opaque
        live = rgba[..., :3].reshape(-1, 3).astype(int)
        distance = np.abs(live - np.array(spec.pruned)).sum(axis=1)
        assert distance.min() > 60, spec.key  # clearly apart from the nearest live colour
        pruned = _channels(kept_colours(colour_indices(matrix, 1.0), np.zeros(matrix.shape, bool), spec))
        assert np.all(pruned[..., :3] == np.array(spec.pruned))
        # symmetric around zero: w and -w sit at mirrored ends of the map
        np.testing.assert_array_equal(live[0], spec.lut()[0])
        np.testing.assert_array_equal(live[-1], spec.lut()[255])


def test_levels_are_symmetric_and_ignore_a_single_outlier():
    matrix = np.full((100, 100), 0.1, dtype=np.float32)
    matrix[0, 0] = 50.0
    assert symmetric_level(matrix) == np.float32(0.1)
    assert symmetric_level(np.zeros((3, 3), np.float32)) == 1.0


@pytest.mark.parametrize("shape", [(100, 100), (3000, 1500)])  # sorted whole, and read bucket by bucket
def test_a_layers_level_is_its_percentile_of_the_magnitudes(shape):
    from prune_viz.core.magnitudes import MagnitudeOrder

    matrix = np.random.default_rng(2).normal(scale=0.05, size=shape).astype(np.float32)
    matrix[0, :5] = [50.0, np.nan, np.inf, -np.inf, 0.0]  # outliers and non-finite weights do not set it
    order = MagnitudeOrder(lambda: (matrix[r : r + 700] for r in range(0, len(matrix), 700)))
    finite = np.sort(np.abs(matrix[np.isfinite(matrix)]))
    assert layer_level(order) == finite[int(0.995 * (finite.size - 1))]
    assert layer_level(order) == pytest.approx(symmetric_level(matrix), rel=0.02)
    zeros = np.zeros((3, 3), np.float32)
    assert layer_level(MagnitudeOrder(lambda: iter([zeros]))) == 1.0


@pytest.fixture(scope="module")
def tied_pruner():
    """A Pruner over layers full of tied magnitudes (and zeros), where plans need their cut."""
    from prune_viz.core.layers import PrunableLayer
    from prune_viz.core.pruning import Pruner

    rng = np.random.default_rng(1)
    big = (rng.integers(-6, 7, size=(2100, 40)) / 4).astype(np.float32)  # 13 values, many ties
    small = rng.normal(size=(40, 12)).astype(np.float32)
    small[:, 3] = 0.0
    layers = [PrunableLayer("big", "Dense", None, big), PrunableLayer("small", "Dense", None, small, is_output=True)]
    return Pruner(layers)


@pytest.mark.parametrize("method", ["weight", "unit"])
@pytest.mark.parametrize("scope", ["layer", "global"])
def test_heatmap_cells_drawn_from_plans_equal_the_core_masks(tied_pruner, method, scope):
    """The heatmap asks the plan for the strided cells it draws; they must be the full mask's."""
    from prune_viz.core.pruning import PruningConfig

    for k in (0, 13, 37.5, 50, 81, 100):
        result = tied_pruner.prune(PruningConfig(method, k, scope, frozenset({"big", "small"})))
        for layer in tied_pruner.layers:
            matrix = layer.as_matrix(layer.original)
            full = np.asarray(result.masks[layer.name]).reshape(matrix.shape)
            for limit in (1024, 96, 7):
                rs, cs = strides(matrix.shape, limit)
                drawn = result.plans[layer.name].kept(matrix, slice(None, None, rs), slice(None, None, cs))
                np.testing.assert_array_equal(drawn, full[::rs, ::cs], err_msg=f"{method} {scope} k={k} {limit}")
                image, _, _ = display_matrix(matrix, drawn, limit)
                np.testing.assert_array_equal(np.isnan(image), ~full[::rs, ::cs])
            assert int((~full).sum()) == result.layer(layer.name).pruned


def _rendered_rgb(item) -> np.ndarray:
    from PySide6.QtGui import QImage

    item.render()
    image = item.qimage.convertToFormat(QImage.Format.Format_RGB888)
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()


@pytest.mark.parametrize("spec", list(COLORMAPS.values()), ids=list(COLORMAPS))
def test_colour_indices_draw_the_colours_pyqtgraph_draws_for_the_values(qapp, spec):
    """The big heatmap hands pyqtgraph the colours of its colour indices, not floats: every live cell
    must get the colour pyqtgraph gives its value, and every pruned cell the one pruned colour."""
    import pyqtgraph as pg

    rng = np.random.default_rng(1)
    values = (rng.normal(size=(60, 80)) * 0.7).astype(np.float32)
    values[0, :3] = (-5.0, 0.0, 5.0)  # beyond the levels and exactly at the centre
    pruned = rng.random(values.shape) < 0.4
    level = 1.0
    indices = kept_indices(colour_indices(values, level), ~pruned)
    assert indices.dtype == np.uint16 and np.all(indices[pruned] == PRUNED_INDEX)
    assert np.all(indices[~pruned] < PRUNED_INDEX)

    ours = pg.ImageItem(axisOrder="row-major")
    ours.setImage(indexed_rgb(indices, spec), autoLevels=False, levels=None, lut=None)
    floats = pg.ImageItem(axisOrder="row-major")
    floats.setImage(values, autoLevels=False, levels=(-level, level), lut=spec.lut())
    drawn, expected = _rendered_rgb(ours), _rendered_rgb(floats)
    assert np.array_equal(drawn[~pruned], expected[~pruned])
    assert np.all(drawn[pruned] == np.array(spec.pruned, dtype=np.uint8))


def test_nan_and_infinite_weights_take_their_own_colour_never_the_pruned_grey_nor_a_map_end():
    """Issue 30: a NaN weight was drawn in the pruned grey at k = 0, and +-inf at the ends of the map."""
    values = np.array([[np.nan, np.inf, -np.inf, 0.5, -0.5, 2.0]], dtype=np.float32)
    indices = colour_indices(values, 1.0)
    assert indices[0, :3].tolist() == [NON_FINITE_INDEX] * 3
    assert np.all(indices[0, 3:] < PRUNED_INDEX)
    assert kept_indices(indices, np.array([[False, True, True, True, True, True]]))[0, 0] == PRUNED_INDEX
    for spec in COLORMAPS.values():
        rgba = _channels(kept_colours(indices, None, spec))[0, :, :3].astype(int)
        assert rgba[:3].tolist() == [list(spec.non_finite)] * 3
        live = _channels(kept_colours(colour_indices(np.linspace(-1, 1, 256, dtype=np.float32)[None], 1.0), None, spec))
        distance = np.abs(live[0, :, :3].astype(int) - np.array(spec.non_finite)).sum(axis=1)
        assert distance.min() > 150, spec.key  # far from every weight colour of the map
        assert np.abs(np.array(spec.non_finite) - np.array(spec.pruned)).sum() > 300  # and from the grey
