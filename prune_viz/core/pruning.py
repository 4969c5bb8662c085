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

``Pruner`` composes three parts, one job each: the scores (``core.score_store``),
the plans and counts made from them (``core.planner``) and the kernels written
from those (``core.kernel_writer``).

Counts: weight pruning zeroes round(n*k/100) weights of a matrix (or of all
selected matrices together, for global scope); unit pruning zeroes
round(units*k/100) output units, ranked by the L2 norm of their incoming
weights. ``round`` is half-up, so k=50 of 5 units prunes 3.

Other criteria (``prune_viz.core.criteria``: random, LAMP, Taylor) replace |w| and
the unit norm by their scores; the sorting, rounding and tie rules stay the same.
N:M pruning keeps the N highest-scoring weights of every group of M along each unit's inputs (k is
not used); block pruning zeroes the k% of b_r x b_c blocks with the smallest L2 norm of their
scores (``prune_viz.core.patterns`` states both rules).

A k per layer (``PruningConfig.layer_k``, name -> k) prunes each named tensor at its own k and the
others at the slider's k. Under global scope the named tensors are pruned alone at their own k and
the others share one threshold at the slider's k.
Unit mode "remove" also zeroes a pruned unit's bias and the gamma and beta of a
BatchNormalization right after its layer (``PrunableLayer.unit_vectors``), so
the unit outputs exactly 0; the originals of those are kept and restored too.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from prune_viz.core import criteria
from prune_viz.core.errors import UserError
from prune_viz.core.kernel_writer import FUSED_FROM, KernelWriter
from prune_viz.core.layers import PrunableLayer
from prune_viz.core.magnitudes import MagnitudeOrder
from prune_viz.core.patterns import DEFAULT_BLOCK, DEFAULT_NM, PatternError, block_text, check_block, check_nm, nm_text
from prune_viz.core.plan import LayerPlan, UnitPlan
from prune_viz.core.planner import (
    READ_AHEAD_KS,
    REMEMBERED_PLANS,
    SLIDER_KS,
    LayerResult,
    Planner,
    count_to_prune,
    runs_from,
)
from prune_viz.core.score_store import (
    MAGNITUDE,
    ScoreStore,
    StaleWarmUp,
    score_key,
    unit_norms,
)
from prune_viz.core.tasks import TaskState

__all__ = [
    "CONFIG_KEYS",
    "CRITERIA",
    "FUSED_FROM",
    "MAGNITUDE",
    "METHODS",
    "PATTERN_METHODS",
    "READ_AHEAD_KS",
    "REMEMBERED_PLANS",
    "SCOPES",
    "SLIDER_KS",
    "UNIT_MODES",
    "LayerKs",
    "LayerResult",
    "PruneResult",
    "Pruner",
    "PruningConfig",
    "PruningError",
    "count_to_prune",
    "parse_k",
    "unit_norms",
]

METHODS = ("weight", "unit", "nm", "block")
PATTERN_METHODS = ("nm", "block")  # structured patterns: N:M groups and blocks (core.patterns)
SCOPES = ("layer", "global")
CRITERIA = ("magnitude", "random", "lamp", "taylor")
# kernel: zero the unit's kernel column (a unit with a bias still outputs a constant);
# remove: also zero its bias and the channel of a BatchNormalization right after it
UNIT_MODES = ("kernel", "remove")


# the fields of PruningConfig.as_dict (and from_dict): every field but ``included``
CONFIG_KEYS = ("method", "k", "scope", "criterion", "unit_mode", "seed", "nm", "block", "layer_k")


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


