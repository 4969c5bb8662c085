"""The scores a Pruner ranks weights and units by, computed once and kept while they are current.

Scores are keyed by a score key (``MAGNITUDE``, "lamp", "taylor" or ("random", seed)) and a layer
name. They are computed or sorted on the thread that asks for a config, never on a thread that
computes ahead (``ScoreStore.ahead_of_the_configuring_thread``: a warm-up, a prepared step): its
config may be stale by then, and computing them would forget the current ones. ``version`` changes
whenever scores are replaced or forgotten, so that a view keyed on it never shows stale ones.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

import numpy as np

from prune_viz.core import criteria
from prune_viz.core.layers import PrunableLayer
from prune_viz.core.magnitudes import MagnitudeOrder
from prune_viz.core.row_blocks import row_blocks

MAGNITUDE = "magnitude"


class StaleWarmUp(Exception):
    """A thread computing ahead met scores that are not sorted (yet, or any longer): its config is not current."""


def ranks_of(values: np.ndarray) -> np.ndarray:
    """rank[i] = position of values[i] in a stable ascending sort (int32 unless huge)."""
    flat = values.ravel()
    order = np.argsort(flat, kind="stable")
    dtype = np.int32 if flat.size < 2**31 else np.int64
    ranks = np.empty(flat.size, dtype=dtype)
    ranks[order] = np.arange(flat.size, dtype=dtype)
    return ranks.reshape(values.shape)


def unit_norms(original: np.ndarray) -> np.ndarray:
    """L2 norm of each output unit's incoming weights (over every axis but the last), in float64.

    Summed in row blocks so that no float64 copy of a big kernel is ever made."""
    return np.sqrt(_column_sums(original.reshape(-1, original.shape[-1]), square=True))


def _column_sums(matrix: np.ndarray, square: bool) -> np.ndarray:
    sums = np.zeros(matrix.shape[1], np.float64)
    for _, rows in row_blocks(matrix):
        sums += np.einsum("ij,ij->j", rows, rows, dtype=np.float64) if square else rows.sum(0, dtype=np.float64)
    return sums


def unit_sums(layer: PrunableLayer, matrix: np.ndarray, square: bool = False) -> np.ndarray:
    """Per unit of ``layer``, the sum of ``matrix``'s entries (their squares with ``square``) over the
    unit's slices, each entry counted once, in float64."""
    units = layer.units
    if not layer.mapped:
        return _column_sums(matrix, square)
    matrix = np.asarray(matrix)
    out = np.zeros(units, np.float64)
    cols, rows = layer.column_units, layer.row_units
    if cols is not None:
        per_column = _column_sums(matrix, square)
        out += np.bincount(cols[cols >= 0], per_column[cols >= 0], minlength=units)
    if rows is not None:
        values = np.square(matrix, dtype=np.float64) if square else matrix.astype(np.float64)
        out += np.bincount(rows[rows >= 0], values.sum(1)[rows >= 0], minlength=units)
        if cols is not None:  # a cell whose row and column are the same unit's was counted twice
            both = (rows[:, None] == cols[None, :]) & (rows[:, None] >= 0)
            r, c = np.nonzero(both)
            out -= np.bincount(rows[r], values[r, c], minlength=units)
    return out


def unit_entries(layer: PrunableLayer) -> np.ndarray:
    """How many entries of ``layer`` each unit holds (a unit's "fan-in" across its slices)."""
    ones = np.ones((layer.rows, layer.columns), np.float32) if layer.mapped else None
    if ones is None:
        return np.full(layer.units, layer.rows, np.float64)
    return unit_sums(layer, ones)


def score_key(config):
    """Which scores ``config`` thresholds: equal keys share sorted scores."""
    return ("random", config.seed) if config.criterion == "random" else config.criterion


