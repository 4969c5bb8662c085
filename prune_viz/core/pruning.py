"""Non-destructive weight and unit pruning as TensorFlow ops.

Ranks are computed once from the original weights (a stable sort, so ties go to
the lower flat index); a k then becomes a rank threshold, and the pruned kernel
is ``tf.where(rank >= n_pruned, original, 0)``. Every k is therefore computed
from the originals, in any order, in a few milliseconds, and restoring is exact.

Counts: weight pruning zeroes round(n*k/100) weights of a matrix (or of all
selected matrices together, for global scope); unit pruning zeroes
round(units*k/100) output units, ranked by the L2 norm of their incoming
weights. ``round`` is half-up, so k=50 of 5 units prunes 3.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from prune_viz.core.layers import PrunableLayer

METHODS = ("weight", "unit")
SCOPES = ("layer", "global")


class PruningError(ValueError):
    """A pruning request that cannot be honoured; the message is one sentence."""


def parse_k(value) -> float:
    """k as a float in [0, 100], or PruningError."""
    try:
        k = float(value)
    except (TypeError, ValueError):
        raise PruningError(f"k must be a number from 0 to 100, not {value!r}.") from None
    if not math.isfinite(k) or not 0.0 <= k <= 100.0:
        raise PruningError(f"k must be from 0 to 100, not {value!r}.")
    return k


def count_to_prune(total: int, k: float) -> int:
    """round(total*k/100), rounding halves up."""
    return min(total, int(math.floor(total * k / 100.0 + 0.5)))


@dataclass(frozen=True)
class PruningConfig:
    method: str = "weight"
    k: float = 0.0
    scope: str = "layer"
    included: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self):
        if self.method not in METHODS:
            raise PruningError(f"method must be one of {', '.join(METHODS)}, not {self.method!r}.")
        if self.scope not in SCOPES:
            raise PruningError(f"scope must be one of {', '.join(SCOPES)}, not {self.scope!r}.")
        object.__setattr__(self, "k", parse_k(self.k))
        object.__setattr__(self, "included", frozenset(self.included))

    def describe(self) -> str:
        scope = "layerwise" if self.scope == "layer" else "global"
        return f"{self.method} pruning, k={self.k:g}%, {scope}"


def _ranks(values: np.ndarray) -> np.ndarray:
    """rank[i] = position of values[i] in a stable ascending sort (int32 unless huge)."""
    flat = values.ravel()
    order = np.argsort(flat, kind="stable")
    dtype = np.int32 if flat.size < 2**31 else np.int64
    ranks = np.empty(flat.size, dtype=dtype)
    ranks[order] = np.arange(flat.size, dtype=dtype)
    return ranks.reshape(values.shape)


def unit_norms(original: np.ndarray) -> np.ndarray:
    """L2 norm of each output unit's incoming weights (over every axis but the last)."""
    matrix = original.reshape(-1, original.shape[-1]).astype(np.float64)
    return np.sqrt(np.sum(matrix * matrix, axis=0))


@dataclass
class LayerResult:
    name: str
    pruned: int  # weights zeroed by the mask
    zeros: int  # weights equal to zero after pruning (includes weights that were zero already)
    size: int
    pruned_units: int  # units whose every weight is masked
    units: int

    @property
    def sparsity(self) -> float:
        return self.zeros / self.size if self.size else 0.0


@dataclass
class PruneResult:
    config: PruningConfig
    kernels: dict  # name -> tf.Tensor, the pruned kernel
    masks: dict  # name -> tf.Tensor of bool, True where the weight is kept
    layers: list[LayerResult]
    thresholds: dict  # name -> |w| (weight) or unit norm (unit) below or at which weights were pruned, or None

    @property
    def prunable_size(self) -> int:
        return sum(layer.size for layer in self.layers)

    @property
    def prunable_zeros(self) -> int:
        return sum(layer.zeros for layer in self.layers)

    @property
    def prunable_sparsity(self) -> float:
        return self.prunable_zeros / self.prunable_size if self.prunable_size else 0.0

    def included_sparsity(self) -> float:
        chosen = [layer for layer in self.layers if layer.name in self.config.included]
        size = sum(layer.size for layer in chosen)
        return sum(layer.zeros for layer in chosen) / size if size else 0.0

    def layer(self, name: str) -> LayerResult:
        return next(layer for layer in self.layers if layer.name == name)


