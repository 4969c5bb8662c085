"""What the filter pictures draw, as plain numpy: a convolution layer's filters as small images, coloured
with the app's one colour mapping, pruned weights grey (from the current result's plans: the core's
keep-masks, never re-derived), and each filter's unit statistics. Made in a worker job (``filter_picture``);
the GUI thread only lays the tiles out in a grid (``views.tile_grid``).

A filter is what one output unit sees: a Conv kernel's column (kh x kw x in), a transposed Conv's output
filter (its rows), or a depthwise kernel's one channel and multiplier slice (kh x kw x 1). A 1D kernel's
filter is one row of pixels; a 3D kernel is not drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prune_viz.gui.views.colours import (
    ColormapSpec,
    colour_indices,
    kept_indices,
    rgb32,
    rgb_weights,
    symmetric_level,
    weight_level,
)

MODES = ("colour", "norm", "channel")
MODE_NAMES = {
    "colour": "colour (inputs as RGB)",
    "norm": "norm over the input channels",
    "channel": "one input channel",
}
TILE_PIXELS = 48  # a filter's picture is about this wide
GAP = 4  # pixels between filters
CHECKER = (200, 200, 200)  # with the pruned grey, the checks of a pruned pixel in a colour filter


def arrangement(kind: str, rank: int) -> str | None:
    """How a tensor of layer ``kind`` and rank ``rank`` holds its filters, or None when it holds none to draw."""
    if rank not in (3, 4):
        return None
    if kind.startswith("Depthwise") or kind.endswith(" depthwise"):
        return "depthwise"
    if kind in ("Conv1DTranspose", "Conv2DTranspose"):
        return "transpose"
    if kind in ("Conv1D", "Conv2D"):
        return "conv"
    return None


def filter_tensors(opened) -> list:
    """The open model's prunable tensors that hold filters to draw, in model order."""
    if opened is None:
        return []
    return [t for t in opened.layers if arrangement(t.kind, len(t.shape)) is not None]


def why_no_filters(opened) -> str:
    """Why the open model has no filters to draw (one sentence)."""
    if opened is None:
        return "Open a model with convolution layers to see their filters as pictures."
    if any(t.kind.startswith("Conv3D") for t in opened.layers):
        return "This model's convolutions are 3D: their filters are volumes, shown in the heatmap as matrices."
    return (
        "This model has no convolution layers, so there are no filters to draw: its Dense layers' weights "
        "are the heatmap's matrices, and Activations shows what their units do."
    )


def filters_of(tensor, array: np.ndarray) -> np.ndarray:
    """``array`` (of the tensor's kernel shape) as (filters, height, width, input channels)."""
    how = arrangement(tensor.kind, len(tensor.shape))
    array = np.asarray(array)
    if how == "conv":
        out = np.moveaxis(array, -1, 0)
    elif how == "transpose":
        out = np.moveaxis(array, -2, 0)
    else:  # depthwise: (*spatial, in, multiplier) -> one single-channel filter per (in, multiplier)
        spatial = array.shape[:-2]
        out = np.moveaxis(array.reshape(*spatial, -1), -1, 0)[..., None]
    if out.ndim == 3:  # 1D: one row of pixels
        out = out[:, None]
    return out


def unit_of_filters(tensor) -> np.ndarray:
    """The unit of each filter (-1: the tensor's units are not its filters: weight pruning only)."""
    count = len(filters_of(tensor, np.empty(tensor.shape, np.bool_)))
    if not tensor.units:
        return np.full(count, -1)
    if arrangement(tensor.kind, len(tensor.shape)) == "depthwise":
        return np.arange(count) // tensor.shape[-1]
    return np.arange(count)


def default_mode(tensor) -> str:
    """Colour for a filter of three input channels, one channel when it has one, else the norm."""
    channels = filters_of(tensor, np.empty(tensor.shape, np.bool_)).shape[-1]
    return "colour" if channels == 3 else "channel" if channels == 1 else "norm"


