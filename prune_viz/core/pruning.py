"""Non-destructive weight and unit pruning: configs become typed plans, plans become kernels.

Weights are ordered by a stable ascending sort of |w| (ties go to the lower flat
index); pruning k% zeroes the first n of that order. That order is never built:
``magnitudes.MagnitudeOrder`` counts |w| in buckets in one pass and sorts a group of
buckets only when a k falls in it. The n-th value is the threshold t, and the layer's ``WeightPlan``
(``prune_viz.core.plan``, which states the rules) prunes |w| < t plus, when the
cut falls inside a run of weights equal to t, the ties before a cut flat index.
Per-layer counts come from the sorted values and a few per-unit numbers,
without scanning the masks. Masks and kernels are built lazily; ``apply``
writes big kernels in row blocks so that no full-size temporary exists. Every
k is computed from the originals, in any order, and restoring is exact.

Counts: weight pruning zeroes round(n*k/100) weights of a matrix (or of all
selected matrices together, for global scope); unit pruning zeroes
round(units*k/100) output units, ranked by the L2 norm of their incoming
weights. ``round`` is half-up, so k=50 of 5 units prunes 3.

Other criteria (``prune_viz.core.criteria``: random, LAMP, Taylor) replace |w| and
the unit norm by their scores; the sorting, rounding and tie rules stay the same.
Unit mode "remove" also zeroes a pruned unit's bias and the gamma and beta of a
BatchNormalization right after its layer (``PrunableLayer.unit_vectors``), so
the unit outputs exactly 0; the originals of those are kept and restored too.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np

from prune_viz.core import criteria
from prune_viz.core.errors import UserError
from prune_viz.core.layers import PrunableLayer
from prune_viz.core.magnitudes import MagnitudeOrder, abs_bits
from prune_viz.core.plan import LayerPlan, UnitPlan, WeightPlan
from prune_viz.core.row_blocks import BLOCK_ELEMENTS, row_blocks, write_rows
from prune_viz.core.shared_buffers import tensor_view
from prune_viz.core.tasks import TaskState

METHODS = ("weight", "unit")
SCOPES = ("layer", "global")
CRITERIA = ("magnitude", "random", "lamp", "taylor")
MAGNITUDE = "magnitude"
# kernel: zero the unit's kernel column (a unit with a bias still outputs a constant);
# remove: also zero its bias and the channel of a BatchNormalization right after it
UNIT_MODES = ("kernel", "remove")
SLIDER_KS = range(0, 101)  # the k a slider step can reach: warm_up computes their plans ahead
FUSED_FROM = 1 << 20  # kernels of this many weights and more are written by XLA kernels, smaller ones by eager ops
READ_AHEAD_KS = 4  # neighbouring ks whose thresholds' groups a warm-up reads in one pass (what the cache keeps)
REMEMBERED_PLANS = 8192  # plans (and joint thresholds) kept: a few methods' and scopes' worth of SLIDER_KS


class PruningError(UserError, ValueError):
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


def _joint_bucket(starts: np.ndarray, n: int) -> int:
    """The bucket holding the n-th (1-based) smallest score of a joint order, from its bucket starts."""
    return int(np.searchsorted(starts, n, side="left")) - 1


def _runs_from(k: float) -> list[list[int]]:
    """SLIDER_KS in runs of READ_AHEAD_KS neighbours, the runs nearest to ``k`` first, on both sides in
    turn: a warm-up reads the groups of a run's thresholds in one pass."""
    above = [x for x in SLIDER_KS if x >= k]
    below = [x for x in reversed(SLIDER_KS) if x < k]
    sides = [[side[i : i + READ_AHEAD_KS] for i in range(0, len(side), READ_AHEAD_KS)] for side in (above, below)]
    return [run for pair in itertools.zip_longest(*sides) for run in pair if run]


