"""A per-layer budget from sensitivity: the ks per layer that reach a target overall sparsity with
the least predicted loss of score, and how they compare with one k for every layer.

A per-layer sensitivity scan (``run_sweep(..., per_layer=True)``) gives, for each layer pruned
alone, its score (accuracy for a classifier) against k. The prediction is additive: pruning several
layers loses the sum of what each loses alone. Each layer's loss curve is linear between the scanned
ks, made non-decreasing in k (a noisy gain is not trusted) and replaced by its lower convex hull
against the number of weights pruned; the least total loss for a number of weights is then the
greedy (Lagrangian) allocation: take hull segments in order of loss per weight, across layers, until
the target is met, the last one in part, so that the size-weighted k hits the target exactly. Unless
the curves themselves predict the allocation beats one k for every layer by more than ``MIN_GAIN``
(a smaller gain is within a scan's noise, and the hull under-estimates between scanned ks), that
uniform k is the allocation.

The prediction adds the layers' losses, and pruned together they interact, so what is offered is
measured first (``choose``): on the part of the data the ks are chosen on (core.budget_data), the
allocation against one k for every layer at the same overall sparsity; when one k scores higher,
blends between the two (each at the target exactly), and the best measured; when none beats one k,
one k for every layer, said in one sentence.

``compare_at_targets`` does that at several targets and measures the offer and one k on the other
part of the data (the CLI's ``prune-viz budget``, the window's Allocate and its comparison share it);
``BUDGET_CSV_FIELDS`` are the columns of its CSV.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from prune_viz.core.pruning import PruningConfig, PruningError
from prune_viz.core.tasks import TaskState, quiet, tensorflow_job

# the ks a budget's sensitivity scan measures: dense where layers break, above 80%
BUDGET_SCAN_KS = (0, 20, 40, 50, 60, 70, 80, 85, 90, 93, 95, 97, 98, 99, 100)
DEFAULT_TARGETS = (0.5, 0.7, 0.8, 0.9, 0.95)
MIN_GAIN = 0.001  # of score (0.1 point of accuracy): a predicted gain an allocation must beat uniform by
BUDGET_CSV_FIELDS = (
    "model",
    "method",
    "criterion",
    "target",
    "uniform_k",
    "uniform_sparsity",
    "uniform_score",
    "allocated_sparsity",
    "allocated_score",
    "predicted_score",
    "predicted_uniform_score",
    "score_name",
    "layer_k",
    "chosen",
    "blend",
    "choice_uniform_score",
    "choice_score",
    "chosen_on",
    "reported_on",
    "why",
)
CHOSEN_ALLOCATED, CHOSEN_BLEND, CHOSEN_UNIFORM = "allocated", "blend", "uniform"
BLEND_STEPS = (0.25, 0.5, 0.75)  # how far toward one k the blends tried after an allocation measures worse
NOISE_Z = 2.0  # paired standard errors a measured gain over one k must reach to be trusted (about 95%)


@dataclass(frozen=True)
class LayerCurve:
    """One layer's score against k, pruned alone (from a sensitivity scan), and its size in weights."""

    name: str
    size: int
    ks: np.ndarray  # ascending, from 0 (the unpruned score)
    scores: np.ndarray

    def loss(self, k: float | np.ndarray, baseline: float) -> np.ndarray:
        """The predicted loss of score at ``k``: linear between the scanned ks, never below 0 and never
        falling as k grows."""
        losses = np.maximum.accumulate(np.maximum(baseline - self.scores, 0.0))
        return np.interp(k, self.ks, losses)


@dataclass
class Allocation:
    """The ks per layer for a target, with what the curves predict for them and for one k everywhere."""

    target: float  # the overall sparsity asked, 0-1, of the allocated layers' weights together
    layer_k: dict[str, float]
    predicted_score: float
    predicted_uniform_score: float
    baseline: float  # the unpruned score
    sizes: dict[str, int] = field(default_factory=dict)

    @property
    def sparsity(self) -> float:
        """The size-weighted k (what the ks prune of the weights, zeros already there aside)."""
        total = sum(self.sizes.values())
        return sum(self.sizes[n] * k for n, k in self.layer_k.items()) / 100.0 / total if total else 0.0


