"""A drawn digit made the way MNIST digits were made.

LeCun, Cortes and Burges: each digit's bounding box was fitted into 20x20 pixels
(keeping its aspect ratio, anti-aliased, so the result has grey levels), then
placed in a 28x28 field so that its centre of mass sits at the centre.

Strokes are polylines in pad coordinates from 0 to 1 (x right, y down). They are
rasterised here, not by the view, so the pad and its tests share one definition.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CANVAS = 112  # the pad's strokes are rasterised at 4x the 28-pixel field, then fitted
PEN_WIDTH = 0.07  # of the pad's side; thick enough that the fitted strokes look like MNIST's
FIELD = 28
BOX = 20

Stroke = Sequence[tuple[float, float]]


def rasterise(strokes: Sequence[Stroke], size: int = CANVAS, pen_width: float = PEN_WIDTH) -> np.ndarray:
    """(size, size) float ink in [0, 1]: round-capped segments with an anti-aliased edge."""
    ink = np.zeros((size, size), dtype=np.float64)
    radius = pen_width * size / 2
    centres = np.arange(size) + 0.5
    for stroke in strokes:
        points = np.asarray(stroke, dtype=np.float64).reshape(-1, 2) * size
        if len(points) == 0:
            continue
        if len(points) == 1:
            points = np.repeat(points, 2, axis=0)
        for (x0, y0), (x1, y1) in zip(points[:-1], points[1:]):
            # only the pixels near the segment's box are looked at
            c0 = max(int(min(x0, x1) - radius - 1), 0)
            c1 = min(int(max(x0, x1) + radius + 2), size)
            r0 = max(int(min(y0, y1) - radius - 1), 0)
            r1 = min(int(max(y0, y1) + radius + 2), size)
            if c0 >= c1 or r0 >= r1:
                continue
            px, py = np.meshgrid(centres[c0:c1], centres[r0:r1])
            dx, dy = x1 - x0, y1 - y0
            length2 = dx * dx + dy * dy
            t = np.zeros_like(px) if length2 == 0 else np.clip(((px - x0) * dx + (py - y0) * dy) / length2, 0, 1)
            distance = np.hypot(px - (x0 + t * dx), py - (y0 + t * dy))
            coverage = np.clip(radius + 0.5 - distance, 0.0, 1.0)
            np.maximum(ink[r0:r1, c0:c1], coverage, out=ink[r0:r1, c0:c1])
    return ink


def _area_weights(source: int, target: int) -> np.ndarray:
    """(target, source) weights that average each target cell over the source cells it covers."""
    edges = np.linspace(0.0, source, target + 1)
    weights = np.zeros((target, source))
    for i in range(target):
        lo, hi = edges[i], edges[i + 1]
        for j in range(int(np.floor(lo)), min(int(np.ceil(hi)), source)):
            weights[i, j] = min(hi, j + 1) - max(lo, j)
        weights[i] /= hi - lo
    return weights


def resize_area(image: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``image`` resampled to (rows, cols) by area averaging: anti-aliased when shrinking."""
    return _area_weights(image.shape[0], rows) @ image @ _area_weights(image.shape[1], cols).T


def mnist_digit(ink: np.ndarray) -> np.ndarray:
    """(28, 28) uint8 in MNIST's style from a canvas of ink in [0, 1]; all zeros if nothing is drawn."""
    ink = np.asarray(ink, dtype=np.float64)
    rows = np.flatnonzero(ink.max(axis=1) > 0)
    cols = np.flatnonzero(ink.max(axis=0) > 0)
    field = np.zeros((FIELD, FIELD))
    if len(rows) == 0:
        return field.astype(np.uint8)
    glyph = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = BOX / max(glyph.shape)
    height = max(1, int(round(glyph.shape[0] * scale)))
    width = max(1, int(round(glyph.shape[1] * scale)))
    fitted = resize_area(glyph, height, width)
    total = fitted.sum()
    if total <= 0:
        return field.astype(np.uint8)
    # centre of mass of the fitted glyph, in its own pixel-centre coordinates
    com_row = (fitted.sum(axis=1) * (np.arange(height) + 0.5)).sum() / total
    com_col = (fitted.sum(axis=0) * (np.arange(width) + 0.5)).sum() / total
    top = int(round(FIELD / 2 - com_row))
    left = int(round(FIELD / 2 - com_col))
    top = min(max(top, 0), FIELD - height)  # a lopsided glyph still fits whole
    left = min(max(left, 0), FIELD - width)
    field[top : top + height, left : left + width] = fitted
    return np.clip(np.round(field * 255.0), 0, 255).astype(np.uint8)


def digit_from_strokes(strokes: Sequence[Stroke]) -> np.ndarray:
    """(28, 28) uint8: the strokes rasterised and fitted as MNIST digits were."""
    return mnist_digit(rasterise(strokes))