@dataclass(frozen=True)
class PruningConfig:
    method: str = "weight"
    k: float = 0.0
    scope: str = "layer"
    included: frozenset[str] = field(default_factory=frozenset)
    criterion: str = "magnitude"
    unit_mode: str = "kernel"
    seed: int = 0  # of the random criterion


    def __post_init__(self):
        for name, value, allowed in (("method", self.method, METHODS), ("scope", self.scope, SCOPES),
                                     ("criterion", self.criterion, CRITERIA),
                                     ("unit mode", self.unit_mode, UNIT_MODES)):
            if value not in allowed:
                raise PruningError(f"{name} must be one of {', '.join(allowed)}, not {value!r}.")
        object.__setattr__(self, "k", parse_k(self.k))
        object.__setattr__(self, "included", frozenset(self.included))
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise PruningError(f"seed must be a whole number from 0, not {self.seed!r}.")
        object.__setattr__(self, "seed", int(self.seed))

    def with_k(self, k: float) -> PruningConfig:
        """The same settings at another k (criterion, unit mode and seed carry through)."""
        return replace(self, k=k)

    @property
    def file_tag(self) -> str:
        """The settings in a file name: e.g. "unit-k50", "weight-k90-lamp", "unit-k50-random3-remove"."""
        tag = f"{self.method}-k{self.k:g}"
        if self.criterion != "magnitude":
            tag += f"-{self.criterion}" + (str(self.seed) if self.criterion == "random" else "")
        return tag + ("-remove" if self.removes_units else "")

    @property
    def removes_units(self) -> bool:
        return self.method == "unit" and self.unit_mode == "remove"

    def as_dict(self) -> dict:
        """The settings as JSON-ready fields, for every result that says how it was pruned."""
        fields = {"method": self.method, "k": self.k, "scope": self.scope, "criterion": self.criterion,
                  "unit_mode": self.unit_mode}
        if self.criterion == "random":
            fields["seed"] = self.seed
        return fields

    def describe(self, with_k: bool = True) -> str:
        """The settings in words; ``with_k=False`` for a result that spans many k (a scan)."""
        scope = "layerwise" if self.scope == "layer" else "global"
        words = [f"{self.method} pruning", f"k={self.k:g}%", scope] if with_k else [f"{self.method} pruning", scope]
        if self.criterion != "magnitude":
            words.insert(1, f"{self.criterion} scores" + (f" (seed {self.seed})" if self.criterion == "random" else ""))
        if self.method == "unit":
            words.append("units removed with bias and BN channel" if self.unit_mode == "remove"
                         else "unit kernel columns zeroed")
        return ", ".join(words)


def _ranks(values: np.ndarray) -> np.ndarray:
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
    matrix = original.reshape(-1, original.shape[-1])
    squares = np.zeros(matrix.shape[1], np.float64)
    for _, rows in row_blocks(matrix):
        squares += np.einsum("ij,ij->j", rows, rows, dtype=np.float64)
    return np.sqrt(squares)


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

    @property
    def sparsity(self) -> float:
        return self.zeros / self.size if self.size else 0.0


@dataclass
class PruneResult:
    config: PruningConfig
    kernels: dict  # name -> tf.Tensor, the pruned kernel
    masks: dict  # name -> tf.Tensor of bool, True where the weight is kept
    layers: list[LayerResult]
    plans: dict[str, LayerPlan]  # included layer name -> how this result prunes it (and its threshold)

    @property
    def prunable_size(self) -> int:
        return sum(layer.size for layer in self.layers)

    @property
    def prunable_zeros(self) -> int:
        return sum(layer.zeros for layer in self.layers)

    @property
    def vector_entries(self) -> int:
        """Non-zero biases and BatchNormalization parameters that removed units zeroed."""
        return sum(layer.vector_entries for layer in self.layers)

    @property
    def prunable_sparsity(self) -> float:
        return self.prunable_zeros / self.prunable_size if self.prunable_size else 0.0

    def included_sparsity(self) -> float:
        chosen = [layer for layer in self.layers if layer.name in self.config.included]
        size = sum(layer.size for layer in chosen)
        return sum(layer.zeros for layer in chosen) / size if size else 0.0

    def layer(self, name: str) -> LayerResult:
        return next(layer for layer in self.layers if layer.name == name)

    def threshold(self, name: str) -> float | None:
        """The score (|w| or unit norm for magnitude) at or below which ``name`` is pruned, None
        when the layer is excluded or nothing is pruned; the same for all layers with global scope."""
        plan = self.plans.get(name)
        return plan.threshold if plan is not None else None

    def removed_units(self, name: str) -> np.ndarray | None:
        """Bool per unit of ``name``, True where the unit is removed with its bias and BN channel;
        None unless this result removes units there (unit mode "remove")."""
        plan = self.plans.get(name)
        if not self.config.removes_units or not isinstance(plan, UnitPlan):
            return None
        return ~plan.kept_units


def _exactly(value: float | None):
    """A float32 value as a dict key: its bits (a NaN equals itself)."""
    return None if value is None else np.float32(value).view(np.uint32).item()


class _StaleWarmUp(Exception):
    """warm_up met scores that are not sorted (yet, or any longer): its config is not current."""


