"""Each layer's activations for one input, unpruned and pruned: what the units of a model do.

A prunable layer's units are shown as they leave it: its output, or the output of the per-unit layers
right after it (a BatchNormalization, an Activation or ReLU), so that "conv1 -> bn1 -> re_lu" is one
row whose channels are conv1's filters. The intermediate outputs come from one ``keras.Model`` on
those layers' outputs (Keras public API), run on the original weights and on the current pruning
through the Pruner's one apply-then-restore of kernels (``pruner.applied``). A MultiHeadAttention
layer also gives its heads' attention scores, from calling the layer on its inputs with
``return_attention_scores=True``.

A unit is *pruned* when the current plan zeroes every one of its incoming weights (the plan's own
keep-mask, never re-derived), and *dead under the pruning* when it outputs exactly zero everywhere for
this input under the pruning while it did not unpruned.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np

from prune_viz.core.errors import UserError
from prune_viz.core.layer_kinds import layer_specs
from prune_viz.core.plan import UnitPlan
from prune_viz.core.pruning import PruningConfig
from prune_viz.core.tasks import TaskState, quiet, tensorflow_job

# layers that act on each unit (channel) of the layer before them on their own: a unit's output is theirs
PER_UNIT = (
    "BatchNormalization",
    "LayerNormalization",
    "Activation",
    "ReLU",
    "LeakyReLU",
    "ELU",
    "PReLU",
    "Softmax",
)
ATTENTION = "MultiHeadAttention"


class ActivationsUnavailable(UserError):
    """This model's activations cannot be shown (one sentence)."""


@dataclass(frozen=True)
class Sample:
    """The chosen input: the test set's ``index``-th item, or a raw ``image`` as the data holds its samples
    (a drawn 28x28 digit, a gallery's test image)."""

    index: int | None = None
    image: np.ndarray | None = field(default=None, compare=False)
    label: object = None
    source: str = ""  # in words: "test item 12", "the drawing pad"

    def describe(self) -> str:
        return self.source or (f"test item {self.index}" if self.index is not None else "the chosen image")


@dataclass
class LayerActivations:
    """One row: a prunable layer's units for one input, unpruned and pruned."""

    name: str  # the Keras layer with the prunable tensor
    label: str  # "conv1 -> bn1 -> re_lu"
    kind: str  # "maps" (H, W, units), "bars" (units,), "sequence" (T, units) or "heads" (T, S, heads)
    unpruned: np.ndarray
    pruned: np.ndarray
    pruned_units: np.ndarray  # bool per unit (last axis): every incoming weight is zeroed by the plan
    dead_units: np.ndarray  # bool per unit: all zero under the pruning for this input, not so unpruned

    @property
    def units(self) -> int:
        return int(self.unpruned.shape[-1])


@dataclass
class Activations:
    config: PruningConfig
    sample: Sample
    layers: list[LayerActivations]
    prediction: tuple[int | None, int | None] = (None, None)  # the class unpruned, pruned (classifiers)
    raw: np.ndarray | None = None  # the sample as the data holds it (an image's pixels)


def activations_problem(opened) -> str | None:
    """Why the open model's activations cannot be shown (one sentence), or None."""
    if opened is None:
        return "Open a model first."
    model = opened.loaded.keras_model
    if model is None or opened.loaded.weights_only:
        return "Activations need the whole model, and this one was opened from its weights only."
    if not _inputs_of(model):
        return "Activations need a model built on keras.Input (a Functional or Sequential model)."
    if not unit_rows(model):
        return "This model has no Dense, convolution or attention layer at its top level to show."
    return None


def _inputs_of(model) -> list:
    try:
        return list(model.inputs or [])
    except (AttributeError, ValueError):  # a subclassed model that was never called on a keras.Input
        return []


def unit_rows(model) -> list[list]:
    """The rows shown: for each top-level layer with prunable tensors, that layer and the per-unit
    layers right after it (its consumer in a Functional model, the next layer in a Sequential)."""
    children = [child for child in model.layers if type(child).__name__ != "InputLayer"]
    sequential = type(model).__name__ == "Sequential"
    rows = []
    for i, child in enumerate(children):
        if getattr(child, "layers", None) or not list(layer_specs(child, child.name)):
            continue
        chain = [child]
        for following in children[i + 1 :]:
            if not _is_per_unit(following) or not _takes_output_of(following, chain[-1], sequential):
                break
            chain.append(following)
        rows.append(chain)
    return rows


