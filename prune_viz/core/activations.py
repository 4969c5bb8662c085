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

    name: str  # the Keras layer with the prunable tensor, "outer/inner" in a nested model
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
    notes: list[str] = field(default_factory=list)  # the nested models whose layers are not shown, and why


def activations_problem(opened) -> str | None:
    """Why the open model's activations cannot be shown (one sentence), or None."""
    if opened is None:
        return "Open a model first."
    model = opened.loaded.keras_model
    if model is None or opened.loaded.weights_only:
        return "Activations need the whole model, and this one was opened from its weights only."
    if not _inputs_of(model):
        return "Activations need a model built on keras.Input (a Functional or Sequential model)."
    if not _has_rows(model):
        return "This model has no Dense, convolution or attention layer whose output can be read."
    return None


def _inputs_of(model) -> list:
    try:
        return list(model.inputs or [])
    except (AttributeError, ValueError):  # a subclassed model that was never called on a keras.Input
        return []


def unit_rows(model) -> list[list]:
    """The model's own rows: for each of its layers with prunable tensors, that layer and the per-unit
    layers right after it (its consumer in a Functional model, the next layer in a Sequential). A nested
    model's rows are its own (``nested_models``)."""
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


def nested_models(model) -> list:
    """The model's children that are models of their own (a Sequential inside a Functional model, a backbone
    used as a layer), in model order: their layers' rows come from a probe on their own graph."""
    return [child for child in model.layers if _is_model(child)]


def _has_rows(model) -> bool:
    """Whether the model, or a nested model built on keras.Input, has a row to show (without building a probe)."""
    return bool(unit_rows(model)) or any(_inputs_of(child) and _has_rows(child) for child in nested_models(model))


def _is_model(layer) -> bool:
    return bool(getattr(layer, "layers", None))


def _outer(layer, which: str) -> list:
    """A nested model's input or output tensors where it is called in the model holding it. A Functional model's
    own ``input`` and ``output`` are those of its inner graph, so the property of keras.layers.Layer (which
    says where a layer is called) is read instead. Raises ValueError for a model called more than once."""
    import keras

    found = getattr(keras.layers.Layer, which).fget(layer)
    return list(found) if isinstance(found, (list, tuple)) else [found]


def _calls(model) -> dict[str, int]:
    """How many times a Functional model calls each of its layers (from its config), by name; empty if unknown."""
    try:
        layers = model.get_config().get("layers", [])
    except (NotImplementedError, TypeError, ValueError, AttributeError):
        return {}
    return {
        layer["name"]: len(layer.get("inbound_nodes") or [])
        for layer in layers
        if isinstance(layer, dict) and "name" in layer
    }


@dataclass(frozen=True)
class ProbeRow:
    """One row a probe gives: its path ("block/conv", as the model's prunable tensors name it) and its chain."""

    path: str
    chain: list

    @property
    def label(self) -> str:
        return " -> ".join([self.path, *(layer.name for layer in self.chain[1:])])


