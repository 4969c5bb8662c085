"""Outputs that are pictures (a generator's images): which outputs are, and the unpruned and pruned
outputs of the first few samples as uint8 images, for the evaluation's output strip.

An output is a picture when each sample's output is (height, width) or (height, width, channels)
with 1, 3 or 4 channels, both sides at least ``MIN_SIDE`` pixels (a 2-d output: at least 8, and at most
four times as long as it is wide, so a sequence of vectors is not taken for one). Its values are put on
0..255 by one range for both rows, read from the unpruned outputs (tanh's -1..1, a sigmoid's 0..1,
pixels' 0..255, else their own minimum to maximum), so a pruned output is drawn on the unpruned one's scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STRIP_SAMPLES = 8
MIN_SIDE = 4
SLACK = 1e-3  # rounding beyond a range's ends still counts as inside it


def picture_shape(shape: tuple) -> tuple[int, ...] | None:
    """The per-sample output ``shape`` as a picture's (h, w) or (h, w, c), or None if it is not one."""
    dims = tuple(int(d) if d is not None else 0 for d in shape)
    if len(dims) == 3 and dims[2] in (1, 3, 4) and min(dims[:2]) >= MIN_SIDE:
        return dims
    if len(dims) == 2 and min(dims) >= 8 and max(dims) <= 4 * min(dims):  # a map; a sequence of vectors is not
        return dims
    return None


def value_range(reference: np.ndarray) -> tuple[float, float]:
    """The range 0..255 stands for, from the unpruned outputs' values."""
    finite = reference[np.isfinite(reference)]
    if not len(finite):
        return 0.0, 1.0
    low, high = float(finite.min()), float(finite.max())
    if low >= -1 - SLACK and high <= 1 + SLACK:
        return (-1.0, 1.0) if low < -SLACK else (0.0, 1.0)
    if low >= -SLACK and high <= 255 + SLACK:
        return 0.0, 255.0
    return (low, high) if high > low else (low - 1.0, low + 1.0)


def as_pictures(outputs: np.ndarray, shape: tuple[int, ...], span: tuple[float, float]) -> np.ndarray:
    """(n, numbers) outputs as uint8 (n, h, w) grey or (n, h, w, c) pictures on ``span``."""
    low, high = span
    scaled = (np.nan_to_num(outputs.astype(np.float64), nan=low) - low) / (high - low)
    pictures = np.clip(np.round(scaled * 255.0), 0, 255).astype(np.uint8).reshape((len(outputs),) + tuple(shape))
    return pictures[..., 0] if pictures.ndim == 4 and pictures.shape[-1] == 1 else pictures


@dataclass(frozen=True)
class OutputStrip:
    """The first few samples' outputs, unpruned and as evaluated, as uint8 pictures on one scale."""

    output: str  # the output's name
    unpruned: np.ndarray  # (n, h, w) or (n, h, w, c) uint8
    pruned: np.ndarray
    span: tuple[float, float]  # the output values drawn black and white (or zero and full colour)

    @property
    def count(self) -> int:
        return len(self.unpruned)


def output_strip(name: str, outputs: np.ndarray, reference: np.ndarray, shape: tuple[int, ...]) -> OutputStrip:
    """The strip of the first STRIP_SAMPLES samples of one picture output (flattened (n, numbers))."""
    span = value_range(reference)
    few = slice(0, min(STRIP_SAMPLES, len(outputs)))
    return OutputStrip(name, as_pictures(reference[few], shape, span), as_pictures(outputs[few], shape, span), span)