@dataclass(frozen=True)
class FilterPicture:
    """One layer's filters drawn for one result: tiles and what hovering a filter says."""

    name: str
    mode: str
    channel: int
    key: object  # what it was drawn for (the result's config, the mode, the colours): stale when it differs
    tiles: np.ndarray  # (filters, tile height, tile width) RGB32 pixels, a gap at the right and bottom
    pruned: np.ndarray  # bool per filter: every weight of it is zeroed
    zero_share: np.ndarray  # per filter: the share of its weights that are zero under the result
    norms: np.ndarray  # per filter: its unit's L2 norm of the original weights (NaN: no unit)
    scores: np.ndarray | None  # per filter: its unit's score under the result's criterion (None: no units)
    units: np.ndarray  # per filter: its unit (-1: none)
    shape: tuple[int, int, int]  # a filter's (height, width, input channels)

    @property
    def count(self) -> int:
        return len(self.tiles)

    def describe(self, index: int, criterion: str = "") -> str:
        """What hovering filter ``index`` says: its unit and that unit's statistics."""
        unit = int(self.units[index])
        h, w, c = self.shape
        words = [f"Filter {index} ({h}x{w}x{c})"]
        if unit >= 0:
            words[0] += f", unit {unit}"
            words.append(f"norm {self.norms[index]:.4g}")
        words.append(f"{self.zero_share[index] * 100:.0f}% zero")
        if self.scores is not None and unit >= 0:
            words.append(f"{criterion or 'score'} {self.scores[index]:.4g}")
        text = ", ".join(words)
        return text + (" - pruned" if self.pruned[index] else "")


def filter_picture(
    opened,
    name: str,
    result,
    mode: str,
    channel: int,
    spec: ColormapSpec,
    background: tuple[int, int, int],
    key: object = None,
) -> FilterPicture:
    """Tensor ``name``'s filters under ``result`` (None: unpruned) in ``mode`` (MODES; ``channel`` for
    "channel"), coloured with ``spec``; ``background`` fills the gaps. Plain numpy: for a worker job."""
    tensor = next(t for t in opened.layers if t.name == name)
    weights = filters_of(tensor, tensor.original)
    plan = result.plans.get(name) if result is not None else None
    kept = (
        None if plan is None else filters_of(tensor, plan.kept(tensor.as_matrix(tensor.original)).reshape(tensor.shape))
    )
    n, h, w, c = weights.shape
    level = weight_level(opened, name)
    shown = weights if kept is None else np.where(kept, weights, np.float32(0))
    if mode == "colour" and c == 3:
        scale = _scale(h, w)
        pixels = _scaled(rgb_weights(shown, level), scale)
        if kept is not None:  # a pixel no weight of reaches any more: checks of the pruned grey
            gone = _scaled(~kept.any(axis=-1), scale)
            checks = (np.indices(gone.shape[1:]) // max(1, scale // 4)).sum(axis=0) % 2 == 0
            pixels = np.where(gone, np.where(checks, rgb32(spec.pruned), rgb32(CHECKER))[None], pixels)
    else:
        if mode == "norm":
            norms = np.sqrt(np.square(shown.astype(np.float64)).sum(axis=-1)).astype(np.float32)
            indices = colour_indices(norms, symmetric_level(np.sqrt(np.square(weights.astype(np.float64)).sum(-1))))
            pruned_cells = None if kept is None else kept.any(axis=-1)
        else:
            mode, channel = "channel", int(np.clip(channel, 0, c - 1))
            indices = colour_indices(weights[..., channel], level)
            pruned_cells = None if kept is None else kept[..., channel]
        pixels = _scaled(spec.rgb32_indexed_lut().take(kept_indices(indices, pruned_cells)), _scale(h, w))
    tiles = np.pad(pixels, ((0, 0), (0, GAP), (0, GAP)), constant_values=rgb32(background))
    units = unit_of_filters(tensor)
    size = h * w * c
    zero_share = 1.0 - np.count_nonzero(shown.reshape(n, -1), axis=1) / size
    pruned = np.zeros(n, bool) if kept is None else ~kept.reshape(n, -1).any(axis=1)
    norms, scores = np.full(n, np.nan), None
    if tensor.units:
        unit_norms = np.asarray(opened.pruner.unit_norms(name))
        norms = unit_norms[units]
        if result is not None:
            try:
                scores = np.asarray(opened.pruner.unit_scores(name, result.config))[units]
            except Exception:  # a criterion whose scores are not ready (Taylor): the norm alone
                scores = None
    return FilterPicture(name, mode, channel, key, tiles, pruned, zero_share, norms, scores, units, (h, w, c))


def _scale(h: int, w: int) -> int:
    """Screen pixels per weight: a filter about TILE_PIXELS wide."""
    return max(2, TILE_PIXELS // max(h, w, 1))


def _scaled(pixels: np.ndarray, scale: int) -> np.ndarray:
    """(n, h, w) pixels, each ``scale`` x ``scale`` screen pixels."""
    return np.repeat(np.repeat(pixels, scale, axis=1), scale, axis=2)
