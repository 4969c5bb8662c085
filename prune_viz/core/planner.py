"""Configs become typed plans and layer counts (``prune_viz.core.plan`` states the rules).

Pure functions of the scores in a ``ScoreStore``, memoised: a plan and its counts are kept
(``Planner.remember``) while the scores they came from are the current ones. A big layer's
threshold costs a group read of its sorted scores; a warm-up computes them ahead, off the GUI
thread, so that a slider step is lookups.
"""

from __future__ import annotations

import itertools
import math
from collections import OrderedDict
from dataclasses import dataclass, replace

import numpy as np

from prune_viz.core import patterns
from prune_viz.core.layers import PrunableLayer
from prune_viz.core.magnitudes import abs_bits
from prune_viz.core.plan import BlockPlan, LayerPlan, NMPlan, UnitPlan, WeightPlan
from prune_viz.core.score_store import MAGNITUDE, ScoreStore, StaleWarmUp, ranks_of, score_key

SLIDER_KS = range(0, 101)  # the k a slider step can reach: warm_up computes their plans ahead
READ_AHEAD_KS = 4  # neighbouring ks whose thresholds' groups a warm-up reads in one pass (what the cache keeps)
REMEMBERED_PLANS = 8192  # plans (and joint thresholds) kept: a few methods' and scopes' worth of SLIDER_KS


def count_to_prune(total: int, k: float) -> int:
    """round(total*k/100), rounding halves up."""
    return min(total, int(math.floor(total * k / 100.0 + 0.5)))


def _joint_bucket(starts: np.ndarray, n: int) -> int:
    """The bucket holding the n-th (1-based) smallest score of a joint order, from its bucket starts."""
    return int(np.searchsorted(starts, n, side="left")) - 1


def runs_from(k: float) -> list[list[int]]:
    """SLIDER_KS in runs of READ_AHEAD_KS neighbours, the runs nearest to ``k`` first, on both sides in
    turn: a warm-up reads the groups of a run's thresholds in one pass."""
    above = [x for x in SLIDER_KS if x >= k]
    below = [x for x in reversed(SLIDER_KS) if x < k]
    sides = [[side[i : i + READ_AHEAD_KS] for i in range(0, len(side), READ_AHEAD_KS)] for side in (above, below)]
    return [run for pair in itertools.zip_longest(*sides) for run in pair if run]


def _exactly(value: float | None):
    """A float32 value as a dict key: its bits (a NaN equals itself)."""
    return None if value is None else np.float32(value).view(np.uint32).item()


@dataclass(frozen=True)
class LayerResult:
    """One layer's counts under a result (shared between results of the same plan: never changed)."""

    name: str
    pruned: int  # weights zeroed by the mask
    zeros: int  # weights equal to zero after pruning (includes weights that were zero already)
    size: int
    pruned_units: int  # units whose every weight is masked
    units: int
    vector_entries: int = 0  # non-zero bias and BatchNormalization entries zeroed with removed units
    group: str = ""  # its unit group: tensors of one group count their units once
    valid_nm: bool | None = None  # N:M pruning: whether the pruned tensor is valid N:M (None: not asked)
    pattern_note: str = ""  # N:M pruning: how its input axis is padded to a multiple of M ("" if not)

    @property
    def sparsity(self) -> float:
        return self.zeros / self.size if self.size else 0.0

    @property
    def cut_off(self) -> bool:
        """Every unit (or every weight) is pruned: nothing passes through the layer any more."""
        return bool(self.units and self.pruned_units >= self.units) or bool(self.size and self.pruned >= self.size)

    @property
    def cut_off_warning(self) -> str:
        return f"{self.name}: every unit is pruned; the model cannot pass anything through it."