def curves_from_points(points: Iterable, sizes: Mapping[str, int], method: str | None = None) -> dict[str, LayerCurve]:
    """Per-layer curves from a sensitivity scan's SweepPoints (``layer`` set, one method and criterion):
    ``sizes`` are the layers' weight counts. Raises PruningError when there is nothing to allocate from."""
    by_layer: dict[str, dict[float, float]] = {}
    for point in points:
        if not point.layer or (method is not None and point.method != method):
            continue
        by_layer.setdefault(point.layer, {})[float(point.k)] = float(point.score)
    curves = {}
    for name, scores in by_layer.items():
        if name not in sizes:
            continue
        ks = np.array(sorted(scores))
        values = np.array([scores[k] for k in ks])
        if not np.isfinite(values).all():
            raise PruningError(f"The sensitivity scan of {name} has no score at some k.")
        curves[name] = LayerCurve(name, int(sizes[name]), ks, values)
    if not curves:
        raise PruningError("A budget needs a per-layer sensitivity scan first.")
    return curves


def _baseline(curves: Mapping[str, LayerCurve], baseline: float | None) -> float:
    if baseline is not None:
        return float(baseline)
    at_zero = [c.scores[0] for c in curves.values() if c.ks[0] == 0]
    if not at_zero:
        raise PruningError("The sensitivity scan needs k = 0 (the unpruned score), or give the baseline.")
    return float(np.mean(at_zero))


def _hull(xs: np.ndarray, ys: np.ndarray) -> list[int]:
    """Indices of the lower convex hull of the points (xs ascending), from the first to the last."""
    hull: list[int] = []
    for i in range(len(xs)):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            # b lies on or above the line from a to i: not on the lower hull
            if (ys[b] - ys[a]) * (xs[i] - xs[a]) >= (ys[i] - ys[a]) * (xs[b] - xs[a]):
                hull.pop()
            else:
                break
        hull.append(i)
    return hull


def allocate(
    curves: Mapping[str, LayerCurve], target: float, baseline: float | None = None, min_gain: float = MIN_GAIN
) -> Allocation:
    """The ks per layer that prune ``target`` (0-1) of the curves' layers' weights together with the
    least predicted loss; each k is within the scanned range, and their size-weighted mean is exactly
    ``target * 100`` (the counts then round per layer)."""
    if not 0.0 <= target <= 1.0 or not np.isfinite(target):
        raise PruningError(f"The target sparsity must be from 0 to 1 (e.g. 0.9 for 90%), not {target!r}.")
    if not curves:
        raise PruningError("A budget needs a per-layer sensitivity scan first.")
    baseline = _baseline(curves, baseline)
    total = sum(c.size for c in curves.values())
    tops = {n: float(c.ks[-1]) for n, c in curves.items()}
    if target * 100.0 > sum(c.size * tops[n] for n, c in curves.items()) / total + 1e-9:
        raise PruningError(f"The sensitivity scan reaches only up to k = {min(tops.values()):g}% in some layer.")
    # hull segments of every layer: (loss per weight, layer, k from, k to)
    segments = []
    for name, curve in curves.items():
        ks = np.concatenate([[0.0], curve.ks]) if curve.ks[0] > 0 else curve.ks
        losses = curve.loss(ks, baseline)
        weights = ks / 100.0 * curve.size
        hull = _hull(weights, losses)
        for a, b in zip(hull, hull[1:]):
            slope = (losses[b] - losses[a]) / (weights[b] - weights[a]) if weights[b] > weights[a] else np.inf
            segments.append((slope, list(curves).index(name), name, float(ks[a]), float(ks[b])))
    segments.sort(key=lambda s: (s[0], s[1], s[3]))
    layer_k = dict.fromkeys(curves, 0.0)
    needed = target * total  # weights to prune
    for _slope, _order, name, k_from, k_to in segments:
        if needed <= 1e-9:
            break
        size = curves[name].size
        step = (k_to - k_from) / 100.0 * size
        if step <= needed:
            layer_k[name] = k_to
            needed -= step
        else:
            layer_k[name] = k_from + needed / size * 100.0
            needed = 0.0
    predicted = baseline - sum(float(curves[n].loss(k, baseline)) for n, k in layer_k.items())
    uniform = baseline - sum(float(c.loss(target * 100.0, baseline)) for c in curves.values())
    if predicted - uniform <= min_gain:  # no gain the scan can tell from noise: one k for every layer
        layer_k, predicted = dict.fromkeys(curves, target * 100.0), uniform
    return Allocation(
        target,
        {n: round(k, 3) for n, k in layer_k.items()},
        predicted,
        uniform,
        baseline,
        {n: c.size for n, c in curves.items()},
    )