def _class_names(layer) -> set[str]:
    return {cls.__name__ for cls in type(layer).__mro__}


def _is_per_unit(layer) -> bool:
    return bool(_class_names(layer) & set(PER_UNIT))


def _takes_output_of(layer, before, sequential: bool) -> bool:
    if sequential:
        return True  # called only for the layer right after the chain's last
    try:
        return layer.input is before.output
    except (AttributeError, ValueError):  # a shared layer has no single input or output
        return False


class _Probe:
    """The keras.Model giving every row's output (and the attention layers' inputs) for one model."""

    def __init__(self, model):
        import keras

        self.rows = unit_rows(model)
        outputs, self.attention_inputs = [], {}
        for chain in self.rows:
            outputs.append(chain[-1].output)
        for chain in self.rows:
            head = chain[0]
            if ATTENTION in _class_names(head):
                inputs = head.input if isinstance(head.input, (list, tuple)) else [head.input]
                self.attention_inputs[head.name] = (len(outputs), len(inputs))
                outputs.extend(inputs)
        self.inputs = _inputs_of(model)
        self.model = keras.Model(self.inputs, outputs)

    def run(self, x: np.ndarray) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
        """(each row's output for ``x``, each attention layer's scores (batch, heads, T, S))."""
        found = self.model(list(x) if isinstance(x, list) else [x], training=False)
        found = found if isinstance(found, (list, tuple)) else [found]
        outputs = [np.asarray(t) for t in found[: len(self.rows)]]
        scores = {}
        for chain in self.rows:
            head = chain[0]
            if head.name in self.attention_inputs:
                start, count = self.attention_inputs[head.name]
                query, value, *key = found[start : start + count]
                try:
                    _out, weights = head(query, value, key[0] if key else None, return_attention_scores=True)
                    scores[head.name] = np.asarray(weights)
                except (TypeError, ValueError):  # called in a way the probe cannot repeat: its output only
                    continue
        return outputs, scores


_probes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # keras model -> _Probe


def _probe(model) -> _Probe:
    probe = _probes.get(model)
    if probe is None:
        probe = _probes[model] = _Probe(model)
    return probe


def model_input(evaluator, sample: Sample) -> tuple[np.ndarray, np.ndarray]:
    """(the raw sample, ``sample`` as the evaluator feeds the model: scaled like the test set, a batch of one
    padded to a fixed batch size)."""
    if sample.index is not None:
        count = len(evaluator.raw)
        if not 0 <= sample.index < count:
            raise UserError(f"The test set has items 0 to {count - 1}, not {sample.index}.")
        raw = evaluator.raw[sample.index : sample.index + 1]
    else:
        raw = np.asarray(sample.image)
        if evaluator.is_images:
            raw = raw.astype(np.uint8).reshape((-1,) + evaluator.raw.shape[1:])
        else:
            raw = raw.reshape((-1,) + evaluator.raw.shape[1:])
    x = evaluator.feed(raw[:1])
    fixed = evaluator.layout.fixed_batch
    if fixed and fixed > 1:
        x = np.concatenate([x, np.zeros((fixed - 1,) + x.shape[1:], x.dtype)])
    return raw[0], x


