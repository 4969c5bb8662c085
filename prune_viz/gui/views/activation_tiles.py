"""What the activations view draws, as plain numpy (made in the activations job): each row's units as
tiles, unpruned and pruned on one colour scale per row, so the two read side by side.

Maps (a convolution's channels, an attention layer's heads) are small images coloured with the app's one
colour mapping at +-the row's level (from the unpruned activations); a dense layer's units are bars. A
unit the current plan prunes whole is framed grey, and a unit dead under the pruning (it outputs nothing
for this input, and did unpruned) framed orange.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prune_viz.gui.views.colours import (
    DEAD_RGB,
    KEPT,
    ColormapSpec,
    colour_indices,
    rgb32,
    symmetric_level,
)

MAP_PIXELS = 44  # a map is drawn about this wide
FRAME = 2  # pixels of a map's frame
BAR_HEIGHT = 64
MARK = 4  # pixels of the mark under a bar
SEQUENCE_PIXELS, COLUMN_MAX = 256, 8  # a sequence's units are columns this wide together, each at most this wide


@dataclass(frozen=True)
class RowTiles:
    """One row's tiles: unpruned and pruned, and what the row says."""

    name: str
    label: str
    kind: str
    unpruned: np.ndarray  # (n, th, tw) RGB32
    pruned: np.ndarray
    units: int
    pruned_units: int
    dead_units: int
    level: float
    one_row: bool  # bars: every tile in one row


def row_tiles(row, spec: ColormapSpec, background: tuple[int, int, int]) -> RowTiles:
    """The tiles of a core.activations.LayerActivations."""
    level = _level(row.unpruned, row.pruned)
    frames = np.full(row.units, rgb32(background), np.uint32)
    frames[row.pruned_units] = rgb32(spec.pruned)
    frames[row.dead_units] = rgb32(DEAD_RGB)
    if row.kind == "bars":
        make = _bars
    elif row.kind == "sequence":
        make = _sequence
    else:
        make = _maps
    return RowTiles(
        row.name,
        row.label,
        row.kind,
        make(row.unpruned, level, frames, spec, background),
        make(row.pruned, level, frames, spec, background),
        row.units,
        int(np.count_nonzero(row.pruned_units)),
        int(np.count_nonzero(row.dead_units)),
        level,
        row.kind in ("bars", "sequence"),
    )


def _level(unpruned: np.ndarray, pruned: np.ndarray) -> float:
    for values in (unpruned, pruned):
        if np.any(values):
            return max(float(np.abs(values).max()) * 0.5, symmetric_level(values))
    return 1.0


def _maps(values: np.ndarray, level: float, frames: np.ndarray, spec: ColormapSpec, background) -> np.ndarray:
    """(H, W, units) -> one framed tile per unit, strided to about MAP_PIXELS, small maps scaled up."""
    maps = np.moveaxis(values, -1, 0)
    step = max(1, -(-max(maps.shape[1:]) // MAP_PIXELS))
    maps = maps[:, ::step, ::step]
    scale = max(1, MAP_PIXELS // max(maps.shape[1:]))
    pixels = spec.rgb32_indexed_lut().take(colour_indices(maps, level))
    pixels = np.repeat(np.repeat(pixels, scale, axis=1), scale, axis=2)
    n, h, w = pixels.shape
    tiles = np.empty((n, h + 2 * FRAME, w + 2 * FRAME), np.uint32)
    tiles[:] = frames[:, None, None]
    tiles[:, FRAME:-FRAME, FRAME:-FRAME] = pixels
    return np.pad(tiles, ((0, 0), (0, 2), (0, 2)), constant_values=rgb32(background))


def _bars(values: np.ndarray, level: float, frames: np.ndarray, spec: ColormapSpec, background) -> np.ndarray:
    """(units,) -> a bar per unit (from a baseline at the bottom, or the middle when some are negative), a
    mark under each pruned or dead unit."""
    units = len(values)
    width = 16 if units <= 16 else 6 if units <= 64 else 3 if units <= 160 else 2 if units <= 400 else 1
    height = BAR_HEIGHT
    signed = bool(np.any(values < 0))
    base = height // 2 if signed else height
    reach = (height // 2 if signed else height) * np.clip(values / level, -1, 1)
    rows = np.arange(height)[None, :]
    top = np.minimum(base, base - reach)[:, None]
    bottom = np.maximum(base, base - reach)[:, None]
    filled = (rows >= np.floor(top)) & (rows < np.ceil(bottom))
    bar = rgb32(_rgb(KEPT))
    tiles = np.where(filled, bar, rgb32(background)).astype(np.uint32)  # (units, height)
    tiles = np.concatenate([tiles, np.repeat(frames[:, None], MARK, axis=1)], axis=1)
    tiles = np.repeat(tiles[:, :, None], width, axis=2)
    if width > 1:  # a gap between bars
        tiles[:, :, -1] = rgb32(background)
    return tiles


def _sequence(values: np.ndarray, level: float, frames: np.ndarray, spec: ColormapSpec, background) -> np.ndarray:
    """(T, units) -> one image: a column per unit (a few pixels wide when the units are few), a row per step
    (strided to a few hundred), a mark under each pruned or dead unit."""
    step_t = max(1, -(-values.shape[0] // 128))
    values = values[::step_t]
    pixels = spec.rgb32_indexed_lut().take(colour_indices(values, level))  # (T, units)
    scale = max(1, 4 // max(1, values.shape[0] // 32))
    pixels = np.repeat(pixels, scale, axis=0)
    marks = np.repeat(frames[None, :], MARK, axis=0)
    image = np.concatenate([pixels, marks], axis=0)  # (rows, units)
    width = max(1, min(COLUMN_MAX, SEQUENCE_PIXELS // values.shape[1]))  # a few units: columns wide enough to see
    return np.repeat(np.moveaxis(image, 1, 0)[:, :, None], width, axis=2)  # one tile per unit: a column


def _rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.lstrip("#")
    return int(colour[0:2], 16), int(colour[2:4], 16), int(colour[4:6], 16)
