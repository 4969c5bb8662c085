"""What the heatmaps draw, as plain numpy: each layer's matrix strided to what a screen can show
(every n-th row and column, which keeps the pruned fraction honest, unlike block averages or maxima),
its colour level and its thumbnail. Made off the GUI thread when a model opens."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtGui import QGuiApplication

from prune_viz.gui.views.colours import colour_indices, weight_level

THUMBNAIL_PIXELS = 96


def display_limit() -> int:
    """Largest number of rows/columns worth drawing: the screen's size in device pixels."""
    screen = QGuiApplication.primaryScreen()
    if screen is None:
        return 1024
    size = screen.size() * screen.devicePixelRatio()
    return max(1024, size.width(), size.height())


def strides(shape: tuple[int, int], limit: int) -> tuple[int, int]:
    rows, cols = shape
    return max(1, -(-rows // limit)), max(1, -(-cols // limit))


def display_matrix(matrix: np.ndarray, kept: np.ndarray | None, limit: int) -> tuple[np.ndarray, int, int]:
    """(image, row stride, column stride): ``matrix`` strided to <= limit, float32, NaN where pruned.

    ``kept`` is the keep-mask already strided the same way (see ``LayerHeatmaps.kept_matrix``), or None.
    """
    rs, cs = strides(matrix.shape, limit)
    values = np.array(matrix[::rs, ::cs], dtype=np.float32)
    if kept is not None:
        values[~kept] = np.nan
    return values, rs, cs


@dataclass(frozen=True)
class LayerPicture:
    """What the heatmaps draw of one layer that no k changes."""

    matrix: np.ndarray  # the (fan_in, units) original weights
    level: float  # the colours' +-level (layer_level)
    thumbnail: np.ndarray  # the matrix strided for a thumbnail, float32
    thumbnail_indices: np.ndarray  # its colour_indices at the level


@dataclass(frozen=True)
class HeatmapData:
    """Every layer's LayerPicture for one opened model. Plain numpy (and the pruner's sorted
    magnitudes), so the open job can make it off the GUI thread, where a big model's levels take a while."""

    opened: object
    layers: dict[str, LayerPicture]


def heatmap_data(opened) -> HeatmapData:
    pictures = {}
    for layer in opened.layers if opened is not None else []:
        matrix = layer.as_matrix(layer.original)
        level = weight_level(opened, layer.name)
        thumbnail, _, _ = display_matrix(matrix, None, THUMBNAIL_PIXELS)
        pictures[layer.name] = LayerPicture(matrix, level, thumbnail, colour_indices(thumbnail, level))
    return HeatmapData(opened, pictures)
