"""Accuracy and loss across k: a pruning sweep, and per-layer sensitivity.

Every point is pruned from the original weights and evaluated on the whole
test set with one Evaluator (built once per model, so nothing is retraced).
``on_point`` is called after each point so a GUI can draw the curve live.
Points from several models (one per seed) are combined by ``summarise``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace

from prune_viz.core.pruning import CRITERIA, METHODS, SCOPES, PruningConfig, PruningError, parse_k
from prune_viz.core.tasks import TaskState, quiet, tensorflow_job

DEFAULT_KS = (0, 25, 50, 60, 70, 80, 90, 95, 97, 99)
ALL_LAYERS = ""  # the ``layer`` of a point that pruned every included layer together

SCORE_COLUMN = "accuracy"  # in CSV_FIELDS and SUMMARY_FIELDS: renamed after the score's metric (csv_table)
CSV_FIELDS = (
    "model",
    "seed",
    "method",
    "criterion",
    "unit_mode",
    "scope",
    "layer",
    "k",
    "sparsity_included",
    "sparsity_all",
    "accuracy",
    "loss",
    "seconds",
    "task",
    "data",
)
SUMMARY_FIELDS = (
    "method",
    "criterion",
    "unit_mode",
    "scope",
    "layer",
    "k",
    "models",
    "sparsity_included_mean",
    "sparsity_all_mean",
    "accuracy_mean",
    "accuracy_std",
    "loss_mean",
    "loss_std",
)


@dataclass
class SweepPoint:
    model: str  # file name of the model
    seed: int | None  # from the model's metadata, when it was trained by prune-viz
    method: str
    scope: str
    layer: str  # ALL_LAYERS, or the one layer pruned in a sensitivity sweep
    k: float
    sparsity_included: float  # zeros among the weights of the pruned layer(s)
    sparsity_all: float  # zeros among all the model's weights
    accuracy: float
    loss: float
    seconds: float  # the evaluation pass
    criterion: str = "magnitude"
    unit_mode: str = "kernel"  # of unit pruning; "" for weight pruning
    score: float = float("nan")  # the task's higher-is-better number (accuracy, R², agreement...)
    score_name: str = "accuracy"
    task: str = "classification"
    data: str = ""  # the data's name
    score_metric: str = "accuracy"  # which metric the score is (core.metrics.score_metric): its CSV column
    classes: int | None = None  # how many classes the data has (a classifier's chance is 1 / classes)

    def as_row(self) -> dict:
        row = asdict(self)
        row["seed"] = "" if self.seed is None else self.seed
        return row


@dataclass
class SweepSummary:
    method: str
    scope: str
    layer: str
    k: float
    models: int
    sparsity_included_mean: float
    sparsity_all_mean: float
    accuracy_mean: float
    accuracy_std: float  # sample standard deviation over models (0 for one model)
    loss_mean: float
    loss_std: float
    criterion: str = "magnitude"
    unit_mode: str = "kernel"
    score_mean: float = float("nan")
    score_std: float = 0.0
    score_name: str = "accuracy"
    score_metric: str = "accuracy"
    task: str = "classification"
    classes: int | None = None

    def as_row(self) -> dict:
        return asdict(self)


def _score_column(rows) -> str:
    """The name of the score's column: its metric (accuracy, r2, top1_agreement ...), when every row
    has the same one, else score."""
    metrics = {row.score_metric for row in rows}
    return metrics.pop() if len(metrics) == 1 else "score"


def csv_table(points: Iterable[SweepPoint]) -> tuple[list[str], list[dict]]:
    """The columns and rows of a sweep's CSV (``prune-viz sweep --csv`` and the window's Save CSV):
    CSV_FIELDS with the score's column named after its metric ("accuracy" for a classifier, "r2",
    "top1_agreement" ...) and holding the score; ``loss`` is the task's (cross-entropy, MSE ...)."""
    points = list(points)
    column = _score_column(points)
    fields = [column if field == SCORE_COLUMN else field for field in CSV_FIELDS]
    rows = []
    for point in points:
        row = point.as_row()
        row[column] = point.score
        rows.append(row)
    return fields, rows


def summary_csv_table(summary: Iterable[SweepSummary]) -> tuple[list[str], list[dict]]:
    """The columns and rows of a sweep's summary CSV: the score's mean and std named after its metric."""
    summary = list(summary)
    column = _score_column(summary)
    renamed = {f"{SCORE_COLUMN}_mean": f"{column}_mean", f"{SCORE_COLUMN}_std": f"{column}_std"}
    fields = [renamed.get(field, field) for field in SUMMARY_FIELDS]
    rows = []
    for s in summary:
        row = s.as_row()
        row[f"{column}_mean"], row[f"{column}_std"] = s.score_mean, s.score_std
        rows.append(row)
    return fields, rows


def check_grid(methods: Iterable[str], ks: Iterable) -> tuple[tuple[str, ...], tuple[float, ...]]:
    methods = tuple(dict.fromkeys(methods))
    if not methods:
        raise PruningError("Give at least one pruning method.")
    for method in methods:
        if method not in METHODS:
            raise PruningError(f"method must be one of {', '.join(METHODS)}, not {method!r}.")
        if method == "nm":
            raise PruningError("N:M pruning is one fixed pattern, not a k to sweep: evaluate it with --method nm.")
    ks = tuple(dict.fromkeys(parse_k(k) for k in ks))
    if not ks:
        raise PruningError("Give at least one k.")
    return methods, ks


def check_criteria(criteria: Iterable[str]) -> tuple[str, ...]:
    criteria = tuple(dict.fromkeys(criteria))
    for criterion in criteria:
        if criterion not in CRITERIA:
            raise PruningError(f"criterion must be one of {', '.join(CRITERIA)}, not {criterion!r}.")
    return criteria


