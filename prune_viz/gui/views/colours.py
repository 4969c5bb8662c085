"""The app's one theme and colour module: the palette, the chart themes (light, and high contrast
for projectors), the one pruned grey, the weight colour maps, and how a weight becomes a colour.

Weights are coloured by a diverging map centred at 0 with symmetric levels fixed per layer (from the
original weights, so colours do not drift while pruning); pruned cells take PRUNED_RGB, a grey that no
map takes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

from prune_viz.core.non_finite import is_non_finite

# -- palette (Okabe-Ito: distinguishable with the common colour-vision deficiencies) ------------
BACKGROUND = "#ffffff"
FOREGROUND = "#1a1a1a"
GRID_ALPHA = 0.25
KEPT = "#0072B2"  # blue: weights or units that stay
# The one colour of "pruned" in every view (heatmap cells, histogram, unit tiles, legends): a neutral
# grey that neither weight colour map takes (blue-white-red, nor cyan-black-yellow), light or dark.
PRUNED_RGB = (128, 128, 128)
PRUNED = "#{:02x}{:02x}{:02x}".format(*PRUNED_RGB)
PRUNED_NAME = "pruned (grey)"
# Weights that are NaN or infinite (core.non_finite), kept: a colour that neither weight map takes and far
# from the pruned grey, so they are never taken for pruned or for large weights.
NON_FINITE_RGB = (255, 0, 255)
NON_FINITE = "#{:02x}{:02x}{:02x}".format(*NON_FINITE_RGB)
NON_FINITE_NAME = "NaN or infinite (magenta)"
# A unit that outputs nothing under the pruning for the chosen input (core.activations.dead_units)
DEAD_RGB = (213, 94, 0)  # Okabe-Ito vermillion
DEAD = "#{:02x}{:02x}{:02x}".format(*DEAD_RGB)
DEAD_NAME = "dead under this pruning (orange)"
THRESHOLD = "#000000"
MUTED = "#8c8c8c"  # stale results, baselines, chance level


@dataclass(frozen=True)
class Theme:
    """Colours of the charts: the light default, or high contrast (white on black) for projectors."""

    key: str
    background: str
    foreground: str
    kept: str
    muted: str
    grid_alpha: float
    legend_fill: tuple


LIGHT = Theme("light", BACKGROUND, FOREGROUND, KEPT, MUTED, GRID_ALPHA, (255, 255, 255, 230))
HIGH_CONTRAST_THEME = Theme("high-contrast", "#000000", "#ffffff", "#56B4E9", "#c8c8c8", 0.45, (0, 0, 0, 230))

SERIES_STYLE = {  # (method, scope) -> colour, marker, line style
    ("weight", "layer"): ("#0072B2", "o", "solid"),
    ("weight", "global"): ("#56B4E9", "s", "dash"),
    ("unit", "layer"): ("#D55E00", "t", "solid"),
    ("unit", "global"): ("#E69F00", "d", "dash"),
    ("block", "layer"): ("#009E73", "p", "solid"),
    ("block", "global"): ("#009E73", "h", "dash"),
    ("nm", "layer"): ("#CC79A7", "star", "solid"),  # N:M has no scope: both keys draw alike
    ("nm", "global"): ("#CC79A7", "star", "solid"),
}
# A sweep of several criteria side by side: one colour per criterion (none of them a SERIES_STYLE colour
# but magnitude's, the default), the marker of the (method, scope) and a line style per (method, scope)
CRITERION_COLOURS = {"magnitude": "#0072B2", "random": "#009E73", "lamp": "#CC79A7", "taylor": "#882255"}
SERIES_DASHES = {  # (method, scope) -> dash pattern (None: solid), when colours say the criterion
    ("weight", "layer"): None,
    ("unit", "layer"): [6, 3],
    ("weight", "global"): [2, 3],
    ("unit", "global"): [6, 3, 2, 3],
    ("block", "layer"): [1, 3],
    ("block", "global"): [1, 3, 6, 3],
    ("nm", "layer"): [8, 2, 1, 2],
    ("nm", "global"): [8, 2, 1, 2],
}
# Curves that must be told apart (one per layer): a qualitative map (Okabe-Ito without its grey-like
# yellow, then Tol's muted) and one marker each, so colour is never the only difference.
QUALITATIVE = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#882255",
    "#117733",
    "#332288",
    "#AA4499",
    "#44AA99",
    "#999933",
)
MARKERS = ("o", "s", "t", "d", "+", "x", "star", "h", "p", "t1", "t2", "t3")


def qualitative_style(index: int) -> tuple[str, str]:
    """(colour, marker) of the index-th curve; colour and marker cycle with different periods."""
    return QUALITATIVE[index % len(QUALITATIVE)], MARKERS[index % len(MARKERS)]


LEVEL_PERCENTILE = 99.5  # colour levels at +-this percentile of |w|, so one outlier does not wash out the map
LEVEL_SAMPLE = 1_000_000


@dataclass(frozen=True)
class ColormapSpec:
    key: str
    title: str
    stops: tuple  # RGB tuples from the most negative to the most positive weight
    theme: Theme  # the charts' colours that go with this map
    pruned: tuple = PRUNED_RGB  # the same in every map: a colour no map takes
    non_finite: tuple = NON_FINITE_RGB  # NaN and infinite weights, the same in every map too

    @property
    def background(self) -> str:
        return self.theme.background

    @property
    def foreground(self) -> str:
        return self.theme.foreground

    def colormap(self) -> pg.ColorMap:
        positions = np.linspace(0.0, 1.0, len(self.stops))
        return pg.ColorMap(positions, [QColor(*c) for c in self.stops], name=self.key)

    def lut(self) -> np.ndarray:
        """The map's 256-entry RGB table (read-only; made once per map, views ask for it on every step)."""
        table = _LUTS.get(self)
        if table is None:
            table = self.colormap().getLookupTable(0.0, 1.0, 256, alpha=False).astype(np.uint8)
            table.flags.writeable = False
            table = _LUTS.setdefault(self, table)
        return table

    def indexed_lut(self) -> np.ndarray:
        """``lut()``, then at PRUNED_INDEX the pruned colour and at NON_FINITE_INDEX the NaN/infinite colour:
        the table of ``colour_indices`` images."""
        table = _INDEXED_LUTS.get(self)
        if table is None:
            table = np.vstack([self.lut(), np.array([self.pruned, self.non_finite], dtype=np.uint8)])
            table.flags.writeable = False
            table = _INDEXED_LUTS.setdefault(self, table)
        return table

    def packed_indexed_lut(self) -> np.ndarray:
        """``indexed_lut()`` as one opaque RGBA uint32 per entry (its bytes in R, G, B, A order)."""
        table = _PACKED_LUTS.get(self)
        if table is None:
            rgba = np.concatenate([self.indexed_lut(), np.full((NON_FINITE_INDEX + 1, 1), 255, np.uint8)], axis=1)
            table = np.ascontiguousarray(rgba).view(np.uint32).ravel()
            table.flags.writeable = False
            table = _PACKED_LUTS.setdefault(self, table)
        return table

    def rgb32_indexed_lut(self) -> np.ndarray:
        """``indexed_lut()`` as QImage RGB32 pixels, one uint32 0xffRRGGBB per entry: what a widget's
        painter draws without converting."""
        table = _RGB32_LUTS.get(self)
        if table is None:
            rgb = self.indexed_lut().astype(np.uint32)
            table = np.uint32(0xFF000000) | rgb[:, 0] << 16 | rgb[:, 1] << 8 | rgb[:, 2]
            table.flags.writeable = False
            table = _RGB32_LUTS.setdefault(self, table)
        return table