def compute_activations(session, sample: Sample, config: PruningConfig, task: TaskState | None = None) -> Activations:
    """Every row's activations for ``sample``, on the original weights and under ``config`` (a worker job:
    it holds the TensorFlow job lock and writes the pruned kernels only inside ``pruner.applied``)."""
    task = task or quiet()
    with tensorflow_job():
        opened = session.model
        if problem := activations_problem(opened):
            raise ActivationsUnavailable(problem)
        evaluator = session.evaluator(task.sub(0.0, 0.6))
        raw, x = model_input(evaluator, sample)
        probe = _probe(opened.loaded.keras_model)
        pruner = opened.pruner
        task.progress(0.6, "Running the unpruned model")
        pruner.restore()
        unpruned = probe.run(x)
        result = pruner.prune(config)
        if config.k:
            task.progress(0.8, "Running the pruned model")
            with pruner.applied(result):
                pruned = probe.run(x)
        else:
            pruned = unpruned
        task.progress(1.0, "Activations ready")
    rows = [
        _row(chain, unpruned, pruned, i, _pruned_units(opened, result, chain[0].name))
        for i, chain in enumerate(probe.rows)
    ]
    heads = [
        _heads(chain[0].name, unpruned[1][chain[0].name][0], pruned[1][chain[0].name][0])
        for chain in probe.rows
        if chain[0].name in unpruned[1]
    ]
    ordered = []
    for row in rows:
        ordered.append(row)
        ordered.extend(h for h in heads if h.name == row.name)
    prediction = _prediction(unpruned[0][-1], pruned[0][-1], probe, opened)
    return Activations(config, sample, ordered, prediction, raw)


def _row(chain, unpruned, pruned, i: int, pruned_units: np.ndarray | None) -> LayerActivations:
    before, after = unpruned[0][i][0], pruned[0][i][0]  # the batch's first sample
    kind = {1: "bars", 2: "sequence", 3: "maps"}.get(before.ndim)
    if kind is None:  # a 3D convolution's volumes: each unit's values in a row
        before, after = before.reshape(-1, before.shape[-1]), after.reshape(-1, after.shape[-1])
        kind = "sequence"
    units = before.shape[-1]
    if pruned_units is None or len(pruned_units) != units:
        pruned_units = np.zeros(units, bool)
    return LayerActivations(
        chain[0].name,
        " -> ".join(layer.name for layer in chain),
        kind,
        before.astype(np.float32),
        after.astype(np.float32),
        pruned_units,
        dead_units(before, after),
    )


def _heads(name: str, before: np.ndarray, after: np.ndarray) -> LayerActivations:
    """An attention layer's scores (heads, T, S) as a row of (T, S) maps, one per head."""
    before, after = np.moveaxis(before, 0, -1).astype(np.float32), np.moveaxis(after, 0, -1).astype(np.float32)
    heads = before.shape[-1]
    return LayerActivations(
        name, f"{name}: attention heads", "heads", before, after, np.zeros(heads, bool), dead_units(before, after)
    )


def dead_units(unpruned: np.ndarray, pruned: np.ndarray) -> np.ndarray:
    """Bool per unit (last axis): all zero under the pruning while not all zero unpruned."""
    axes = tuple(range(unpruned.ndim - 1))
    silent = ~np.any(pruned != 0, axis=axes) if axes else pruned == 0
    alive = np.any(unpruned != 0, axis=axes) if axes else unpruned != 0
    return np.asarray(silent & alive, bool)


def _pruned_units(opened, result, layer_name: str) -> np.ndarray | None:
    """Bool per output unit of the layer's tensor whose columns are its units (Dense, Conv): True where the
    plan zeroes the whole column. None for layers whose units are not columns."""
    tensor = next(
        (t for t in opened.layers if t.layer_path == layer_name and t.column_units is None and t.row_units is None),
        None,
    )
    if tensor is None:
        return None
    plan = result.plans.get(tensor.name)
    if plan is None:
        return np.zeros(tensor.columns, bool)
    if isinstance(plan, UnitPlan) and not plan.mapped:
        return ~np.asarray(plan.kept_units)
    return ~plan.kept(tensor.as_matrix(tensor.original)).any(axis=0)


def _prediction(before: np.ndarray, after: np.ndarray, probe, opened) -> tuple[int | None, int | None]:
    """The class of the last row's output, unpruned and pruned, when it is the model's class scores."""
    last = probe.rows[-1][-1] if probe.rows else None
    outputs = getattr(opened.loaded.keras_model, "outputs", None) or []
    if last is None or len(outputs) != 1 or last.output is not outputs[0] or before[0].ndim != 1:
        return None, None
    if before[0].shape[0] < 2:
        return None, None
    return int(np.argmax(before[0])), int(np.argmax(after[0]))