# -- on a model ---------------------------------------------------------------------------------
@dataclass
class Choice:
    """What is offered at a target after the measured check on the choosing part of the data."""

    allocation: Allocation  # the curves' greedy allocation
    layer_k: dict[str, float]  # what is offered: the allocation, a blend toward one k, or one k everywhere
    chosen: str  # CHOSEN_ALLOCATED, CHOSEN_BLEND or CHOSEN_UNIFORM
    blend: float  # how far the ks were moved toward one k: 0 the allocation, 1 one k for every layer
    why: str  # one sentence
    choice_uniform_score: float  # one k for every layer, measured on the choosing part (NaN: not measured)
    choice_score: float  # the offered ks, measured on the choosing part


def blended(layer_k: Mapping[str, float], uniform_k: float, fraction: float) -> dict[str, float]:
    """Each layer's k moved ``fraction`` of the way toward ``uniform_k``; the size-weighted mean (the
    overall sparsity) stays what it was when it was ``uniform_k``, since both ends have it."""
    return {n: round(k + fraction * (uniform_k - k), 3) for n, k in layer_k.items()}


def paired_noise(a, b, labels) -> float:
    """The standard error, as a fraction of the samples, of the difference of two classifiers'
    accuracies on the same samples (McNemar's: the square root of how many one gets right and the
    other wrong, over all); 0 when the results hold no per-sample predictions or labels to pair."""
    if a.predicted is None or b.predicted is None or not isinstance(labels, np.ndarray) or labels.ndim != 1:
        return 0.0
    if not len(labels) or len(a.predicted) != len(labels) or len(b.predicted) != len(labels):
        return 0.0
    right_a, right_b = a.predicted == labels, b.predicted == labels
    return float(np.sqrt(np.count_nonzero(right_a != right_b))) / len(labels)


def choose(session, data, curves: Mapping[str, LayerCurve], base: PruningConfig, target: float, task=None) -> Choice:
    """The ks to offer at ``target``: the greedy allocation when it measures better than one k for
    every layer on the choosing part of ``data`` (a core.budget_data.BudgetData), by more than
    ``MIN_GAIN`` and than ``NOISE_Z`` paired standard errors (``paired_noise``); else the best of
    ``BLEND_STEPS`` toward one k that does; else one k for every layer. Under the TensorFlow job lock."""
    from prune_viz.core.budget_data import measure
    from prune_viz.core.metric_words import result_scale

    task = task or quiet()
    allocation = allocate(curves, target)
    uniform_k = round(target * 100.0, 3)
    uniform = dict.fromkeys(curves, uniform_k)
    if allocation.layer_k == uniform:
        why = "The scan's curves predict no gain over one k for every layer, so this is one k for every layer."
        return Choice(allocation, uniform, CHOSEN_UNIFORM, 1.0, why, float("nan"), float("nan"))
    steps = len(BLEND_STEPS) + 2
    task.progress(0.0, f"checking the allocation at {target * 100:g}% on {data.chosen_on}")
    one_k, _ = measure(session, data.choose, replace(base, layer_k=uniform), task.sub(0, 1 / steps))
    scale, labels = result_scale(one_k), data.choose.data.y_test

    def margin(result) -> float:
        return max(MIN_GAIN, NOISE_Z * paired_noise(result, one_k, labels))

    candidates = {
        0.0: measure(session, data.choose, replace(base, layer_k=allocation.layer_k), task.sub(1 / steps, 2 / steps))[0]
    }
    if candidates[0.0].score - one_k.score < margin(candidates[0.0]):
        for i, fraction in enumerate(BLEND_STEPS):
            config = replace(base, layer_k=blended(allocation.layer_k, uniform_k, fraction))
            candidates[fraction] = measure(session, data.choose, config, task.sub((2 + i) / steps, (3 + i) / steps))[0]
    beat = [f for f, r in candidates.items() if r.score - one_k.score >= margin(r)]
    said = (
        f"On {data.chosen_on} the allocation scored {scale.text(candidates[0.0].score)} against "
        f"{scale.text(one_k.score)} with one k for every layer"
    )
    if not beat:
        gain = candidates[0.0].score - one_k.score
        needed = margin(candidates[0.0])
        noise = f", a gain of {scale.text(gain)} where {scale.text(needed)} tells it from noise" if gain > 0 else ""
        why = f"{said}{noise}, and no blend of the two did better, so this is one k for every layer."
        return Choice(allocation, uniform, CHOSEN_UNIFORM, 1.0, why, one_k.score, one_k.score)
    best = max(beat, key=lambda f: (candidates[f].score, -f))
    score = candidates[best].score
    if best == 0.0:
        return Choice(allocation, allocation.layer_k, CHOSEN_ALLOCATED, 0.0, f"{said}.", one_k.score, score)
    why = f"{said}, so the ks were moved {best * 100:g}% of the way to one k, which scored {scale.text(score)}."
    layer_k = blended(allocation.layer_k, uniform_k, best)
    return Choice(allocation, layer_k, CHOSEN_BLEND, best, why, one_k.score, score)