class _Probe:
    """The keras.Model giving every row's output (and the attention layers' inputs) for one model; the layers of
    a nested model come from a probe of its own, run on the nested model's input as this probe gives it."""

    def __init__(self, model, prefix: str = ""):
        import keras

        own = unit_rows(model)
        outputs = [chain[-1].output for chain in own]
        self.attention_inputs = {}
        for chain in own:
            head = chain[0]
            if ATTENTION in _class_names(head):
                inputs = head.input if isinstance(head.input, (list, tuple)) else [head.input]
                self.attention_inputs[head.name] = (len(outputs), len(inputs))
                outputs.extend(inputs)
        self.nested: dict[str, tuple[int, int, _Probe]] = {}  # nested model -> (start, count, its probe)
        self.notes: list[str] = []  # the nested models whose layers are not shown, each in one sentence
        nested = nested_models(model)
        calls = _calls(model) if nested else {}
        for child in nested:
            path = f"{prefix}{child.name}"
            try:
                feeding = _outer(child, "input")
            except (AttributeError, ValueError):
                self.notes.append(f"{path}'s input cannot be read where it is called, so its layers are not shown.")
                continue
            if calls.get(child.name, 1) > 1:
                self.notes.append(
                    f"{path} is called {calls[child.name]} times: its layers are shown for its first call."
                )
            if not _inputs_of(child):
                self.notes.append(f"{path} is not built on keras.Input, so its layers' outputs cannot be read.")
                continue
            probe = _Probe(child, f"{path}/")
            self.notes.extend(probe.notes)
            if probe.rows:
                self.nested[child.name] = (len(outputs), len(feeding), probe)
                outputs.extend(feeding)
        self.own = [ProbeRow(f"{prefix}{chain[0].name}", chain) for chain in own]
        heads = {chain[0].name: row for chain, row in zip(own, self.own, strict=True)}
        self.rows: list[ProbeRow] = []  # in model order, nested models' rows where the nested model is
        self._where: list[tuple[str, int]] = []  # each row: ("", index in own) or (nested model, index in its rows)
        for child in model.layers:
            if child.name in heads:
                self.rows.append(heads[child.name])
                self._where.append(("", self.own.index(heads[child.name])))
            elif child.name in self.nested:
                probe = self.nested[child.name][2]
                self.rows.extend(probe.rows)
                self._where.extend((child.name, i) for i in range(len(probe.rows)))
        self.inputs = _inputs_of(model)
        self.model = keras.Model(self.inputs, outputs) if outputs else None

    def run(self, x) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
        """(each row's output for ``x``, each attention layer's scores (batch, heads, T, S) by its path)."""
        if self.model is None:
            return [], {}
        found = self.model(list(x) if isinstance(x, list) else [x], training=False)
        found = found if isinstance(found, (list, tuple)) else [found]
        outputs = [np.asarray(t) for t in found[: len(self.own)]]
        scores = {}
        for row in self.own:
            head = row.chain[0]
            if head.name in self.attention_inputs:
                start, count = self.attention_inputs[head.name]
                query, value, *key = found[start : start + count]
                try:
                    _out, weights = head(query, value, key[0] if key else None, return_attention_scores=True)
                    scores[row.path] = np.asarray(weights)
                except (TypeError, ValueError):  # called in a way the probe cannot repeat: its output only
                    continue
        inner = {}
        for name, (start, count, probe) in self.nested.items():
            inner[name], their_scores = probe.run([np.asarray(t) for t in found[start : start + count]])
            scores.update(their_scores)
        return [outputs[i] if not name else inner[name][i] for name, i in self._where], scores


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
    ordered = []
    for i, row in enumerate(probe.rows):
        ordered.append(_row(row, unpruned, pruned, i, _pruned_units(opened, result, row.path)))
        if row.path in unpruned[1] and row.path in pruned[1]:
            ordered.append(_heads(row.path, unpruned[1][row.path][0], pruned[1][row.path][0]))
    prediction = _prediction(unpruned[0][-1], pruned[0][-1], probe, opened)
    return Activations(config, sample, ordered, prediction, raw, list(probe.notes))


def _row(row: ProbeRow, unpruned, pruned, i: int, pruned_units: np.ndarray | None) -> LayerActivations:
    before, after = unpruned[0][i][0], pruned[0][i][0]  # the batch's first sample
    kind = {1: "bars", 2: "sequence", 3: "maps"}.get(before.ndim)
    if kind is None:  # a 3D convolution's volumes: each unit's values in a row
        before, after = before.reshape(-1, before.shape[-1]), after.reshape(-1, after.shape[-1])
        kind = "sequence"
    units = before.shape[-1]
    if pruned_units is None or len(pruned_units) != units:
        pruned_units = np.zeros(units, bool)
    return LayerActivations(
        row.path,
        row.label,
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
    last = probe.rows[-1].chain[-1] if probe.rows and "/" not in probe.rows[-1].path else None
    outputs = getattr(opened.loaded.keras_model, "outputs", None) or []
    if last is None or len(outputs) != 1 or last.output is not outputs[0] or before[0].ndim != 1:
        return None, None
    if before[0].shape[0] < 2:
        return None, None
    return int(np.argmax(before[0])), int(np.argmax(after[0]))