class LayerKs(Mapping):
    """A read-only, hashable mapping of prunable tensor name -> k (each checked by ``parse_k``)."""

    __slots__ = ("_ks",)

    def __init__(self, ks: Mapping | Iterable = ()):
        pairs = ks.items() if isinstance(ks, Mapping) else ks
        checked = {}
        for name, k in pairs:
            if not isinstance(name, str) or not name:
                raise PruningError(f"A k per layer needs a layer name, not {name!r}.")
            checked[name] = parse_k(k)
        self._ks = dict(sorted(checked.items()))

    def __getitem__(self, name: str) -> float:
        return self._ks[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._ks)

    def __len__(self) -> int:
        return len(self._ks)

    def __hash__(self) -> int:
        return hash(tuple(self._ks.items()))

    def __repr__(self) -> str:
        return f"LayerKs({self._ks!r})"


@dataclass(frozen=True)
class PruningConfig:
    method: str = "weight"
    k: float = 0.0
    scope: str = "layer"
    included: frozenset[str] = field(default_factory=frozenset)
    criterion: str = "magnitude"
    unit_mode: str = "kernel"
    seed: int = 0  # of the random criterion
    nm: tuple[int, int] = DEFAULT_NM  # (N, M) of method "nm"
    block: tuple[int, int] = DEFAULT_BLOCK  # (rows, columns) of a block of method "block"
    # name -> k of prunable tensors pruned at their own k instead of ``k`` (a LayerKs; a dict is converted)
    layer_k: Mapping[str, float] = field(default_factory=LayerKs)

    def __post_init__(self):
        for name, value, allowed in (
            ("method", self.method, METHODS),
            ("scope", self.scope, SCOPES),
            ("criterion", self.criterion, CRITERIA),
            ("unit mode", self.unit_mode, UNIT_MODES),
        ):
            if value not in allowed:
                raise PruningError(f"{name} must be one of {', '.join(allowed)}, not {value!r}.")
        object.__setattr__(self, "k", parse_k(self.k))
        object.__setattr__(self, "included", frozenset(self.included))
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise PruningError(f"seed must be a whole number from 0, not {self.seed!r}.")
        object.__setattr__(self, "seed", int(self.seed))
        try:
            object.__setattr__(self, "nm", check_nm(self.nm))
            object.__setattr__(self, "block", check_block(self.block))
        except PatternError as exc:  # one sentence, as every other field's
            raise PruningError(str(exc)) from None
        if not isinstance(self.layer_k, LayerKs):
            object.__setattr__(self, "layer_k", LayerKs(self.layer_k or ()))

    def k_of(self, name: str) -> float:
        """The k that prunes the tensor ``name``: its own (``layer_k``) or the slider's."""
        return self.layer_k.get(name, self.k)

    def without_layer_k(self) -> PruningConfig:
        return replace(self, layer_k=LayerKs())

    def with_k(self, k: float) -> PruningConfig:
        """The same settings at another k (criterion, unit mode and seed carry through)."""
        return replace(self, k=k)

    def unpruned(self) -> PruningConfig:
        """The same settings pruning nothing (the reference pass): k = 0; N:M, a pattern without a k,
        becomes weight pruning at k = 0."""
        nothing = replace(self, k=0.0, layer_k=LayerKs())
        return replace(nothing, method="weight") if self.method == "nm" else nothing

    @property
    def prunes_nothing(self) -> bool:
        """Whether these settings leave the weights as they are (k = 0 of a method that has a k)."""
        return self.k == 0 and self.uses_k and not any(self.layer_k.values())

    @property
    def uses_k(self) -> bool:
        """False for N:M, a fixed pattern: k is not used."""
        return self.method != "nm"

    @property
    def pattern(self) -> str:
        """The pattern in words: "2:4" for N:M, "4x4" for blocks, "" for weight and unit pruning."""
        if self.method == "nm":
            return nm_text(self.nm)
        return block_text(self.block) if self.method == "block" else ""

    @property
    def file_tag(self) -> str:
        """The settings in a file name: e.g. "unit-k50", "weight-k90-lamp", "unit-k50-random3-remove",
        "nm2-4", "block4x4-k50", "weight-k50-perlayer"."""
        if self.method == "nm":
            tag = f"nm{self.nm[0]}-{self.nm[1]}"
        elif self.method == "block":
            tag = f"block{block_text(self.block)}-k{self.k:g}"
        else:
            tag = f"{self.method}-k{self.k:g}"
        tag += "-perlayer" if self.layer_k and self.uses_k else ""
        if self.criterion != "magnitude":
            tag += f"-{self.criterion}" + (str(self.seed) if self.criterion == "random" else "")
        return tag + ("-remove" if self.removes_units else "")

    @property
    def removes_units(self) -> bool:
        return self.method == "unit" and self.unit_mode == "remove"

    def as_dict(self, complete: bool = False) -> dict:
        """The settings as JSON-ready fields, for every result that says how it was pruned; ``from_dict``
        reads them back. ``complete``: also the fields the method does not use (the seed, both patterns),
        for a file that is reopened and changed (a lesson). ``included`` is not among them."""
        fields = {
            "method": self.method,
            "k": self.k,
            "scope": self.scope,
            "criterion": self.criterion,
            "unit_mode": self.unit_mode,
        }
        if complete or self.criterion == "random":
            fields["seed"] = self.seed
        if complete or self.method == "nm":
            fields["nm"] = nm_text(self.nm)
        if complete or self.method == "block":
            fields["block"] = block_text(self.block)
        if complete or self.layer_k:
            fields["layer_k"] = dict(self.layer_k)
        return fields

    @classmethod
    def from_dict(cls, fields: Mapping) -> PruningConfig:
        """The settings ``as_dict`` wrote (other keys are ignored; a missing one takes its default, so
        older files still read); PruningError with one sentence for a value prune-viz does not know."""
        known = {name: fields[name] for name in CONFIG_KEYS if fields.get(name) is not None}
        if "layer_k" in known and not isinstance(known["layer_k"], Mapping):
            raise PruningError("'layer_k' must map layer names to k.")
        return cls(**known)

    def describe(self, with_k: bool = True) -> str:
        """The settings in words; ``with_k=False`` for a result that spans many k (a scan)."""
        scope = "layerwise" if self.scope == "layer" else "global"
        if self.method == "nm":  # a fixed pattern in every group: no k, no scope
            words = [f"{nm_text(self.nm)} (N:M) pruning"]
        else:
            name = f"{block_text(self.block)} block" if self.method == "block" else self.method
            words = [f"{name} pruning", f"k={self.k:g}%", scope] if with_k else [f"{name} pruning", scope]
        if self.criterion != "magnitude":
            words.insert(1, f"{self.criterion} scores" + (f" (seed {self.seed})" if self.criterion == "random" else ""))
        if self.method == "unit":
            words.append(
                "units removed with bias and BN channel" if self.unit_mode == "remove" else "unit kernel columns zeroed"
            )
        if self.layer_k:
            words.append(describe_layer_k(self.layer_k))
        return ", ".join(words)