class Pruner:
    """Owns the originals and sorted magnitudes of a model's prunable layers and turns configs into kernels."""

    def __init__(self, layers: list[PrunableLayer]):
        import tensorflow as tf

        self._tf = tf
        self.layers = list(layers)
        self._by_name = {layer.name: layer for layer in self.layers}
        # big kernels are read from layer.original block by block; the others as tensors that share
        # layer.original's buffer where it is aligned (TensorFlow copies before it writes into a
        # buffer it shares, and these tensors are never written)
        self._originals = {layer.name: tensor_view(layer.original) for layer in self.layers
                           if not self._blocked(layer)}
        self._unit_norms = {layer.name: unit_norms(layer.original) for layer in self.layers}
        self._unit_ranks = {(MAGNITUDE, name): _ranks(norms) for name, norms in self._unit_norms.items()}
        self._unit_scores = {(MAGNITUDE, name): norms for name, norms in self._unit_norms.items()}
        # score key (MAGNITUDE, "lamp", "taylor" or ("random", seed)) and layer name -> ...
        self._sorted: dict[tuple, MagnitudeOrder] = {}  # ascending scores
        self._score_matrices: dict[tuple, np.ndarray] = {}  # float32 (fan_in, units), not for magnitude
        self._zero_positions: dict[str, np.ndarray] = {}  # flat indices of the zero weights
        self.taylor: criteria.TaylorScores | None = None
        self._global_cache: dict = {}
        self._fused: dict | None = None  # the XLA block kernels once used, {} when XLA failed
        # weight plans with their layer counts, and joint thresholds, by score key, layer(s) and n:
        # each costs a group read per big layer, which warm_up does ahead, off the GUI thread;
        # unit plans with their counts too, when warm_up computes them
        self._remembered: OrderedDict[tuple, object] = OrderedDict()
        self._remembered_lock = threading.Lock()  # also held while scores are forgotten
        self._unpruned: dict[str, LayerResult] = {}  # counts of a layer left unpruned, by name
        self._warming = threading.local()  # set on a thread running warm_up: it never computes scores

    @staticmethod
    def _blocked(layer: PrunableLayer) -> bool:
        return layer.size > BLOCK_ELEMENTS and len(layer.shape) == 2 and layer.fan_in > 1

    # -- per-layer numbers, computed once -------------------------------------------------------
    def prepare(self, name: str, key=MAGNITUDE) -> None:
        """Count the layer's scores (|w| for magnitude) in one pass, so that any k's threshold is a
        lookup (done lazily; call it to warm a layer up)."""
        if (key, name) in self._sorted:
            return
        self._refuse_on_warm_up()
        matrix = self._score_source(key, name)
        self._sorted[key, name] = MagnitudeOrder(lambda: (rows for _, rows in row_blocks(matrix)))

    def _zeros_per_unit(self, name: str) -> np.ndarray:
        """How many original weights are zero in each unit (counted when the layer was opened)."""
        return self._sorted_abs(name).column_zeros

    def _last_max_before_cut(self, name: str, key, plan: WeightPlan):
        """Per unit, whether the last weight holding its largest score lies before the plan's cut
        (what ``WeightPlan.pruned_where`` reads for the units whose largest score is the threshold)."""
        if not 0 < plan.cut < plan.size:
            return False
        layer = self._by_name[name]
        ties = self._sorted_abs(name, key).positions_equal(plan.threshold)
        last = np.full(layer.units, -1, np.int64)
        np.maximum.at(last, ties % layer.units, ties)
        return last < plan.cut

    def _sorted_abs(self, name: str, key=MAGNITUDE) -> MagnitudeOrder:
        self.prepare(name, key)
        return self._sorted[key, name]

    # -- criteria -------------------------------------------------------------------------------
    @staticmethod
    def score_key(config: PruningConfig):
        """Which scores ``config`` thresholds: equal keys share sorted scores."""
        return ("random", config.seed) if config.criterion == "random" else config.criterion

    def set_taylor_scores(self, scores: criteria.TaylorScores) -> None:
        """Hand over the Taylor scores of every prunable layer (computed by criteria.taylor_scores)."""
        missing = {layer.name for layer in self.layers} - scores.scores.keys()
        if missing:
            raise PruningError(f"The Taylor scores lack layer {', '.join(sorted(missing))}.")
        self._forget("taylor")
        self.taylor = scores

    def _forget(self, key) -> None:
        """Drop the scores of ``key`` (or, for a callable, of every key it accepts) and what was sorted from them."""
        unwanted = key if callable(key) else (lambda cached: cached == key)
        with self._remembered_lock:
            for cache in (self._sorted, self._score_matrices, self._unit_scores, self._unit_ranks,
                          self._remembered):
                for cached in [c for c in cache if unwanted(c[0])]:
                    del cache[cached]
            self._global_cache.clear()

    def _forget_other_seeds(self, key) -> None:
        """Keep the random scores of one seed only: a seed spin box would otherwise pile them up."""
        self._forget(lambda cached: isinstance(cached, tuple) and cached != key)

    def _check_scores(self, config: PruningConfig) -> None:
        if config.criterion == "taylor" and self.taylor is None:
            raise PruningError("Taylor scores need training images: compute them first (they are "
                               "computed once per model and data source).")

    def _score_source(self, key, name: str) -> np.ndarray:
        """The (fan_in, units) matrix whose |values| are the layer's weight scores."""
        layer = self._by_name[name]
        if key == MAGNITUDE:
            return layer.as_matrix(layer.original)
        found = self._score_matrices.get((key, name))
        if found is None:
            self._refuse_on_warm_up()
            shape = (layer.fan_in, layer.units)
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

    def _unit_score(self, key, name: str) -> np.ndarray:
        """The layer's unit scores (float64): the lowest are pruned first."""
        found = self._unit_scores.get((key, name))
        if found is None:
            self._refuse_on_warm_up()
            layer = self._by_name[name]
            if key == "lamp":
                found = criteria.lamp_unit_scores(self._unit_norms[name], layer.fan_in)
            elif key == "taylor":
                found = criteria.unit_sums(self._score_source(key, name))
            else:
                self._forget_other_seeds(key)
                found = criteria.random_unit_scores(layer.units, key[1], name)
            self._unit_scores[key, name] = found
            self._unit_ranks[key, name] = _ranks(found)
        return found

    def scores(self, name: str, config: PruningConfig) -> MagnitudeOrder:
        """The layer's weight scores under ``config``'s criterion, ascending (for histograms)."""
        self._check_scores(config)
        return self._sorted_abs(name, self.score_key(config))

    def unit_scores(self, name: str, config: PruningConfig) -> np.ndarray:
        """The layer's unit scores under ``config``'s criterion (float64)."""
        self._check_scores(config)
        return self._unit_score(self.score_key(config), name)

    def magnitudes(self, name: str) -> MagnitudeOrder:
        """The layer's |w| in ascending order (for histograms and order statistics without a copy)."""
        return self._sorted_abs(name)

    def unit_norms(self, name: str) -> np.ndarray:
        """The L2 norm of each unit's incoming original weights (float64, computed once)."""
        return self._unit_norms[name]

    def _weight_plan(self, name: str, n: int, threshold: float | None, key=MAGNITUDE) -> WeightPlan:
        """The plan pruning the first n weights of the layer's stable score order; ``threshold``
        is the score of the n-th (for global scope: of the joint order), None when nothing is pruned."""
        layer = self._by_name[name]
        scores = None if key == MAGNITUDE else self._score_source(key, name)
        if threshold is None:
            return WeightPlan(self._matrix_shape(name), 0, None, 0, scores)
        ordered = self._sorted_abs(name, key)
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

    def _tie_index(self, name: str, t, m: int, score_key=MAGNITUDE) -> int:
        """Flat index of the m-th (1-based) weight with score == t, in flat order."""
        return int(self._sorted_abs(name, score_key).positions_equal(t)[m - 1])

    def _threshold_at(self, name: str, n: int, key=MAGNITUDE) -> float | None:
        """The layer's n-th smallest score (the threshold pruning n of its weights), None for n = 0."""
        return float(self._sorted_abs(name, key).value_at(n - 1)) if n else None

    def _weight_plan_counted(self, name: str, n: int, threshold: float | None, key) -> tuple[WeightPlan, LayerResult]:
        plan = self._weight_plan(name, n, threshold, key)
        return plan, self._layer_result(self._by_name[name], plan, key)

    def _remember(self, memo_key: tuple, compute, sources: list[tuple], scores: dict | None = None,
                  keep: bool = True):
        """``compute()``, kept under ``memo_key`` (its first item the score key) while the scores it
        came from (``sources``: (score key, layer) pairs of ``scores``: the sorted scores unless given,
        the unit ranks for unit plans) are the current ones; looked up only, not kept, unless ``keep``."""
        scores = self._sorted if scores is None else scores
        with self._remembered_lock:
            found = self._remembered.get(memo_key)
            if found is not None:
                self._remembered.move_to_end(memo_key)
                return found
            orders = [scores.get(source) for source in sources]
        found = compute()  # outside the lock: the GUI thread never waits for a warm-up's group read
        with self._remembered_lock:
            # scores forgotten meanwhile (a new seed, new Taylor scores) would make it a wrong answer
            if keep and all(order is not None and scores.get(source) is order
                            for source, order in zip(sources, orders)):
                self._remembered[memo_key] = found
                while len(self._remembered) > REMEMBERED_PLANS:
                    self._remembered.popitem(last=False)
        return found

    def _computing_ahead(self) -> bool:
        """Whether this thread prunes by ``warm_up``'s rules (a warm-up, a prepared step)."""
        return getattr(self._warming, "active", False)

    def _refuse_on_warm_up(self) -> None:
        """Scores are computed or sorted on the thread that asks for a config, never by warm_up:
        its config may be stale by then, and computing them would forget the current ones."""
        if self._computing_ahead():
            raise _StaleWarmUp

    def needs_warm_up(self, config: PruningConfig) -> bool:
        """Whether slider steps of ``config`` gain from ``warm_up``: unit pruning (its plans and
        counts, a few NumPy calls per layer, become lookups), and weight pruning of a layer big
        enough that a threshold reads one of its groups of buckets (a pass over its weights)."""
        if not config.included <= self._by_name.keys():  # another model's config
            return False
        if config.method == "unit":
            return True
        names = self.check_included(config.included)
        key = self.score_key(config)
        return any(not (order := self._sorted.get((key, name))) or not order.sorted_whole for name in names)

    def warm_up(self, config: PruningConfig, task: TaskState | None = None) -> int:
        """Compute ahead the plans of ``config`` at every k of SLIDER_KS, in runs of neighbours
        nearest to ``config.k`` first (``_runs_from``), so that a slider step is lookups; returns
        how many k were done. For a thread other than the one that configures: it stops quietly at
        the first k whose scores are not sorted yet, or no longer (the caller's config changed),
        and at ``task``'s cancel."""
        task = task or TaskState()
        if not self.needs_warm_up(config):
            return 0
        done = 0
        try:
            with self._ahead_of_the_configuring_thread():
                for run in _runs_from(config.k):
                    if config.method == "weight":
                        self._read_ahead(config, run)
                    for k in run:
                        task.progress(done / len(SLIDER_KS), "Preparing the slider's steps")
                        self.prune(config.with_k(k))
                        done += 1
        except _StaleWarmUp:
            return done
        task.progress(1.0, "Preparing the slider's steps")
        return done

    def prepare_step(self, config: PruningConfig) -> bool:
        """Compute ``config``'s plans (one k) ahead, as ``warm_up`` does for every k and with its
        rules (for a thread other than the one that configures; it computes no scores), so that
        pruning ``config`` on that thread is lookups. False when its scores are not sorted (yet, or
        any longer): the caller's settings have moved on."""
        try:
            with self._ahead_of_the_configuring_thread():
                self.prune(config)
        except _StaleWarmUp:
            return False
        return True

    @contextmanager
    def _ahead_of_the_configuring_thread(self):
        """Prune on this thread by ``warm_up``'s rules: computing or sorting scores raises _StaleWarmUp."""
        self._warming.active = True
        try:
            yield
        finally:
            self._warming.active = False

    def _read_ahead(self, config: PruningConfig, ks: list[int]) -> None:
        """Read the groups of buckets that the weight plans of ``ks`` will ask for: one pass per
        layer for all of them (as many as its cache keeps), rather than a pass per k."""
        key = self.score_key(config)
        names = self.check_included(config.included)
        orders = [self._sorted_abs(name, key) for name in names]
        if config.scope == "global" and names:
            starts = np.sum([order.bucket_starts for order in orders], axis=0)
            counts = [count_to_prune(int(starts[-1]), k) for k in ks]
            buckets = [_joint_bucket(starts, n) for n in counts if 0 < n < starts[-1]]
            for order in orders:
                order.read_ahead(buckets)
            return
        for order in orders:
            order.read_ahead([order.bucket_of_rank(n - 1) for k in ks if (n := count_to_prune(len(order), k))])

    def _global_weight_counts(self, names: tuple[str, ...], n: int, key=MAGNITUDE) -> tuple[dict, float | None]:
        """How many of each layer's weights fall in the first n of the joint stable order
        (layers in model order, then flat index), and the joint threshold."""
        return self._remember((key, "joint", names, n), lambda: self._count_global_weights(names, n, key),
                              [(key, name) for name in names])

    def _count_global_weights(self, names: tuple[str, ...], n: int, key) -> tuple[dict, float | None]:
        arrays = [self._sorted_abs(name, key) for name in names]
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

    def _global_unit_ranks(self, names: tuple[str, ...], score_key=MAGNITUDE):
        key = ("unit", score_key, names)
        found = self._global_cache.get(key)
        if found is None:
            self._refuse_on_warm_up()  # made from the scores on the configuring thread, never from stale ones
            joined = np.concatenate([self._unit_score(score_key, n) for n in names])
            ranks = _ranks(joined)
            out, start = {}, 0
            for n in names:
                units = self._by_name[n].units
                out[n] = ranks[start : start + units]
                start += units
            found = self._global_cache[key] = (out, np.sort(joined))
        return found

    # -- the per-k work -------------------------------------------------------------------------
    def check_included(self, included: Iterable[str]) -> tuple[str, ...]:
        unknown = set(included) - self._by_name.keys()
        if unknown:
            raise PruningError(f"No prunable layer named {', '.join(sorted(unknown))}.")
        return tuple(layer.name for layer in self.layers if layer.name in set(included))

    def prune(self, config: PruningConfig) -> PruneResult:
        """Plans, counts and lazily built kernels and masks for ``config``; the model is not touched."""
        self._check_scores(config)
        key = self.score_key(config)
        names = self.check_included(config.included)
        plans: dict[str, LayerPlan] = {}
        counted: dict[str, LayerResult] = {}
        if config.method == "weight":
            if config.scope == "global" and names:
                counts, threshold = self._global_weight_counts(
                    names, count_to_prune(sum(self._by_name[n].size for n in names), config.k), key)
                for n in names:
                    plans[n], counted[n] = self._remember(
                        (key, "plan", n, counts[n], _exactly(threshold)),
                        lambda n=n: self._weight_plan_counted(n, counts[n], threshold, key), [(key, n)])
            else:
                for n in names:
                    n_pruned = count_to_prune(self._by_name[n].size, config.k)
                    plans[n], counted[n] = self._remember(
                        (key, "plan", n, n_pruned), lambda n=n, n_pruned=n_pruned: self._weight_plan_counted(
                            n, n_pruned, self._threshold_at(n, n_pruned, key), key), [(key, n)])
        else:
            removes = config.removes_units
            # kept when computed ahead only: kept from every step, these small objects left between a
            # step's big short-lived buffers held the heap's freed pages (bench/RESULTS.md)
            ahead = self._computing_ahead()
            for n in names:  # the scores a plan is kept with are there before it is computed
                self._unit_score(key, n)
            if config.scope == "global" and names:
                n_pruned = count_to_prune(sum(self._by_name[n].units for n in names), config.k)
                for n in names:
                    plans[n], counted[n] = self._remember(
                        (key, "unit", n, names, n_pruned, removes),
                        lambda n=n: self._global_unit_plan(n, names, n_pruned, key, removes),
                        [(key, m) for m in names], self._unit_ranks, keep=ahead)
            else:
                for n in names:
                    n_pruned = count_to_prune(self._by_name[n].units, config.k)
                    plans[n], counted[n] = self._remember(
                        (key, "unit", n, n_pruned, removes),
                        lambda n=n, n_pruned=n_pruned: self._layer_unit_plan(n, n_pruned, key, removes),
                        [(key, n)], self._unit_ranks, keep=ahead)
        results = [counted[layer.name] if layer.name in counted else self._unpruned_result(layer)
                   for layer in self.layers]
        masks = _LazyMasks(self, plans)
        return PruneResult(config, _LazyKernels(self, masks), masks, results, plans)

    def _layer_unit_plan(self, name: str, n_pruned: int, key, removes: bool) -> tuple[UnitPlan, LayerResult]:
        """The plan pruning the ``n_pruned`` lowest-scored units of ``name`` alone, and its counts."""
        scores, ranks = self._unit_score(key, name), self._unit_ranks.get((key, name))
        if ranks is None:  # forgotten since: only a warm-up's thread, whose settings are stale, gets here
            raise _StaleWarmUp
        # the strongest pruned unit's score: the one ranked n_pruned - 1 (no sort per k)
        threshold = float(scores.ravel()[np.argmax(ranks.ravel() == n_pruned - 1)]) if n_pruned else None
        return self._unit_plan_counted(name, ranks >= n_pruned, threshold, removes)

    def _global_unit_plan(self, name: str, names: tuple[str, ...], n_pruned: int, key,
                          removes: bool) -> tuple[UnitPlan, LayerResult]:
        """The plan of ``name`` when the ``n_pruned`` lowest-scored units of all ``names`` are pruned."""
        unit_ranks, sorted_all = self._global_unit_ranks(names, key)
        threshold = float(sorted_all[n_pruned - 1]) if n_pruned else None
        return self._unit_plan_counted(name, unit_ranks[name] >= n_pruned, threshold, removes)

    def _unit_plan_counted(self, name: str, kept_units: np.ndarray, threshold: float | None,
                           removes: bool) -> tuple[UnitPlan, LayerResult]:
        plan = UnitPlan(self._matrix_shape(name), kept_units, threshold)
        return plan, self._layer_result(self._by_name[name], plan, removes_units=removes)

    def _unpruned_result(self, layer: PrunableLayer) -> LayerResult:
        """The counts of a layer no plan prunes (its original zeros): the same for every config."""
        found = self._unpruned.get(layer.name)
        if found is None:
            found = self._unpruned[layer.name] = self._layer_result(layer, None)
        return found

    def _matrix_shape(self, name: str) -> tuple[int, int]:
        layer = self._by_name[name]
        return layer.fan_in, layer.units

    def _layer_result(self, layer: PrunableLayer, plan: LayerPlan | None, key=MAGNITUDE,
                      removes_units: bool = False) -> LayerResult:
        """Counts from the plan and the per-unit numbers: no pass over the weights."""
        zeros_per_unit = self._zeros_per_unit(layer.name)
        zeros = int(zeros_per_unit.sum())
        size, units = layer.size, layer.units
        if plan is None:
            return LayerResult(layer.name, 0, zeros, size, 0, units)
        if isinstance(plan, UnitPlan):
            kept_zeros = int(zeros_per_unit[plan.kept_units].sum())
            removed = ~plan.kept_units
            vectors = sum(int(np.count_nonzero(v.original[removed])) for v in layer.unit_vectors) \
                if removes_units else 0
            return LayerResult(layer.name, plan.pruned, plan.pruned + kept_zeros, size, plan.pruned_units, units,
                               vectors)
        # a unit is dead when its last weight in the order (its largest score, last of equals) is pruned
        column_max = self._sorted_abs(layer.name, key).column_max
        dead_units = int(np.count_nonzero(plan.pruned_where(column_max,
                                                            self._last_max_before_cut(layer.name, key, plan))))
        if key == MAGNITUDE:  # zeros have the smallest |w|, so they lead the order: pruned or zero = max(n, zeros)
            return LayerResult(layer.name, plan.pruned, max(plan.pruned, zeros), size, dead_units, units)
        # other scores put zero weights anywhere in the order: count the zeros the plan keeps
        at = self._zero_flat_indices(layer.name)
        scores = self._score_source(key, layer.name).ravel()[at]
        kept_zeros = int(np.count_nonzero(~plan.pruned_where(scores, at < plan.cut)))
        return LayerResult(layer.name, plan.pruned, plan.pruned + kept_zeros, size, dead_units, units)

    def _zero_flat_indices(self, name: str) -> np.ndarray:
        found = self._zero_positions.get(name)
        if found is None:
            layer = self._by_name[name]
            found = np.concatenate([r0 * layer.units + np.flatnonzero(block == 0)
                                    for r0, block in row_blocks(layer.as_matrix(layer.original))] or
                                   [np.zeros(0, np.int64)])
            self._zero_positions[name] = found
        return found

    # -- masks and kernels ----------------------------------------------------------------------
    def mask(self, name: str, plan: LayerPlan):
        """The plan's keep-mask of the whole kernel, as a bool tensor of the kernel's shape."""
        layer = self._by_name[name]
        return self._tf.constant(plan.kept(layer.as_matrix(layer.original)).reshape(layer.shape))

    def kernel(self, name: str, mask):
        original = self.original(name)
        return original if mask is None else self._tf.where(mask, original, self._tf.zeros((), original.dtype))

    # -- writing the model ----------------------------------------------------------------------
    def apply(self, result: PruneResult) -> None:
        """Write ``result``'s kernels into the model's variables (only from the one TF job thread)."""
        ours = isinstance(result.kernels, _LazyKernels) and result.kernels.pruner is self
        for layer in self.layers:
            plan = result.plans.get(layer.name) if ours else None
            if ours and self._blocked(layer):
                self._write_blocks(layer, plan)
            elif plan is not None:  # XLA compiles once per shape: worth it for big kernels only
                matrix = self._tf.reshape(self.original(layer.name), (layer.fan_in, layer.units))
                value = self._block_value(layer, plan, 0, matrix, fuse=layer.size >= FUSED_FROM)
                layer.variable.assign(self._tf.reshape(value, layer.shape))
            else:
                layer.variable.assign(result.kernels[layer.name])
            removed = result.removed_units(layer.name)
            for vector in layer.unit_vectors:
                vector.variable.assign(vector.original if removed is None or not removed.any()
                                       else self.vector_values(vector, removed))

    @staticmethod
    def vector_values(vector, removed: np.ndarray) -> np.ndarray:
        """A unit vector (bias, BN gamma or beta) with the removed units' entries zeroed."""
        return np.where(removed, vector.original.dtype.type(0), vector.original)

    def restore(self) -> None:
        """Put the original kernels, biases and BatchNormalization parameters back, bit for bit."""
        for layer in self.layers:
            if self._blocked(layer):
                self._write_blocks(layer, None)
            else:
                layer.variable.assign(self._originals[layer.name])
            for vector in layer.unit_vectors:
                vector.variable.assign(vector.original)

    def _write_blocks(self, layer: PrunableLayer, plan: LayerPlan | None) -> None:
        """Write the pruned kernel row block by row block, straight from the numpy originals;
        the mask and the select are one fused XLA kernel per block."""
        original = layer.original
        self._fused_kernels()  # made once, before the threads that use them
        write_rows(layer.variable, original.shape,
                   lambda r0, r1: self._block_value(layer, plan, r0, tensor_view(original[r0:r1])))

    def _block_value(self, layer: PrunableLayer, plan: LayerPlan, r0: int, rows, fuse: bool = True):
        """The pruned values of matrix rows r0:r0+len(rows), given the original ``rows``: the block
        ops fed the plan's numbers, as fused XLA kernels (``fuse``) or eager TF ops."""
        if plan is None or plan.pruned == 0:
            return rows
        if plan.pruned == layer.size:
            return np.zeros(tuple(rows.shape), layer.original.dtype)
        if fuse and self._fused_kernels():
            try:
                return self._select(layer, plan, r0, rows, self._fused)
            except self._tf.errors.OpError:  # no XLA in this TensorFlow build: the same ops, unfused
                self._fused = {}
        return self._select(layer, plan, r0, rows, _eager_block_ops())

    @staticmethod
    def _select(layer: PrunableLayer, plan: LayerPlan, r0: int, rows, ops: dict):
        if isinstance(plan, UnitPlan):
            return ops["unit"](rows, plan.kept_units)
        if plan.scores is not None or np.isnan(plan.threshold):  # scores that are not |w|, or the cut
            # among NaN weights: the plan's mask, in numpy
            window = slice(r0, r0 + len(rows))
            matrix = layer.as_matrix(layer.original)
            return np.where(plan.kept(matrix, rows=window), matrix[window], layer.original.dtype.type(0))
        threshold = np.float32(plan.threshold)
        if plan.prunes_every_tie:
            return ops["above"](rows, threshold)
        cut_row, cut_col = plan.cut_cell
        return ops["cut"](rows, threshold, np.int32(r0), np.int32(cut_row), np.int32(cut_col))

    def _fused_kernels(self) -> dict:
        """The XLA block kernels ({} once XLA has failed here)."""
        if self._fused is None:
            self._fused = _xla_block_kernels()
        return self._fused

    def original(self, name: str):
        """The original kernel as a TF tensor (a view of the numpy original where it is aligned)."""
        if name in self._originals:
            return self._originals[name]
        return tensor_view(self._by_name[name].original)