def sweep_configs(
    session,
    methods: Sequence[str],
    ks: Sequence[float],
    scope: str = "layer",
    per_layer: bool = False,
    criteria: Sequence[str] | None = None,
) -> list[tuple[str, PruningConfig]]:
    """(layer label, config) for every point, in the order they are run; the session's criterion
    (or each of ``criteria``), unit mode, seed and ks per layer carry into every config (the sweep's k
    prunes the layers without their own k; a sensitivity scan prunes its one layer at the sweep's k)."""
    if scope not in SCOPES:
        raise PruningError(f"scope must be one of {', '.join(SCOPES)}, not {scope!r}.")
    methods, ks = check_grid(methods, ks)
    criteria = check_criteria(criteria) if criteria else (session.config.criterion,)
    included = session.config.included
    if not included:
        raise PruningError("No layers are selected for pruning.")
    groups = (
        [(name, frozenset({name})) for name in sorted(included, key=_layer_order(session))]
        if per_layer
        else [(ALL_LAYERS, frozenset(included))]
    )
    base = session.config
    return [
        (
            label,
            replace(
                base.without_layer_k() if per_layer else base,
                method=method,
                k=k,
                scope="layer" if per_layer else scope,
                included=layers,
                criterion=criterion,
            ),
        )
        for label, layers in groups
        for criterion in criteria
        for method in methods
        for k in ks
    ]


def _layer_order(session):
    order = {layer.name: i for i, layer in enumerate(session.model.layers)}
    return lambda name: order.get(name, len(order))


@tensorflow_job()
def run_sweep(
    target,
    methods: Sequence[str] = ("weight", "unit"),
    ks: Sequence[float] = DEFAULT_KS,
    scope: str = "layer",
    task: TaskState | None = None,
    on_point: Callable[[SweepPoint], None] | None = None,
    *,
    per_layer: bool = False,
    data_path: str | None = None,
    preprocessing: str = "auto",
    criteria: Sequence[str] | None = None,
    unit_mode: str | None = None,
    seed: int | None = None,
) -> list[SweepPoint]:
    """Evaluate every (method, k) (per included layer when ``per_layer``) from the original weights.

    ``target`` is a Session with a model open (its included layers, data and
    preprocessing are used) or an OpenedModel (default layers, ``data_path``,
    ``preprocessing``). Runs in the TF job thread; the model is left unpruned. ``criteria``
    (default: the session's criterion), ``unit_mode`` and ``seed`` (default: the session's) say
    how every point is scored and how units are pruned.
    """
    from prune_viz.core.metrics import score_metric
    from prune_viz.core.session import OpenedModel, Session

    task = task or quiet()
    if isinstance(target, OpenedModel):
        session = Session(data_path=data_path, preprocessing=preprocessing)
        session.set_model(target)
    else:
        session = target
    if session.model is None:
        raise RuntimeError("no model is open")
    if unit_mode is not None or seed is not None:
        session.configure(
            unit_mode=unit_mode or session.config.unit_mode, seed=session.config.seed if seed is None else seed
        )
    plan = sweep_configs(session, methods, ks, scope, per_layer, criteria)
    loaded = session.model.loaded
    name = loaded.path.name
    seed = loaded.metadata.get("seed")
    seed = seed if isinstance(seed, int) else None
    points = []
    for i, (layer, config) in enumerate(plan):
        fraction = i / len(plan)
        task.progress(fraction, f"{config.criterion} {config.method} k={config.k:g}{' ' + layer if layer else ''}")
        # Session.evaluate builds its Evaluator once, on the first point
        record, _ = session.evaluate(config, task.sub(fraction, (i + 1) / len(plan)), with_baseline=False)
        data = session.evaluator().data
        point = SweepPoint(
            model=name,
            seed=seed,
            method=config.method,
            scope=config.scope,
            layer=layer,
            k=config.k,
            sparsity_included=record.sparsity,
            sparsity_all=record.sparsity_all,
            accuracy=record.result.accuracy,
            loss=record.result.loss,
            seconds=record.result.seconds,
            criterion=config.criterion,
            unit_mode=config.unit_mode if config.method == "unit" else "",
            score=record.result.score,
            score_name=record.result.score_name,
            task=record.result.task,
            data=data.name,
            score_metric=score_metric(record.result.task, record.result.metrics),
            classes=data.num_classes,
        )
        points.append(point)
        if on_point is not None:
            on_point(point)
    task.progress(1.0, "Done")
    return points


def _mean_std(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def summarise(points: Iterable[SweepPoint]) -> list[SweepSummary]:
    """Mean and sample std over models of every (method, criterion, unit mode, scope, layer, k),
    in first-seen order."""
    groups: dict[tuple, list[SweepPoint]] = {}
    for point in points:
        groups.setdefault(
            (point.method, point.scope, point.layer, point.k, point.criterion, point.unit_mode), []
        ).append(point)
    out = []
    for (method, scope, layer, k, criterion, unit_mode), group in groups.items():
        acc_mean, acc_std = _mean_std([p.accuracy for p in group])
        loss_mean, loss_std = _mean_std([p.loss for p in group])
        score_mean, score_std = _mean_std([p.score for p in group])
        out.append(
            SweepSummary(
                method,
                scope,
                layer,
                k,
                len(group),
                sum(p.sparsity_included for p in group) / len(group),
                sum(p.sparsity_all for p in group) / len(group),
                acc_mean,
                acc_std,
                loss_mean,
                loss_std,
                criterion,
                unit_mode,
                score_mean,
                score_std,
                group[0].score_name,
                group[0].score_metric,
                group[0].task,
                group[0].classes,
            )
        )
    return out