_LUTS: dict[ColormapSpec, np.ndarray] = {}
_INDEXED_LUTS: dict[ColormapSpec, np.ndarray] = {}
_PACKED_LUTS: dict[ColormapSpec, np.ndarray] = {}
_RGB32_LUTS: dict[ColormapSpec, np.ndarray] = {}
PRUNED_INDEX = 256  # the pruned colour's entry in ColormapSpec.indexed_lut
NON_FINITE_INDEX = 257  # the NaN/infinite colour's entry


# ColorBrewer RdBu (reversed: blue negative, red positive); near-zero weights are near white.
DIVERGING = ColormapSpec(
    "diverging",
    "Blue-white-red (default)",
    (
        (5, 48, 97),
        (33, 102, 172),
        (67, 147, 195),
        (146, 197, 222),
        (209, 229, 240),
        (247, 247, 247),
        (253, 219, 199),
        (244, 165, 130),
        (214, 96, 77),
        (178, 24, 43),
        (103, 0, 31),
    ),
    theme=LIGHT,
)
# For projectors: saturated ends, black at zero; pruned cells are the same mid grey as everywhere,
# far from black, so they are never taken for small weights.
HIGH_CONTRAST = ColormapSpec(
    "high-contrast",
    "High contrast (cyan-black-yellow)",
    ((0, 255, 255), (0, 110, 255), (0, 0, 0), (255, 60, 0), (255, 230, 0)),
    theme=HIGH_CONTRAST_THEME,
)
COLORMAPS = {spec.key: spec for spec in (DIVERGING, HIGH_CONTRAST)}