def describe_layer_k(layer_k: Mapping[str, float], most: int = 4) -> str:
    """E.g. 'own k: fc1 80%, fc2 95%' (the first ``most``, then how many more)."""
    items = [f"{name} {k:g}%" for name, k in layer_k.items()]
    more = f" and {len(items) - most} more" if len(items) > most else ""
    return "own k: " + ", ".join(items[:most]) + more


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

    def warnings(self) -> list[str]:
        """One sentence per layer this result cuts off (every unit pruned), in model order; the
        window, `evaluate`'s text and its JSON all show these."""
        return [layer.cut_off_warning for layer in self.layers if layer.cut_off]

    def layer(self, name: str) -> LayerResult:
        return next(layer for layer in self.layers if layer.name == name)

    def pattern_notes(self) -> list[str]:
        """N:M pruning in sentences: how many pruned tensors are valid N:M, then each padded input
        axis (the window's readout and ``evaluate`` show these); [] for other methods."""
        if self.config.method != "nm":
            return []
        chosen = [layer for layer in self.layers if layer.name in self.plans]
        valid = [layer.name for layer in chosen if layer.valid_nm]
        pattern = self.config.pattern
        lines = [f"Valid {pattern}: {len(valid)} of {len(chosen)} pruned tensor{'s' if len(chosen) != 1 else ''}"]
        if len(valid) < len(chosen):
            lines[0] += f" (not: {', '.join(layer.name for layer in chosen if not layer.valid_nm)})"
        lines += [f"{layer.name}: {layer.pattern_note}." for layer in chosen if layer.pattern_note]
        return lines

    def unit_counts(self, names) -> tuple[int, int]:
        """(units pruned, units) of the tensors ``names``, each unit group counted once."""
        groups = {}
        for layer in self.layers:
            if layer.name in names and layer.units:
                groups.setdefault(layer.group or layer.name, (layer.pruned_units, layer.units))
        return sum(p for p, _ in groups.values()), sum(u for _, u in groups.values())

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