class Pruner:
    """Owns the originals and ranks of a model's prunable layers and turns configs into kernels."""

    def __init__(self, layers: list[PrunableLayer]):
        import tensorflow as tf

        self._tf = tf
        self.layers = list(layers)
        self._by_name = {layer.name: layer for layer in self.layers}
        self._originals = {layer.name: tf.constant(layer.original) for layer in self.layers}
        self._weight_ranks = {}
        self._unit_norms = {layer.name: unit_norms(layer.original) for layer in self.layers}
        self._unit_ranks = {name: _ranks(norms) for name, norms in self._unit_norms.items()}
        self._abs_sorted = {}
        self._global_cache: dict = {}
        self._zeros_in_original = {
            layer.name: tf.constant(layer.original == 0) for layer in self.layers
        }

    # -- ranks, computed lazily once ------------------------------------------------------------
    def _layer_weight_ranks(self, name: str):
        if name not in self._weight_ranks:
            self._weight_ranks[name] = self._tf.constant(_ranks(np.abs(self._by_name[name].original)))
        return self._weight_ranks[name]

    def _sorted_abs(self, name: str) -> np.ndarray:
        if name not in self._abs_sorted:
            self._abs_sorted[name] = np.sort(np.abs(self._by_name[name].original), axis=None)
        return self._abs_sorted[name]

    def _global_weight_ranks(self, names: tuple[str, ...]):
        key = ("weight", names)
        if key not in self._global_cache:
            joined = np.concatenate([np.abs(self._by_name[n].original).ravel() for n in names])
            ranks = _ranks(joined)
            out, start = {}, 0
            for n in names:
                size = self._by_name[n].size
                out[n] = self._tf.constant(ranks[start : start + size].reshape(self._by_name[n].shape))
                start += size
            self._global_cache[key] = (out, np.sort(joined))
        return self._global_cache[key]

    def _global_unit_ranks(self, names: tuple[str, ...]):
        key = ("unit", names)
        if key not in self._global_cache:
            joined = np.concatenate([self._unit_norms[n] for n in names])
            ranks = _ranks(joined)
            out, start = {}, 0
            for n in names:
                units = self._by_name[n].units
                out[n] = ranks[start : start + units]
                start += units
            self._global_cache[key] = (out, np.sort(joined))
        return self._global_cache[key]

    # -- the per-k work -------------------------------------------------------------------------
    def check_included(self, included: Iterable[str]) -> tuple[str, ...]:
        unknown = set(included) - self._by_name.keys()
        if unknown:
            raise PruningError(f"No prunable layer named {', '.join(sorted(unknown))}.")
        return tuple(layer.name for layer in self.layers if layer.name in set(included))

    def prune(self, config: PruningConfig) -> PruneResult:
        """Pruned kernels and masks for ``config``; the model's variables are not touched."""
        tf = self._tf
        names = self.check_included(config.included)
        kernels, masks, thresholds = {}, {}, {}
        if config.method == "weight":
            if config.scope == "global" and names:
                ranks, sorted_all = self._global_weight_ranks(names)
                n_pruned = count_to_prune(len(sorted_all), config.k)
                threshold = float(sorted_all[n_pruned - 1]) if n_pruned else None
                for n in names:
                    masks[n] = ranks[n] >= n_pruned
                    thresholds[n] = threshold
            else:
                for n in names:
                    n_pruned = count_to_prune(self._by_name[n].size, config.k)
                    masks[n] = self._layer_weight_ranks(n) >= n_pruned
                    thresholds[n] = float(self._sorted_abs(n)[n_pruned - 1]) if n_pruned else None
        else:
            if config.scope == "global" and names:
                unit_ranks, sorted_all = self._global_unit_ranks(names)
                n_pruned = count_to_prune(len(sorted_all), config.k)
                threshold = float(sorted_all[n_pruned - 1]) if n_pruned else None
                for n in names:
                    masks[n] = self._unit_mask(n, unit_ranks[n] >= n_pruned)
                    thresholds[n] = threshold
            else:
                for n in names:
                    n_pruned = count_to_prune(self._by_name[n].units, config.k)
                    masks[n] = self._unit_mask(n, self._unit_ranks[n] >= n_pruned)
                    norms = np.sort(self._unit_norms[n])
                    thresholds[n] = float(norms[n_pruned - 1]) if n_pruned else None
        results = []
        for layer in self.layers:
            original = self._originals[layer.name]
            if layer.name in masks:
                mask = masks[layer.name]
                kernel = tf.where(mask, original, tf.zeros_like(original))
                pruned = layer.size - int(tf.math.count_nonzero(mask))
                zeros = int(tf.math.count_nonzero(tf.logical_or(tf.logical_not(mask), self._zeros_in_original[layer.name])))
                kept_units = tf.reduce_any(tf.reshape(mask, (-1, layer.units)), axis=0)
                pruned_units = layer.units - int(tf.math.count_nonzero(kept_units))
            else:
                kernel = original
                pruned, pruned_units = 0, 0
                zeros = int(tf.math.count_nonzero(self._zeros_in_original[layer.name]))
                thresholds[layer.name] = None
            kernels[layer.name] = kernel
            results.append(LayerResult(layer.name, pruned, zeros, layer.size, pruned_units, layer.units))
        return PruneResult(config, kernels, masks, results, thresholds)

    def _unit_mask(self, name: str, kept_units: np.ndarray):
        layer = self._by_name[name]
        keep = self._tf.constant(kept_units)
        return self._tf.broadcast_to(keep, layer.shape)

    # -- writing the model ----------------------------------------------------------------------
    def apply(self, result: PruneResult) -> None:
        """Write ``result``'s kernels into the model's variables (only from the one TF job thread)."""
        for layer in self.layers:
            layer.variable.assign(result.kernels[layer.name])

    def restore(self) -> None:
        """Put the original kernels back, bit for bit."""
        for layer in self.layers:
            layer.variable.assign(self._originals[layer.name])

    def original(self, name: str):
        return self._originals[name]
