"""Two prunings side by side: two settings of one model, or two checkpoints of one architecture.

Each side is pruned by its own PruningConfig and evaluated on the same test set,
non-destructively (the kernels are written for the pass and restored after, under
the one TensorFlow job lock). Per layer the comparison gives each side's sparsity
and the Jaccard index of the two kept sets, read from the sides' plans; over the
test set it gives the images whose predicted class differs. Layers are matched by
name and (fan_in, units) shape; two checkpoints of different architectures are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from prune_viz.core.data import Dataset
from prune_viz.core.errors import UserError
from prune_viz.core.evaluation import EvaluationResult, Evaluator
from prune_viz.core.patterns import PatternError, check_block, check_nm
from prune_viz.core.pruning import CRITERIA, METHODS, SCOPES, PruneResult, PruningConfig, PruningError, parse_k
from prune_viz.core.tasks import TaskState, quiet, tensorflow_job

SPEC_FORMAT = "criterion:method:k[:scope]"
# a pattern method names its pattern in the spec as in a file name: nm2-4 (N:M 2:4), block4x4; nm and block alone
# take the defaults (2:4, 4x4)
_PATTERN_TOKEN = re.compile(r"^(nm)(\d+)-(\d+)$|^(block)(\d+)x(\d+)$")


def method_fields(token: str) -> dict:
    """The PruningConfig fields a spec's method names: {"method": "weight"}, {"method": "nm", "nm": (2, 4)}
    for nm2-4, {"method": "block", "block": (1, 8)} for block1x8; PruningError when unknown."""
    if token in METHODS:
        return {"method": token}
    found = _PATTERN_TOKEN.match(token)
    if found is None:
        raise PruningError(
            f"The method must be one of {', '.join(METHODS)} (or nmN-M, blockRxC, e.g. nm2-4, block4x4), not {token!r}."
        )
    try:
        if found.group(1):
            return {"method": "nm", "nm": check_nm((int(found.group(2)), int(found.group(3))))}
        return {"method": "block", "block": check_block((int(found.group(5)), int(found.group(6))))}
    except PatternError as exc:
        raise PruningError(str(exc)) from None


class CompareError(UserError, ValueError):
    """The two sides cannot be compared; the message is one sentence."""


def parse_spec(text: str) -> tuple[str, str, float, str]:
    """``criterion:method:k[:scope]`` (e.g. ``magnitude:weight:90``, ``random:unit:50:global``) as
    (criterion, method, k, scope); scope defaults to layer. PruningError (one sentence) when malformed."""
    parts = [part.strip() for part in str(text).split(":")]
    if len(parts) not in (3, 4):
        raise PruningError(f"A pruning spec is {SPEC_FORMAT}, e.g. magnitude:weight:90, not {text!r}.")
    criterion, method, k = parts[:3]
    scope = parts[3] if len(parts) == 4 else "layer"
    for name, value, allowed in (
        ("criterion", criterion, CRITERIA),
        ("scope", scope, SCOPES),
    ):
        if value not in allowed:
            raise PruningError(f"The {name} in {text!r} must be one of {', '.join(allowed)}, not {value!r}.")
    method_fields(method)  # checked: a method, or a pattern method with its pattern (nm2-4, block4x4)
    return criterion, method, parse_k(k), scope


def spec_of(config: PruningConfig) -> str:
    """The spec text that ``parse_spec`` reads back to ``config``'s criterion, method, k and scope."""
    scope = "" if config.scope == "layer" else f":{config.scope}"
    method = config.method
    if config.method == "nm":
        method = f"nm{config.nm[0]}-{config.nm[1]}"
    elif config.method == "block":
        method = f"block{config.block[0]}x{config.block[1]}"
    return f"{config.criterion}:{method}:{config.k:g}{scope}"


@dataclass
class Side:
    """One side: a model pruned by a config, and its evaluation."""

    opened: object  # session.OpenedModel
    config: PruningConfig
    result: PruneResult
    evaluation: EvaluationResult

    @property
    def model_name(self) -> str:
        return self.opened.loaded.name

    def matrix(self, name: str) -> np.ndarray:
        """The layer's original (fan_in, units) matrix."""
        layer = next(layer for layer in self.opened.layers if layer.name == name)
        return layer.as_matrix(layer.original)

    def kept(self, name: str, rows: slice = slice(None), cols: slice = slice(None)) -> np.ndarray:
        """The keep-mask of the layer's matrix[rows, cols] (all True for a layer this side does not prune)."""
        matrix = self.matrix(name)
        plan = self.result.plans.get(name)
        if plan is None:
            return np.ones(matrix[rows, cols].shape, bool)
        return plan.kept(matrix, rows, cols)

    def pruned_matrix(self, name: str, rows: slice = slice(None), cols: slice = slice(None)) -> np.ndarray:
        """matrix[rows, cols] as this side runs it: pruned weights are 0."""
        return np.where(self.kept(name, rows, cols), self.matrix(name)[rows, cols], 0).astype(np.float32)

    def sparsity(self, name: str) -> float:
        return self.result.layer(name).sparsity


@dataclass
class LayerComparison:
    name: str
    shape: tuple[int, int]  # (fan_in, units)
    sparsity_a: float
    sparsity_b: float
    jaccard: float  # |kept A and kept B| / |kept A or kept B|; 1.0 when both keep nothing