def _block_ops() -> dict:
    """Pruned values of a block of matrix rows from a plan's numbers, as TF ops (run eagerly, or
    compiled by ``_xla_block_kernels``): ``above`` prunes |w| <= t, ``cut`` prunes |w| < t and the
    |w| == t before the cut cell, ``unit`` prunes the columns not kept. NaN weights are kept."""
    import tensorflow as tf

    def above(block, t):  # three passes when run eagerly: the zero is a broadcast scalar
        return tf.where(tf.abs(block) <= t, tf.zeros((), block.dtype), block)

    def cut(block, t, r0, cut_row, cut_col):
        magnitude = tf.abs(block)
        rows = r0 + tf.range(tf.shape(block)[0])[:, None]
        cols = tf.range(tf.shape(block)[1])[None, :]
        before_cut = tf.logical_or(rows < cut_row, tf.logical_and(rows == cut_row, cols < cut_col))
        pruned = tf.logical_or(magnitude < t, tf.logical_and(magnitude == t, before_cut))
        return tf.where(pruned, tf.zeros((), block.dtype), block)

    def unit(block, kept):
        return tf.where(kept[None, :], block, tf.zeros((), block.dtype))

    return {"above": above, "cut": cut, "unit": unit}


_EAGER_OPS: dict = {}
_XLA_KERNELS: dict = {}