def symmetric_level(matrix: np.ndarray) -> float:
    """+-level for the colours: a high percentile of |w| (from an even sample of at most
    LEVEL_SAMPLE weights, so that huge layers open without a pause)."""
    flat = matrix.ravel()
    flat = flat[:: max(1, flat.size // LEVEL_SAMPLE)]
    magnitude = np.abs(flat[~is_non_finite(flat)])
    if magnitude.size == 0:
        return 1.0
    level = float(np.percentile(magnitude, LEVEL_PERCENTILE))
    return level if level > 0 else (float(magnitude.max()) or 1.0)


def layer_level(magnitudes) -> float:
    """symmetric_level of a layer from its MagnitudeOrder: the LEVEL_PERCENTILE-th |w| of all its
    finite weights, looked up in the order the pruner keeps rather than sorted from a sample."""
    finite = magnitudes.count_below(np.inf)
    if finite == 0:
        return 1.0
    level = float(magnitudes.value_at(int(LEVEL_PERCENTILE / 100 * (finite - 1))))
    return level if level > 0 else (float(magnitudes.value_at(finite - 1)) or 1.0)


def weight_level(opened, name: str) -> float:
    """The colours' +-level of layer ``name`` of an opened model: the one every picture of its weights
    uses (heatmap, thumbnail, unit tiles), so a weight has one colour everywhere."""
    return layer_level(opened.pruner.magnitudes(name))


def colour_indices(values: np.ndarray, level: float) -> np.ndarray:
    """uint16 entries of ``indexed_lut`` for weights ``values`` coloured at +-``level``: the app's one
    quantisation of weights to colours (heatmaps, thumbnails, unit tiles). It picks the entry pyqtgraph
    would pick for the float value, so the colours are the same, but a k step then only picks between
    these and PRUNED_INDEX (``kept_indices``). NaN and infinite weights take NON_FINITE_INDEX: never the
    pruned grey, nor a map's end."""
    scale = np.float32(256 / (2 * level))
    with np.errstate(invalid="ignore"):
        index = np.clip((values + np.float32(level)) * scale, 0, 255)
    index = np.nan_to_num(index, nan=NON_FINITE_INDEX).astype(np.uint16)
    bad = is_non_finite(values)
    if bad.any():  # +-inf was clipped to a map's end
        index[bad] = NON_FINITE_INDEX
    return index


def kept_indices(indices: np.ndarray, kept: np.ndarray | None) -> np.ndarray:
    """``colour_indices`` with the cells outside ``kept`` (None: none) made PRUNED_INDEX."""
    return indices if kept is None else np.where(kept, indices, np.uint16(PRUNED_INDEX))


def indexed_rgb(indices: np.ndarray, spec: ColormapSpec) -> np.ndarray:
    """Opaque RGBA uint8 of ``colour_indices`` (PRUNED_INDEX: the pruned colour), looked up as one
    uint32 per cell rather than as a row of an RGB table."""
    return spec.packed_indexed_lut().take(indices).view(np.uint8).reshape(*indices.shape, 4)


def kept_colours(indices: np.ndarray, kept: np.ndarray | None, spec: ColormapSpec) -> np.ndarray:
    """RGB32 pixels (uint32 0xffRRGGBB) of ``colour_indices`` where ``kept`` (None: everywhere), the
    pruned colour elsewhere: a thumbnail's colours, from indices kept from one k to the next."""
    return spec.rgb32_indexed_lut().take(kept_indices(indices, kept))


def rgb_weights(values: np.ndarray, level: float) -> np.ndarray:
    """RGB32 pixels (uint32 0xffRRGGBB) of weights ``values`` (..., 3) taken as red, green and blue: each
    channel 0.5 + w / (2 * level), clipped, so a first layer's filters on RGB inputs show the colours they
    respond to (the same +-level as the layer's other pictures). NaN and infinite weights take
    NON_FINITE_RGB."""
    with np.errstate(invalid="ignore"):
        scaled = np.clip(0.5 + np.asarray(values, np.float32) / np.float32(2 * level), 0.0, 1.0)
    rgb = np.nan_to_num(scaled * 255.0 + 0.5).astype(np.uint32)
    pixels = np.uint32(0xFF000000) | rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2]
    bad = is_non_finite(np.asarray(values)).any(axis=-1)
    if bad.any():
        r, g, b = NON_FINITE_RGB
        pixels[bad] = np.uint32(0xFF000000 | r << 16 | g << 8 | b)
    return pixels


def rgb32(rgb: tuple[int, int, int]) -> np.uint32:
    """One opaque RGB32 pixel."""
    r, g, b = rgb
    return np.uint32(0xFF000000 | r << 16 | g << 8 | b)


def background_rgb(widget) -> tuple[int, int, int]:
    """The RGB of ``widget``'s background as its palette paints it (tiles drawn on it blend in)."""
    colour = widget.palette().color(widget.backgroundRole())
    return colour.red(), colour.green(), colour.blue()