@dataclass
class Comparison:
    a: Side
    b: Side
    layers: list[LayerComparison]
    differing: np.ndarray  # indices of the test images whose predicted class differs
    labels: np.ndarray  # the true class of every test image
    images: np.ndarray = field(repr=False, default=None)  # the test samples (n, ...) as the data holds them
    data: str = ""  # what was read (Dataset.description)

    @property
    def same_model(self) -> bool:
        """True for two settings of one model, False for two checkpoints."""
        return self.a.opened is self.b.opened

    @property
    def overlap(self) -> dict[str, float]:
        return {layer.name: layer.jaccard for layer in self.layers}

    def difference(self, name: str, rows: slice = slice(None), cols: slice = slice(None)) -> np.ndarray:
        """For two checkpoints, delta-w = B's pruned weights - A's; for two settings of one model,
        the kept/pruned disagreement: +1 kept only by A, -1 kept only by B, 0 where they agree."""
        if self.same_model:
            return self.a.kept(name, rows, cols).astype(np.float32) - self.b.kept(name, rows, cols)
        return self.b.pruned_matrix(name, rows, cols) - self.a.pruned_matrix(name, rows, cols)

    def as_dict(self) -> dict:
        def side(s: Side) -> dict:
            return {
                "model": str(s.opened.loaded.path),
                "spec": spec_of(s.config),
                "criterion": s.config.criterion,
                "method": s.config.method,
                "k": s.config.k,
                "scope": s.config.scope,
                "unit_mode": s.config.unit_mode,
                "included_layers": sorted(s.config.included),
                "accuracy": None if np.isnan(s.evaluation.accuracy) else s.evaluation.accuracy,
                "correct": s.evaluation.correct,
                "task": s.evaluation.task,
                "score": s.evaluation.score,
                "score_name": s.evaluation.score_name,
                "metrics": s.evaluation.metrics,
                "per_class_accuracy": [round(float(a), 6) for a in s.evaluation.per_class_accuracy],
                "preprocessing": s.evaluation.preprocessing,
                "sparsity_included": round(s.result.included_sparsity(), 6),
                "sparsity_per_layer": {layer.name: round(layer.sparsity, 6) for layer in s.result.layers},
            }

        return {
            "a": side(self.a),
            "b": side(self.b),
            "kind": "settings" if self.same_model else "checkpoints",
            "overlap": {name: round(value, 6) for name, value in self.overlap.items()},
            "differing": [int(i) for i in self.differing],
            "test_images": int(len(self.images)) if self.images is not None else int(len(self.labels)),
            "data": self.data,
        }


def matching_layers(opened_a, opened_b) -> list[tuple[str, tuple[int, int]]]:
    """(name, (fan_in, units)) of the prunable layers both models share; CompareError when they differ."""

    def layers(opened):
        return [(layer.name, (layer.rows, layer.columns)) for layer in opened.layers]

    a, b = layers(opened_a), layers(opened_b)
    if a == b:
        return a
    name_a, name_b = opened_a.loaded.name, opened_b.loaded.name
    if [n for n, _ in a] != [n for n, _ in b]:
        raise CompareError(
            f"{name_a} and {name_b} have different architectures: prunable layers "
            f"{', '.join(n for n, _ in a) or 'none'} against {', '.join(n for n, _ in b) or 'none'}."
        )
    name, shape_a, shape_b = next((n, sa, sb) for (n, sa), (_, sb) in zip(a, b) if sa != sb)
    raise CompareError(
        f"{name_a} and {name_b} have different architectures: layer {name} is "
        f"{shape_a[0]}x{shape_a[1]} in one and {shape_b[0]}x{shape_b[1]} in the other."
    )


def jaccard(kept_a: np.ndarray, kept_b: np.ndarray) -> float:
    union = int(np.count_nonzero(kept_a | kept_b))
    return 1.0 if union == 0 else int(np.count_nonzero(kept_a & kept_b)) / union


def _evaluate(
    opened, config: PruningConfig, evaluator: Evaluator, task: TaskState
) -> tuple[PruneResult, EvaluationResult]:
    pruner = opened.pruner
    result = pruner.prune(config)
    with pruner.applied(result):
        evaluation = evaluator.run(task, label=config.describe())
    return result, evaluation


@tensorflow_job()
def compare(
    opened_a,
    config_a: PruningConfig,
    opened_b,
    config_b: PruningConfig,
    data: Dataset,
    *,
    preprocessing: str = "auto",
    task: TaskState | None = None,
) -> Comparison:
    """Prune and evaluate both sides on ``data``'s test set; pass the same opened model twice to
    compare two settings of it. Leaves both models unpruned; run it from a TF job thread."""
    task = task or quiet()
    shapes = matching_layers(opened_a, opened_b)
    sides = []
    evaluators = {}
    for i, (opened, config) in enumerate(((opened_a, config_a), (opened_b, config_b))):
        part = task.sub(0.45 * i, 0.45 * (i + 1))
        if id(opened) not in evaluators:
            part.progress(0.0, f"Preparing {opened.loaded.name} for the test set")
            evaluators[id(opened)] = opened.evaluator_on(data, preprocessing)
        result, evaluation = _evaluate(opened, config, evaluators[id(opened)], part.sub(0.3, 1.0))
        sides.append(Side(opened, config, result, evaluation))
    a, b = sides
    layers = []
    for j, (name, shape) in enumerate(shapes):
        task.progress(0.9 + 0.1 * j / max(len(shapes), 1), f"Comparing the masks of {name}")
        layers.append(
            LayerComparison(name, shape, a.sparsity(name), b.sparsity(name), jaccard(a.kept(name), b.kept(name)))
        )
    from prune_viz.core.flips import flip_labels

    pa, pb = a.evaluation.predicted, b.evaluation.predicted
    differing = np.flatnonzero(pa != pb) if pa is not None and pb is not None else np.zeros(0, np.int64)
    labels = flip_labels(evaluators[id(opened_a)])[0] if pa is not None else np.zeros(0, np.int64)
    task.progress(1.0, "Compared")
    return Comparison(a, b, layers, differing, labels, data.x_test, data.description)