class Planner:
    """Turns configs into plans and counts from a ScoreStore's scores, remembering what it computed."""

    def __init__(self, scores: ScoreStore):
        self.scores = scores
        self.layers = scores.layers
        self._by_name = scores.by_name
        # weight plans with their layer counts, and joint thresholds, by score key, layer(s) and n:
        # each costs a group read per big layer, which warm_up does ahead, off the GUI thread;
        # unit plans with their counts too, when warm_up computes them
        self._remembered: OrderedDict[tuple, object] = OrderedDict()
        scores.add_dependent(self._remembered)
        self._unpruned: dict[str, LayerResult] = {}  # counts of a layer left unpruned, by name

    def names(self, included) -> tuple[str, ...]:
        """The included layers' names, in model order."""
        return tuple(layer.name for layer in self.layers if layer.name in set(included))

    # -- the per-k work -------------------------------------------------------------------------
    def plan(self, config, names: tuple[str, ...]) -> tuple[dict[str, LayerPlan], list[LayerResult]]:
        """The plans of ``config``'s included layers (``names``, in model order) and the counts of every layer."""
        key = score_key(config)
        plans: dict[str, LayerPlan] = {}
        counted: dict[str, LayerResult] = {}
        # a tensor with its own k (config.layer_k) is pruned alone at it, under either scope
        shared = tuple(n for n in names if n not in config.layer_k) if config.scope == "global" else ()
        alone = tuple(n for n in names if n not in shared)
        if config.method in ("nm", "block"):
            for n in names:  # the scores a plan is kept with are there before it is computed
                self.scores.sorted_scores(n, key)
            if config.method == "nm":  # a fixed pattern: no k, so no k of its own either
                for n in names:
                    plans[n], counted[n] = self.remember(
                        (key, "nm", n, config.nm), lambda n=n: self._nm_plan(n, config.nm, key), [(key, n)]
                    )
            else:
                self._block_plans(config, shared, alone, key, plans, counted)
        elif config.method == "weight":
            if shared:
                counts, threshold = self._global_weight_counts(
                    shared, count_to_prune(sum(self._by_name[n].size for n in shared), config.k), key
                )
                for n in shared:
                    plans[n], counted[n] = self.remember(
                        (key, "plan", n, counts[n], _exactly(threshold)),
                        lambda n=n: self._weight_plan_counted(n, counts[n], threshold, key),
                        [(key, n)],
                    )
            for n in alone:
                n_pruned = count_to_prune(self._by_name[n].size, config.k_of(n))
                plans[n], counted[n] = self.remember(
                    (key, "plan", n, n_pruned),
                    lambda n=n, n_pruned=n_pruned: self._weight_plan_counted(
                        n, n_pruned, self._threshold_at(n, n_pruned, key), key
                    ),
                    [(key, n)],
                )
        else:
            removes = config.removes_units
            names = tuple(n for n in names if self._by_name[n].units)  # tensors without units: weight pruning only
            shared = tuple(n for n in shared if self._by_name[n].units)
            alone = tuple(n for n in alone if self._by_name[n].units)
            # kept when computed ahead only: kept from every step, these small objects left between a
            # step's big short-lived buffers held the heap's freed pages (bench/RESULTS.md)
            ahead = self.scores.computing_ahead()
            for n in names:  # the scores a plan is kept with are there before it is computed
                self.scores.unit_score(key, n)
            if shared:
                n_pruned = count_to_prune(self.scores.unit_total(shared), config.k)
                for n in shared:
                    plans[n], counted[n] = self.remember(
                        (key, "unit", n, shared, n_pruned, removes),
                        lambda n=n: self._global_unit_plan(n, shared, n_pruned, key, removes),
                        [(key, m) for m in shared],
                        self.scores.unit_ranks,
                        keep=ahead,
                    )
            for n in alone:
                n_pruned = count_to_prune(self._by_name[n].units, config.k_of(n))
                plans[n], counted[n] = self.remember(
                    (key, "unit", n, n_pruned, removes),
                    lambda n=n, n_pruned=n_pruned: self._layer_unit_plan(n, n_pruned, key, removes),
                    [(key, n)],
                    self.scores.unit_ranks,
                    keep=ahead,
                )
        results = [
            counted[layer.name] if layer.name in counted else self._unpruned_result(layer) for layer in self.layers
        ]
        return plans, results

    def remember(self, memo_key: tuple, compute, sources: list[tuple], scores: dict | None = None, keep: bool = True):
        """``compute()``, kept under ``memo_key`` (its first item the score key) while the scores it
        came from (``sources``: (score key, layer) pairs of ``scores``: the sorted scores unless given,
        the unit ranks for unit plans) are the current ones; looked up only, not kept, unless ``keep``."""
        scores = self.scores.sorted if scores is None else scores
        with self.scores.lock:
            found = self._remembered.get(memo_key)
            if found is not None:
                self._remembered.move_to_end(memo_key)
                return found
            orders = [scores.get(source) for source in sources]
        found = compute()  # outside the lock: the GUI thread never waits for a warm-up's group read
        with self.scores.lock:
            # scores forgotten meanwhile (a new seed, new Taylor scores) would make it a wrong answer
            if keep and all(
                order is not None and scores.get(source) is order for source, order in zip(sources, orders)
            ):
                self._remembered[memo_key] = found
                while len(self._remembered) > REMEMBERED_PLANS:
                    self._remembered.popitem(last=False)
        return found

    # -- what a step costs ----------------------------------------------------------------------
    def step_reads_weights(self, config) -> bool:
        """Whether a step of ``config`` not computed ahead reads a pass over a big layer's weights:
        weight pruning of a layer whose scores are not sorted whole (a threshold reads one of its
        groups of buckets). A unit step is a few NumPy calls per layer, cheap enough for any thread."""
        if config.method != "weight" or not config.included <= self._by_name.keys():  # or another model's
            return False
        key = score_key(config)
        return any(
            not (order := self.scores.sorted.get((key, name))) or not order.sorted_whole
            for name in self.names(config.included)
        )

    def needs_warm_up(self, config) -> bool:
        """Whether slider steps of ``config`` gain from ``warm_up``: unit pruning (its plans and
        counts, a few NumPy calls per layer, become lookups), and steps that read a big layer's weights."""
        if not config.included <= self._by_name.keys():  # another model's config
            return False
        return config.method == "unit" or self.step_reads_weights(config)

    def read_ahead(self, config, ks: list[int]) -> None:
        """Read the groups of buckets that the weight plans of ``ks`` will ask for: one pass per
        layer for all of them (as many as its cache keeps), rather than a pass per k."""
        key = score_key(config)
        names = self.names(config.included)
        orders = [self.scores.sorted_scores(name, key) for name in names]
        if config.scope == "global" and names:
            starts = np.sum([order.bucket_starts for order in orders], axis=0)
            counts = [count_to_prune(int(starts[-1]), k) for k in ks]
            buckets = [_joint_bucket(starts, n) for n in counts if 0 < n < starts[-1]]
            for order in orders:
                order.read_ahead(buckets)
            return
        for order in orders:
            order.read_ahead([order.bucket_of_rank(n - 1) for k in ks if (n := count_to_prune(len(order), k))])

    # -- pattern plans --------------------------------------------------------------------------
    def _nm_plan(self, name: str, nm: tuple[int, int], key) -> tuple[NMPlan, LayerResult]:
        """Keep the N highest scores of every group of M along the layer's input axis."""
        layer = self._by_name[name]
        run = patterns.input_run(layer)
        kept = patterns.nm_keep(self.scores.score_source(key, name), nm[0], nm[1], run)
        plan = NMPlan(self._matrix_shape(name), kept, nm, run, patterns.padding_note(layer.rows, run, nm[1]))
        original = layer.as_matrix(layer.original)
        valid = patterns.is_valid_nm(np.where(kept, original, 0), nm[0], nm[1], run)
        return plan, replace(self._layer_result(layer, plan), valid_nm=valid, pattern_note=plan.padding)

    def _block_norms(self, name: str, block: tuple[int, int], key) -> np.ndarray:
        return self.remember(
            (key, "block norms", name, block),
            lambda: patterns.block_norms(self.scores.score_source(key, name), block),
            [(key, name)],
        )

    def _block_plans(self, config, shared, alone, key, plans: dict, counted: dict) -> None:
        """k% of the blocks with the smallest L2 norm: of all ``shared`` tensors together (global scope),
        and of each tensor in ``alone`` at its own k."""
        block = config.block
        norms = {n: self._block_norms(n, block, key) for n in (*shared, *alone)}
        if shared:
            joined = np.concatenate([norms[n].ravel() for n in shared])
            n_pruned = count_to_prune(joined.size, config.k)
            ranks = self.remember(
                (key, "block ranks", shared, block), lambda: ranks_of(joined), [(key, n) for n in shared]
            )
            threshold = float(np.sort(joined)[n_pruned - 1]) if n_pruned else None
            start = 0
            for n in shared:
                size = norms[n].size
                kept = (ranks[start : start + size] >= n_pruned).reshape(norms[n].shape)
                start += size
                plans[n], counted[n] = self.remember(
                    (key, "block", n, block, "global", shared, n_pruned),
                    lambda n=n, kept=kept: self._block_plan_counted(n, kept, block, threshold),
                    [(key, n)],
                )
        for n in alone:
            n_pruned = count_to_prune(norms[n].size, config.k_of(n))
            plans[n], counted[n] = self.remember(
                (key, "block", n, block, n_pruned),
                lambda n=n, n_pruned=n_pruned: self._layer_block_plan(n, norms[n], n_pruned, block, key),
                [(key, n)],
            )

    def _layer_block_plan(self, name, norms, n_pruned, block, key) -> tuple[BlockPlan, LayerResult]:
        ranks = ranks_of(norms)
        threshold = float(norms.ravel()[np.argmax(ranks.ravel() == n_pruned - 1)]) if n_pruned else None
        return self._block_plan_counted(name, ranks >= n_pruned, block, threshold)

    def _block_plan_counted(self, name, kept_blocks, block, threshold) -> tuple[BlockPlan, LayerResult]:
        plan = BlockPlan(self._matrix_shape(name), kept_blocks, block, threshold)
        return plan, self._layer_result(self._by_name[name], plan)

    # -- unit plans -----------------------------------------------------------------------------
    def _layer_unit_plan(self, name: str, n_pruned: int, key, removes: bool) -> tuple[UnitPlan, LayerResult]:
        """The plan pruning the ``n_pruned`` lowest-scored units of ``name`` alone, and its counts."""
        scores, ranks = self.scores.unit_score(key, name), self.scores.unit_ranks.get((key, name))
        if ranks is None:  # forgotten since: only a warm-up's thread, whose settings are stale, gets here
            raise StaleWarmUp
        # the strongest pruned unit's score: the one ranked n_pruned - 1 (no sort per k)
        threshold = float(scores.ravel()[np.argmax(ranks.ravel() == n_pruned - 1)]) if n_pruned else None
        return self._unit_plan_counted(name, ranks >= n_pruned, threshold, removes)

    def _global_unit_plan(
        self, name: str, names: tuple[str, ...], n_pruned: int, key, removes: bool
    ) -> tuple[UnitPlan, LayerResult]:
        """The plan of ``name`` when the ``n_pruned`` lowest-scored units of all ``names`` are pruned."""
        unit_ranks, sorted_all = self.scores.global_unit_ranks(names, key)
        threshold = float(sorted_all[n_pruned - 1]) if n_pruned else None
        return self._unit_plan_counted(name, unit_ranks[name] >= n_pruned, threshold, removes)

    def _unit_plan_counted(
        self, name: str, kept_units: np.ndarray, threshold: float | None, removes: bool
    ) -> tuple[UnitPlan, LayerResult]:
        layer = self._by_name[name]
        plan = UnitPlan(self._matrix_shape(name), kept_units, threshold, layer.column_units, layer.row_units)
        return plan, self._layer_result(layer, plan, removes_units=removes)

    # -- weight plans ---------------------------------------------------------------------------
    def _weight_plan(self, name: str, n: int, threshold: float | None, key=MAGNITUDE) -> WeightPlan:
        """The plan pruning the first n weights of the layer's stable score order; ``threshold``
        is the score of the n-th (for global scope: of the joint order), None when nothing is pruned."""
        layer = self._by_name[name]
        scores = None if key == MAGNITUDE else self.scores.score_source(key, name)
        if threshold is None:
            return WeightPlan(self._matrix_shape(name), 0, None, 0, scores)
        ordered = self.scores.sorted_scores(name, key)
        t = np.float32(threshold)
        below = ordered.count_below(t)
        ties = ordered.count_at_most(t) - below
        taken = n - below  # how many of the weights equal to t are pruned, in flat order
        if taken == ties:
            cut = layer.size
        elif taken == 0:
            cut = 0
        else:
            cut = self._tie_index(name, t, taken, key) + 1
        return WeightPlan(self._matrix_shape(name), n, float(threshold), cut, scores)

    def _tie_index(self, name: str, t, m: int, key=MAGNITUDE) -> int:
        """Flat index of the m-th (1-based) weight with score == t, in flat order."""
        return int(self.scores.sorted_scores(name, key).positions_equal(t)[m - 1])

    def _threshold_at(self, name: str, n: int, key=MAGNITUDE) -> float | None:
        """The layer's n-th smallest score (the threshold pruning n of its weights), None for n = 0."""
        return float(self.scores.sorted_scores(name, key).value_at(n - 1)) if n else None

    def _weight_plan_counted(self, name: str, n: int, threshold: float | None, key) -> tuple[WeightPlan, LayerResult]:
        plan = self._weight_plan(name, n, threshold, key)
        return plan, self._layer_result(self._by_name[name], plan, key)

    def _global_weight_counts(self, names: tuple[str, ...], n: int, key=MAGNITUDE) -> tuple[dict, float | None]:
        """How many of each layer's weights fall in the first n of the joint stable order
        (layers in model order, then flat index), and the joint threshold."""
        return self.remember(
            (key, "joint", names, n), lambda: self._count_global_weights(names, n, key), [(key, name) for name in names]
        )

    def _count_global_weights(self, names: tuple[str, ...], n: int, key) -> tuple[dict, float | None]:
        arrays = [self.scores.sorted_scores(name, key) for name in names]
        total = sum(len(a) for a in arrays)
        if n == 0:
            return {name: 0 for name in names}, None
        if n >= total:  # the largest |w| in the order's sense: NaN above all (bit patterns order like it)
            largest = max((a.max() for a in arrays), key=lambda value: int(abs_bits(np.float32(value))[0]))
            return {name: len(a) for name, a in zip(names, arrays)}, float(largest)

        # the bucket holding the n-th smallest of the joint order, from the bucket counts alone; then
        # the exact value inside it (non-negative floats order like their bit patterns)
        starts = np.sum([a.bucket_starts for a in arrays], axis=0)
        bucket = _joint_bucket(starts, n)
        lows = np.concatenate([a.bucket(bucket)[0] for a in arrays])
        rank = n - int(starts[bucket]) - 1
        t = np.uint32((bucket << 16) | int(np.partition(lows, rank)[rank])).view(np.float32)
        below = [a.count_below(t) for a in arrays]
        remaining = n - sum(below)
        counts = {}
        for name, a, b in zip(names, arrays, below):
            equal = a.count_at_most(t) - b
            take = min(remaining, equal)
            remaining -= take
            counts[name] = b + take
        return counts, float(t)

    # -- counts ---------------------------------------------------------------------------------
    def _unpruned_result(self, layer: PrunableLayer) -> LayerResult:
        """The counts of a layer no plan prunes (its original zeros): the same for every config."""
        found = self._unpruned.get(layer.name)
        if found is None:
            found = self._unpruned[layer.name] = self._layer_result(layer, None)
        return found

    def _matrix_shape(self, name: str) -> tuple[int, int]:
        layer = self._by_name[name]
        return layer.rows, layer.columns

    def _last_max_before_cut(self, name: str, key, plan: WeightPlan):
        """Per unit, whether the last weight holding its largest score lies before the plan's cut
        (what ``WeightPlan.pruned_where`` reads for the units whose largest score is the threshold)."""
        if not 0 < plan.cut < plan.size:
            return False
        layer = self._by_name[name]
        ties = self.scores.sorted_scores(name, key).positions_equal(plan.threshold)
        last = np.full(layer.columns, -1, np.int64)
        np.maximum.at(last, ties % layer.columns, ties)
        return last < plan.cut

    def _dead_units(self, layer: PrunableLayer, plan: WeightPlan, key) -> int:
        """How many units a weight plan prunes whole."""
        if not layer.units:
            return 0
        if not layer.mapped:
            # a unit is dead when its last weight in the order (its largest score, last of equals) is pruned
            column_max = self.scores.sorted_scores(layer.name, key).column_max
            return int(
                np.count_nonzero(plan.pruned_where(column_max, self._last_max_before_cut(layer.name, key, plan)))
            )
        kept = plan.kept(layer.as_matrix(layer.original))  # slices of units: read the whole mask
        alive = np.zeros(layer.units, bool)
        for units_of, any_kept in ((layer.column_units, kept.any(0)), (layer.row_units, kept.any(1))):
            if units_of is not None:
                alive[units_of[(units_of >= 0) & any_kept]] = True
        return int(layer.units - np.count_nonzero(alive))

    def _layer_result(
        self, layer: PrunableLayer, plan: LayerPlan | None, key=MAGNITUDE, removes_units: bool = False
    ) -> LayerResult:
        """Counts from the plan and the per-unit numbers: no pass over the weights."""
        zeros_per_unit = self.scores.zeros_per_unit(layer.name)
        zeros = int(zeros_per_unit.sum())
        size, units = layer.size, layer.units
        if plan is None:
            return LayerResult(layer.name, 0, zeros, size, 0, units, group=layer.group)
        if isinstance(plan, (NMPlan, BlockPlan)):  # a mask: count from it
            kept = plan.kept()
            kept_zeros = int(np.count_nonzero(kept.ravel()[self.scores.zero_flat_indices(layer.name)])) if zeros else 0
            return LayerResult(
                layer.name, plan.pruned, plan.pruned + kept_zeros, size, _dead(layer, kept), units, group=layer.group
            )
        if isinstance(plan, UnitPlan):
            if plan.mapped:  # the zeros in the cells the plan keeps
                kept_zeros = (
                    0 if not zeros else int(np.count_nonzero(plan.kept() & (layer.as_matrix(layer.original) == 0)))
                )
            else:
                kept_zeros = int(zeros_per_unit[plan.kept_units].sum())
            removed = ~plan.kept_units
            vectors = (
                sum(int(np.count_nonzero(v.original[v.removed_entries(removed)])) for v in layer.unit_vectors)
                if removes_units
                else 0
            )
            return LayerResult(
                layer.name, plan.pruned, plan.pruned + kept_zeros, size, plan.pruned_units, units, vectors, layer.group
            )
        dead_units = self._dead_units(layer, plan, key)
        if key == MAGNITUDE:  # zeros have the smallest |w|, so they lead the order: pruned or zero = max(n, zeros)
            return LayerResult(
                layer.name, plan.pruned, max(plan.pruned, zeros), size, dead_units, units, group=layer.group
            )
        # other scores put zero weights anywhere in the order: count the zeros the plan keeps
        at = self.scores.zero_flat_indices(layer.name)
        scores = self.scores.score_source(key, layer.name).ravel()[at]
        kept_zeros = int(np.count_nonzero(~plan.pruned_where(scores, at < plan.cut)))
        return LayerResult(
            layer.name, plan.pruned, plan.pruned + kept_zeros, size, dead_units, units, group=layer.group
        )


def _dead(layer: PrunableLayer, kept: np.ndarray) -> int:
    """How many of ``layer``'s units a keep-mask of its matrix view prunes whole."""
    if not layer.units:
        return 0
    if not layer.mapped:
        return int(layer.columns - np.count_nonzero(kept.any(0)))
    alive = np.zeros(layer.units, bool)
    for units_of, any_kept in ((layer.column_units, kept.any(0)), (layer.row_units, kept.any(1))):
        if units_of is not None:
            alive[units_of[(units_of >= 0) & any_kept]] = True
    return int(layer.units - np.count_nonzero(alive))