@dataclass
class BudgetRow:
    """Uniform against allocated at one target: chosen on one part of the data, measured on another."""

    model: str
    method: str
    criterion: str
    target: float
    uniform_k: float
    uniform_sparsity: float
    uniform_score: float
    allocated_sparsity: float
    allocated_score: float
    predicted_score: float
    predicted_uniform_score: float
    score_name: str
    layer_k: dict[str, float]
    chosen: str = CHOSEN_ALLOCATED
    blend: float = 0.0
    why: str = ""
    choice_uniform_score: float = float("nan")
    choice_score: float = float("nan")
    chosen_on: str = ""
    reported_on: str = ""
    task: str = "classification"
    score_metric: str = "accuracy"
    classes: int | None = None

    @property
    def scale(self):
        """How the score is shown (core.metric_words.ScoreScale): a percentage for accuracy, R² as it is."""
        from prune_viz.core.metric_words import score_scale

        return score_scale(self.task, self.score_metric, self.classes)

    def as_row(self) -> dict:
        """The CSV row: numbers rounded to 6 places, the ks per layer as JSON."""
        row = {name: getattr(self, name) for name in BUDGET_CSV_FIELDS}
        row["layer_k"] = json.dumps(self.layer_k)
        return {k: round(v, 6) if isinstance(v, float) else v for k, v in row.items()}

    def as_dict(self) -> dict:
        """What ``prune-viz budget --json`` prints for one target."""
        return {
            "target": self.target,
            "layer_k": self.layer_k,
            "sparsity": round(self.allocated_sparsity, 6),
            "accuracy": round(self.allocated_score, 6),
            "uniform_k": self.uniform_k,
            "uniform_sparsity": round(self.uniform_sparsity, 6),
            "uniform_accuracy": round(self.uniform_score, 6),
            "predicted_accuracy": round(self.predicted_score, 6),
            "predicted_uniform_accuracy": round(self.predicted_uniform_score, 6),
            "chosen": self.chosen,
            "blend": self.blend,
            "why": self.why,
            "chosen_on": self.chosen_on,
            "reported_on": self.reported_on,
            "choice_accuracy": _rounded(self.choice_score),
            "choice_uniform_accuracy": _rounded(self.choice_uniform_score),
            "score_name": self.score_name,
            "score_metric": self.score_metric,
            "method": self.method,
            "criterion": self.criterion,
        }