def _eager_block_ops() -> dict:
    if not _EAGER_OPS:
        _EAGER_OPS.update(_block_ops())
    return _EAGER_OPS


def _xla_block_kernels() -> dict:
    """Module-wide XLA-compiled block kernels (one trace per block shape, shared by all pruners).
    No AutoGraph: there is no Python control flow, and its conversion cache mixed these up."""
    if not _XLA_KERNELS:
        import tensorflow as tf

        _XLA_KERNELS.update({name: tf.function(op, jit_compile=True, autograph=False)
                             for name, op in _block_ops().items()})
    return _XLA_KERNELS


class _LazyMasks(Mapping):
    """name -> bool tensor (True = kept) for the included layers, built on first access."""

    def __init__(self, pruner: Pruner, plans: dict[str, LayerPlan]):
        self.pruner = pruner
        self._plans = plans
        self._built: dict = {}

    def __getitem__(self, name):
        if name not in self._plans:
            raise KeyError(name)
        if name not in self._built:
            self._built[name] = self.pruner.mask(name, self._plans[name])
        return self._built[name]

    def __contains__(self, name):
        return name in self._plans

    def __iter__(self):
        return iter(self._plans)

    def __len__(self):
        return len(self._plans)


class _LazyKernels(Mapping):
    """name -> pruned kernel tensor for every prunable layer, built on each access (not kept)."""

    def __init__(self, pruner: Pruner, masks: _LazyMasks):
        self.pruner = pruner
        self._masks = masks

    def __getitem__(self, name):
        if name not in self.pruner._by_name:
            raise KeyError(name)
        return self.pruner.kernel(name, self._masks.get(name))

    def __contains__(self, name):
        return name in self.pruner._by_name

    def __iter__(self):
        return iter(self.pruner._by_name)

    def __len__(self):
        return len(self.pruner._by_name)