class Pruner:
    """A model's prunable layers, pruned by config: a façade over their scores (``ScoreStore``),
    the plans made from them (``Planner``) and the kernels written from those (``KernelWriter``)."""

    def __init__(self, layers: list[PrunableLayer]):
        self.layers = list(layers)
        self._scores = ScoreStore(self.layers)
        self._planner = Planner(self._scores)
        self._writer = KernelWriter(self.layers)

    # -- scores ---------------------------------------------------------------------------------
    @property
    def taylor(self) -> criteria.TaylorScores | None:
        return self._scores.taylor

    @property
    def scores_version(self) -> int:
        """A number that changes whenever any scores are replaced or forgotten (new Taylor scores,
        another random seed): what a view of scores keys its cache on."""
        return self._scores.version

    @staticmethod
    def score_key(config: PruningConfig):
        """Which scores ``config`` thresholds: equal keys share sorted scores."""
        return score_key(config)

    def prepare(self, name: str, key=MAGNITUDE) -> None:
        """Count the layer's scores (|w| for magnitude) in one pass, so that any k's threshold is a
        lookup (done lazily; call it to warm a layer up)."""
        self._scores.prepare(name, key)

    def set_taylor_scores(self, scores: criteria.TaylorScores) -> None:
        """Hand over the Taylor scores of every prunable layer (computed by criteria.taylor_scores)."""
        missing = {layer.name for layer in self.layers} - scores.scores.keys()
        if missing:
            raise PruningError(f"The Taylor scores lack layer {', '.join(sorted(missing))}.")
        self._scores.set_taylor(scores)

    def _check_scores(self, config: PruningConfig) -> None:
        if config.criterion == "taylor" and self.taylor is None:
            raise PruningError(
                "Taylor scores need training images: compute them first (they are "
                "computed once per model and data source)."
            )

    def scores(self, name: str, config: PruningConfig) -> MagnitudeOrder:
        """The layer's weight scores under ``config``'s criterion, ascending (for histograms)."""
        self._check_scores(config)
        return self._scores.sorted_scores(name, score_key(config))

    def unit_scores(self, name: str, config: PruningConfig) -> np.ndarray:
        """The layer's unit scores under ``config``'s criterion (float64)."""
        self._check_scores(config)
        return self._scores.unit_score(score_key(config), name)

    def magnitudes(self, name: str) -> MagnitudeOrder:
        """The layer's |w| in ascending order (for histograms and order statistics without a copy)."""
        return self._scores.sorted_scores(name)

    def unit_norms(self, name: str) -> np.ndarray:
        """The L2 norm of each unit's incoming original weights (float64, computed once)."""
        return self._scores.unit_norms[name]

    # -- plans ----------------------------------------------------------------------------------
    def check_included(self, included: Iterable[str]) -> tuple[str, ...]:
        unknown = set(included) - {layer.name for layer in self.layers}
        if unknown:
            raise PruningError(f"No prunable layer named {', '.join(sorted(unknown))}.")
        return self._planner.names(included)

    def check_layer_k(self, layer_k: Mapping[str, float]) -> None:
        unknown = set(layer_k) - {layer.name for layer in self.layers}
        if unknown:
            raise PruningError(f"A k is given for {', '.join(sorted(unknown))}, which is no prunable layer.")

    def prune(self, config: PruningConfig) -> PruneResult:
        """Plans, counts and lazily built kernels and masks for ``config``; the model is not touched."""
        self._check_scores(config)
        self.check_layer_k(config.layer_k)
        plans, results = self._planner.plan(config, self.check_included(config.included))
        masks, kernels = self._writer.lazy(plans)
        return PruneResult(config, kernels, masks, results, plans)

    def step_reads_weights(self, config: PruningConfig) -> bool:
        """What a slider step of ``config`` costs unless computed ahead: True when it reads a pass
        over a big layer's weights (worth computing on a thread first: ``prepare_step``), False when
        it is lookups or a few NumPy calls per layer."""
        return self._planner.step_reads_weights(config)

    def needs_warm_up(self, config: PruningConfig) -> bool:
        """Whether slider steps of ``config`` gain from ``warm_up``: unit pruning (its plans and
        counts, a few NumPy calls per layer, become lookups), and weight pruning of a layer big
        enough that a threshold reads one of its groups of buckets (a pass over its weights)."""
        return self._planner.needs_warm_up(config)

    def warm_up(self, config: PruningConfig, task: TaskState | None = None) -> int:
        """Compute ahead the plans of ``config`` at every k of SLIDER_KS, in runs of neighbours
        nearest to ``config.k`` first, so that a slider step is lookups; returns how many k were
        done. For a thread other than the one that configures: it stops quietly at the first k
        whose scores are not sorted yet, or no longer (the caller's config changed), and at
        ``task``'s cancel."""
        task = task or TaskState()
        if not self.needs_warm_up(config):
            return 0
        done = 0
        try:
            with self._scores.ahead_of_the_configuring_thread():
                for run in runs_from(config.k):
                    if config.method == "weight":
                        self._planner.read_ahead(config, run)
                    for k in run:
                        task.progress(done / len(SLIDER_KS), "Preparing the slider's steps")
                        self.prune(config.with_k(k))
                        done += 1
        except StaleWarmUp:
            return done
        task.progress(1.0, "Preparing the slider's steps")
        return done

    def prepare_step(self, config: PruningConfig) -> bool:
        """Compute ``config``'s plans (one k) ahead, as ``warm_up`` does for every k and with its
        rules (for a thread other than the one that configures; it computes no scores), so that
        pruning ``config`` on that thread is lookups. False when its scores are not sorted (yet, or
        any longer): the caller's settings have moved on."""
        try:
            with self._scores.ahead_of_the_configuring_thread():
                self.prune(config)
        except StaleWarmUp:
            return False
        return True

    # -- kernels --------------------------------------------------------------------------------
    def mask(self, name: str, plan: LayerPlan):
        """The plan's keep-mask of the whole kernel, as a bool tensor of the kernel's shape."""
        return self._writer.mask(name, plan)

    def kernel(self, name: str, mask):
        return self._writer.kernel(name, mask)

    def original(self, name: str):
        """The original kernel as a TF tensor (a view of the numpy original where it is aligned)."""
        return self._writer.original(name)

    def apply(self, result: PruneResult) -> None:
        """Write ``result``'s kernels into the model's variables (only from the one TF job thread)."""
        self._writer.apply(result)

    def restore(self) -> None:
        """Put the original kernels, biases and BatchNormalization parameters back, bit for bit."""
        self._writer.restore()

    def applied(self, result: PruneResult):
        """``with pruner.applied(result):`` the body runs on ``result``'s kernels, and the originals
        are back after it, even when it raises (only from the one TF job thread)."""
        return self._writer.applied(result)