class ScoreStore:
    """The weight and unit scores of a model's prunable layers, sorted lazily, by score key and layer."""

    def __init__(self, layers: list[PrunableLayer]):
        self.layers = list(layers)
        self.by_name = {layer.name: layer for layer in self.layers}
        self.groups: dict[str, list[PrunableLayer]] = {}  # unit group -> its tensors, in model order
        for layer in self.layers:
            if layer.units:
                self.groups.setdefault(layer.group, []).append(layer)
        self.unit_norms = self._group_unit_norms()
        # (score key, layer name) -> ...
        self.unit_ranks = {(MAGNITUDE, name): ranks_of(norms) for name, norms in self.unit_norms.items()}
        self._unit_scores = {(MAGNITUDE, name): norms for name, norms in self.unit_norms.items()}
        self.sorted: dict[tuple, MagnitudeOrder] = {}  # ascending scores
        self._score_matrices: dict[tuple, np.ndarray] = {}  # float32 (fan_in, units), not for magnitude
        self._zero_positions: dict[str, np.ndarray] = {}  # flat indices of the zero weights
        self._global_unit_ranks: dict = {}
        self.taylor: criteria.TaylorScores | None = None
        # caches of others keyed by tuples whose first item is a score key, forgotten with the scores
        self._dependents: list[dict] = []
        self.lock = threading.Lock()  # held while scores are forgotten, and by dependents' users
        self.version = 0
        self._warming = threading.local()  # set on a thread computing ahead: it never computes scores

    def add_dependent(self, cache: dict) -> None:
        """Forget ``cache``'s entries (keys: tuples starting with a score key) with the scores they came from."""
        self._dependents.append(cache)

    # -- the thread that computes ahead ---------------------------------------------------------
    def computing_ahead(self) -> bool:
        """Whether this thread prunes by ``warm_up``'s rules (a warm-up, a prepared step)."""
        return getattr(self._warming, "active", False)

    def refuse_on_warm_up(self) -> None:
        """Scores are computed or sorted on the thread that asks for a config, never by warm_up:
        its config may be stale by then, and computing them would forget the current ones."""
        if self.computing_ahead():
            raise StaleWarmUp

    @contextmanager
    def ahead_of_the_configuring_thread(self):
        """Prune on this thread by ``warm_up``'s rules: computing or sorting scores raises StaleWarmUp."""
        self._warming.active = True
        try:
            yield
        finally:
            self._warming.active = False

    # -- weight scores --------------------------------------------------------------------------
    def prepare(self, name: str, key=MAGNITUDE) -> None:
        """Count the layer's scores (|w| for magnitude) in one pass, so that any k's threshold is a
        lookup (done lazily; call it to warm a layer up)."""
        if (key, name) in self.sorted:
            return
        self.refuse_on_warm_up()
        matrix = self.score_source(key, name)
        self.sorted[key, name] = MagnitudeOrder(lambda: (rows for _, rows in row_blocks(matrix)))

    def sorted_scores(self, name: str, key=MAGNITUDE) -> MagnitudeOrder:
        self.prepare(name, key)
        return self.sorted[key, name]

    def score_source(self, key, name: str) -> np.ndarray:
        """The (fan_in, units) matrix whose |values| are the layer's weight scores."""
        layer = self.by_name[name]
        if key == MAGNITUDE:
            return layer.as_matrix(layer.original)
        found = self._score_matrices.get((key, name))
        if found is None:
            self.refuse_on_warm_up()
            shape = (layer.rows, layer.columns)
            if key == "lamp":
                found = criteria.lamp_scores(layer.as_matrix(layer.original))
            elif key == "taylor":
                found = np.asarray(self.taylor.scores[name], np.float32).reshape(shape)
            else:
                self._forget_other_seeds(key)
                found = criteria.random_scores(shape, key[1], name)
            found.flags.writeable = False
            self._score_matrices[key, name] = found
        return found

    def zeros_per_unit(self, name: str) -> np.ndarray:
        """How many original weights are zero in each unit (counted when the layer was opened)."""
        return self.sorted_scores(name).column_zeros

    def zero_flat_indices(self, name: str) -> np.ndarray:
        found = self._zero_positions.get(name)
        if found is None:
            layer = self.by_name[name]
            found = np.concatenate(
                [
                    r0 * layer.columns + np.flatnonzero(block == 0)
                    for r0, block in row_blocks(layer.as_matrix(layer.original))
                ]
                or [np.zeros(0, np.int64)]
            )
            self._zero_positions[name] = found
        return found

    # -- unit scores ----------------------------------------------------------------------------
    def _group_unit_norms(self) -> dict[str, np.ndarray]:
        """Each tensor's unit norms: the L2 norm of each unit's entries across its whole group (a
        Dense or Conv kernel is a group of one: the norm of its column)."""
        norms = {}
        for members in self.groups.values():
            if len(members) == 1 and not members[0].mapped:
                # the norms of its matrix view's columns: a depthwise kernel's are not its last axis
                found = unit_norms(members[0].as_matrix(members[0].original))
            else:
                found = np.sqrt(sum(unit_sums(m, m.as_matrix(m.original), square=True) for m in members))
            for member in members:
                norms[member.name] = found
        for layer in self.layers:
            norms.setdefault(layer.name, np.zeros(0, np.float64))
        return norms

    def group_of(self, name: str) -> str:
        return self.by_name[name].group

    def unit_total(self, names) -> int:
        """How many units ``names`` hold, each group counted once."""
        return sum(self.by_name[m[0]].units for m in self._groups_of(names))

    def _groups_of(self, names) -> list[tuple[str, ...]]:
        """``names`` by unit group, in order: the first of each is the group's representative."""
        found: dict[str, list[str]] = {}
        for name in names:
            found.setdefault(self.by_name[name].group, []).append(name)
        return [tuple(members) for members in found.values()]

    def unit_score(self, key, name: str) -> np.ndarray:
        """The layer's unit scores (float64), those of its whole unit group: the lowest are pruned first."""
        found = self._unit_scores.get((key, name))
        if found is None:
            self.refuse_on_warm_up()
            layer = self.by_name[name]
            members = self.groups.get(layer.group, [layer])
            if key == "lamp":
                if len(members) == 1 and not layer.mapped:
                    found = criteria.lamp_unit_scores(self.unit_norms[name], layer.fan_in)
                else:
                    entries = sum(unit_entries(m) for m in members)
                    found = np.asarray(self.unit_norms[name], np.float64) / np.sqrt(np.maximum(entries, 1))
            elif key == "taylor":
                if len(members) == 1 and not layer.mapped:
                    found = criteria.unit_sums(self.score_source(key, name))
                else:
                    found = sum(unit_sums(m, self.score_source(key, m.name)) for m in members)
            else:
                self._forget_other_seeds(key)
                found = criteria.random_unit_scores(layer.units, key[1], members[0].name)
            for member in members:
                self._unit_scores[key, member.name] = found
                self.unit_ranks[key, member.name] = ranks_of(found)
        return found

    def global_unit_ranks(self, names: tuple[str, ...], key=MAGNITUDE):
        """The ranks of ``names``' units in their joint order (name -> ranks), and the joint scores sorted."""
        cache_key = ("unit", key, names)
        found = self._global_unit_ranks.get(cache_key)
        if found is None:
            self.refuse_on_warm_up()  # made from the scores on the configuring thread, never from stale ones
            groups = self._groups_of(names)  # a unit group's units are ranked once
            joined = np.concatenate([self.unit_score(key, members[0]) for members in groups] or [np.zeros(0)])
            ranks = ranks_of(joined)
            out, start = {}, 0
            for members in groups:
                units = self.by_name[members[0]].units
                for n in members:
                    out[n] = ranks[start : start + units]
                start += units
            found = self._global_unit_ranks[cache_key] = (out, np.sort(joined))
        return found

    # -- replacing and forgetting ---------------------------------------------------------------
    def set_taylor(self, scores: criteria.TaylorScores) -> None:
        self.forget("taylor")
        self.taylor = scores
        self.version += 1

    def forget(self, key) -> None:
        """Drop the scores of ``key`` (or, for a callable, of every key it accepts) and what was sorted from them."""
        unwanted = key if callable(key) else (lambda cached: cached == key)
        with self.lock:
            dropped = False
            for cache in (self.sorted, self._score_matrices, self._unit_scores, self.unit_ranks, *self._dependents):
                for cached in [c for c in cache if unwanted(c[0])]:
                    del cache[cached]
                    dropped = True
            self._global_unit_ranks.clear()
            if dropped:
                self.version += 1

    def _forget_other_seeds(self, key) -> None:
        """Keep the random scores of one seed only: a seed spin box would otherwise pile them up."""
        self.forget(lambda cached: isinstance(cached, tuple) and cached != key)