def _rounded(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else round(value, 6)


def layer_sizes(session) -> dict[str, int]:
    """The weight counts of the session's included layers."""
    return {layer.name: layer.size for layer in session.model.layers if layer.name in session.config.included}


@tensorflow_job()
def compare_at_targets(
    session,
    targets: Sequence[float] = DEFAULT_TARGETS,
    task: TaskState | None = None,
    on_row: Callable[[BudgetRow], None] | None = None,
    *,
    scan: Sequence | None = None,
    scan_ks: Sequence[float] = BUDGET_SCAN_KS,
    method: str | None = None,
    cache=None,
) -> list[BudgetRow]:
    """At each target, the ks chosen (``choose``) on one part of the data and one k for every included
    layer at the same overall sparsity, both measured on the other part (core.budget_data). ``scan``:
    a per-layer sensitivity scan's points on the choosing part (run at ``scan_ks`` when None); the
    session's criterion and included layers, and its method unless ``method`` is given; ``cache`` (a
    BudgetCache) keeps the parts' evaluators and the scan for the next call. The model is left
    unpruned and the session's settings as they were (so a worker may run it)."""
    from prune_viz.core.budget_data import budget_data, choice_scan, measure
    from prune_viz.core.metrics import score_metric

    task = task or quiet()
    if session.model is None:
        raise RuntimeError("no model is open")
    targets = [float(t) for t in targets]
    for t in targets:
        if not 0.0 <= t <= 1.0:
            raise PruningError(f"The target sparsity must be from 0 to 1 (e.g. 0.9 for 90%), not {t!r}.")
    base = session.config if method is None else replace(session.config, method=method)
    if not base.included:
        raise PruningError("No layers are selected for pruning.")
    if base.criterion == "taylor":
        session.taylor(task.sub(0.0, 0.05))
    data = budget_data(session, task.sub(0.05, 0.15), cache)
    scan_share = 0.15 if scan is not None else 0.6
    if scan is None:
        scan = choice_scan(session, data.choose, base, scan_ks, task.sub(0.15, scan_share), cache)
    curves = curves_from_points(scan, layer_sizes(session), base.method)
    name = session.model.loaded.path.name
    uniform_config = PruningConfig(
        method=base.method,
        k=0.0,
        scope="layer",
        included=frozenset(curves),
        criterion=base.criterion,
        unit_mode=base.unit_mode,
        seed=base.seed,
    )
    classes = data.report.data.num_classes
    rows = []
    for i, target in enumerate(targets):
        start, stop = (scan_share + (1 - scan_share) * j / len(targets) for j in (i, i + 1))
        share = task.sub(start, stop)
        task.progress(start, f"uniform and allocated at {target * 100:g}% sparsity")
        uniform_config = replace(uniform_config, k=target * 100.0)
        choice = choose(session, data, curves, uniform_config, target, share.sub(0.0, 0.7))
        uniform, uniform_sparsity = measure(session, data.report, uniform_config, share.sub(0.7, 0.85))
        if choice.chosen == CHOSEN_UNIFORM:
            allocated, allocated_sparsity = uniform, uniform_sparsity
        else:
            allocated_config = replace(uniform_config, layer_k=choice.layer_k)
            allocated, allocated_sparsity = measure(session, data.report, allocated_config, share.sub(0.85, 1.0))
        row = BudgetRow(
            model=name,
            method=base.method,
            criterion=base.criterion,
            target=target,
            uniform_k=round(target * 100.0, 3),
            uniform_sparsity=uniform_sparsity,
            uniform_score=uniform.score,
            allocated_sparsity=allocated_sparsity,
            allocated_score=allocated.score,
            predicted_score=choice.allocation.predicted_score,
            predicted_uniform_score=choice.allocation.predicted_uniform_score,
            score_name=allocated.score_name,
            layer_k=choice.layer_k,
            chosen=choice.chosen,
            blend=choice.blend,
            why=choice.why,
            choice_uniform_score=choice.choice_uniform_score,
            choice_score=choice.choice_score,
            chosen_on=data.chosen_on,
            reported_on=data.reported_on,
            task=allocated.task,
            score_metric=score_metric(allocated.task, allocated.metrics),
            classes=classes,
        )
        rows.append(row)
        if on_row is not None:
            on_row(row)
    task.progress(1.0, "Done")
    return rows
