"""Compaction: a physically smaller model without the dead units of a pruned one, computing what it computes.

The model is read as a graph of layers (a Sequential as the chain it is). From every producer
(``core.compaction_kinds``: Dense, Conv, transposed and separable convolutions, recurrent layers,
Embedding) its units are followed down a straight chain (one consumer at each step) through
channelwise layers to the next weighted layer, which drops the inputs of the dead units and folds
their constant output into its bias. A producer whose output branches, meets a layer with several
inputs or a layer prune-viz does not know keeps its units; when one of them is dead, compaction
refuses in one sentence saying why, and ``structure_problem`` says so before any pruning for the
layers a config prunes. Attention heads go wherever their layer sits: nothing outside it sees them.
The compacted model is rebuilt from the layers' configs with fewer units and given the cut weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from prune_viz.core.compaction_kinds import (
    BETWEEN,
    Recurrent,
    Rule,
    batch_norm_of,
    channelwise_kind,
    channelwise_problem,
    named_weights,
    rule_of,
)
from prune_viz.core.export_errors import CompactionError
from prune_viz.core.layer_kinds import layer_specs


@dataclass
class CompactedLayer:
    name: str
    units_before: int
    units_after: int
    kernel_shape_before: tuple
    kernel_shape_after: tuple


@dataclass
class Compaction:
    model: Any  # keras.Model
    layers: list[CompactedLayer]
    parameters_before: int
    parameters_after: int


@dataclass
class CouplingRow:
    layer: str  # the layer whose weights are useless
    after: str  # the layer whose dead units they read
    dead_inputs: int  # input rows (Dense) or input channels x positions fed by dead units
    useless_weights: int  # non-zero weights on those inputs


@dataclass
class DeadUnitCoupling:
    layers: list[CouplingRow]

    @property
    def useless_weights(self) -> int:
        return sum(row.useless_weights for row in self.layers)

    @property
    def dead_inputs(self) -> int:
        return sum(row.dead_inputs for row in self.layers)


# -- the model as a graph -----------------------------------------------------------------------


@dataclass(eq=False)
class _Node:
    layer: Any
    inputs: list[int]  # tensor keys
    outputs: list[int]
    shared: bool = False  # called more than once in the model

    @property
    def name(self) -> str:
        return self.layer.name

    @property
    def output(self) -> int | None:
        return self.outputs[0] if len(self.outputs) == 1 else None


@dataclass
class _Walk:
    """Where a producer's units go: through ``path`` to ``consumer``, or to the model's output
    (``consumer`` None), or nowhere it can follow (``blocked`` says why)."""

    producer: _Node
    path: list[_Node] = field(default_factory=list)
    consumer: _Node | None = None
    blocked: str | None = None

    @property
    def reaches_output(self) -> bool:
        return self.consumer is None and self.blocked is None


class _Graph:
    def __init__(self, model):
        import keras

        if model is None:
            raise CompactionError("Only Keras models can be compacted, not a bare SavedModel.")
        self.model = model
        self.sequential = isinstance(model, keras.Sequential)
        if self.sequential:
            layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
            self.nodes = [_Node(layer, [i], [i + 1]) for i, layer in enumerate(layers)]
            self.outputs = {len(layers)}
        else:
            operations = getattr(model, "operations", None)
            if operations is None or not getattr(model, "inputs", None):
                raise CompactionError("Only Sequential and Functional models can be compacted, not subclassed ones.")
            calls = _calls(model)
            self.nodes = [
                _Node(
                    op,
                    [id(t) for t in keras.tree.flatten(op.input)],
                    [id(t) for t in keras.tree.flatten(op.output)],
                    calls.get(op.name, 1) > 1,
                )
                for op in operations
                if type(op).__name__ != "InputLayer"
            ]
            self.outputs = {id(t) for t in model.outputs}
        for node in self.nodes:
            if getattr(node.layer, "layers", None):
                raise CompactionError(f"{node.name} is a nested model; only flat models of layers can be compacted.")
        self.consumers: dict[int, list[_Node]] = {}
        for node in self.nodes:
            for tensor in dict.fromkeys(node.inputs):
                self.consumers.setdefault(tensor, []).append(node)
        self.by_name = {node.name: node for node in self.nodes}

    def producers(self) -> list[_Node]:
        return [node for node in self.nodes if _role(node) == "producer"]

    def walk(self, producer: _Node) -> _Walk:
        """Follow ``producer``'s units down the chain to the layer that reads them."""
        name = producer.name
        problem = rule_of(producer.layer).problem(producer.layer)
        if problem or producer.shared or producer.output is None:
            why = problem or f"{name} is called more than once or has several outputs, so its units cannot be removed."
            return _Walk(producer, blocked=why)
        tensor, path, problems = producer.output, [], []
        while True:
            if tensor in self.outputs:  # its units are (part of) the model's output: they stay
                return _Walk(producer, path)
            consumers = self.consumers.get(tensor, [])
            if len(consumers) != 1:
                where = ", ".join(c.name for c in consumers) or "nothing"
                return _Walk(
                    producer,
                    path,
                    blocked=f"The output of {name} goes to {where}, and only units on straight chains of layers "
                    "can be removed.",
                )
            node = consumers[0]
            if node.shared or len(node.inputs) != 1:
                return _Walk(
                    producer,
                    path,
                    blocked=f"The output of {name} goes into {node.name} ({type(node.layer).__name__}), which takes "
                    "other inputs too or is called more than once, and only units on straight chains of layers "
                    "can be removed.",
                )
            rule = rule_of(node.layer)
            if rule is not None and rule.role == "producer" and rule.consumes:
                problems.append(rule.input_problem(node.layer))
                return _Walk(producer, path, node, next((p for p in problems if p), None))
            if channelwise_kind(node.layer) is None or node.output is None:
                return _Walk(
                    producer,
                    path,
                    blocked=f"A {type(node.layer).__name__} layer ({node.name}) follows {name}, and prune-viz "
                    f"removes units across {BETWEEN} only.",
                )
            problems.append(channelwise_problem(node.layer))
            path.append(node)
            tensor = node.output


def _calls(model) -> dict[str, int]:
    """How many times each layer is called in a Functional model (its config's inbound nodes)."""
    try:
        layers = model.get_config().get("layers", [])
    except Exception:  # a config Keras cannot write: the rebuild says so
        return {}
    return {entry.get("name"): len(entry.get("inbound_nodes") or [None]) for entry in layers}


def _role(node: _Node) -> str | None:
    rule = rule_of(node.layer)
    return rule.role if rule is not None else None


# -- what a config prunes, before any pruning ---------------------------------------------------


def structure_problem(model, tensors, unit_mode: str | None = None) -> str | None:
    """Why the units of ``tensors`` (PrunableLayers unit pruning will cut) cannot be removed from
    ``model``, in one sentence, or None. Looks at the layers only: whether a zero-padded or
    transposed convolution can absorb the constant output of dead units depends on the pruning."""
    try:
        graph = _Graph(model)
        walks = {node.name: graph.walk(node) for node in graph.producers()}
    except CompactionError as exc:
        return str(exc)
    covered = {id(node) for walk in walks.values() if walk.consumer and not walk.blocked for node in walk.path}
    for tensor in tensors:
        node = graph.by_name.get(tensor.layer_path)
        role = _role(node) if node is not None else None
        if role is None:
            return (
                f"prune-viz cannot remove the units of {tensor.layer_path} ({tensor.kind}); leave it out of unit "
                "pruning to compact the other layers."
            )
        rule = rule_of(node.layer)
        if role == "producer":
            walk = walks[node.name]
            if walk.blocked:
                return f"{walk.blocked.rstrip('.')}; leave {node.name} out of unit pruning to compact the other layers."
            if unit_mode == "kernel" and isinstance(rule, Recurrent) and not walk.reaches_output:
                return Recurrent.kept_biases(node.name)
        elif role == "depthwise":
            problem = rule.problem(node.layer)
            if problem or id(node) not in covered:
                why = (problem or _depthwise_alone(node.name)).rstrip(".")
                return f"{why}; leave {node.name} out of unit pruning to compact the other layers."
    return None


def _depthwise_alone(name: str) -> str:
    return (
        f"The units of {name} cannot be removed: a depthwise unit is an input channel, and no layer before it on a "
        "straight chain can drop that channel."
    )


# -- cutting ------------------------------------------------------------------------------------


class _Cut:
    """One layer's weights (masked kernels written in) and config as compaction cuts them."""

    def __init__(self, layer, kernels: dict):
        self.layer = layer
        self.rule: Rule | None = rule_of(layer)
        self.values = _current_values(layer, kernels)
        self.w = named_weights(layer, self.rule, self.values) if self.rule is not None else None
        self.config: dict | None = None
        if self.rule is not None:
            self.units_before = self.rule.units(self.w)
            self.shape_before = tuple(self.w[self.rule.main].shape)

    def edit_config(self) -> dict:
        if self.config is None:
            self.config = self.layer.get_config()
        return self.config

    def final_values(self) -> list[np.ndarray]:
        return list(self.w.values()) if self.w is not None else self.values

    def report(self) -> CompactedLayer:
        after = self.rule.units(self.w)
        return CompactedLayer(
            self.layer.name, self.units_before, after, self.shape_before, tuple(self.w[self.rule.main].shape)
        )


def _current_values(layer, kernels: dict) -> list[np.ndarray]:
    """The layer's weights, in order, with the masked kernels of its prunable tensors."""
    weights = list(getattr(layer, "weights", []))
    if not weights:
        return []
    tensor_of = {
        id(spec.variable): path if spec.suffix is None else f"{path}/{spec.suffix}"
        for path, spec in layer_specs(layer, layer.name)
    }
    return [
        np.array(kernels[tensor_of[id(w)]]) if tensor_of.get(id(w)) in kernels else np.array(w.numpy()) for w in weights
    ]


def _positions(flatten) -> int:
    return int(np.prod(flatten.input.shape[1:-1]))


def _cut(model, kernels: dict) -> tuple[_Graph, dict[int, _Cut], list[CouplingRow]]:
    """Every layer's cut weights and configs, and the consumers' weights that read dead units."""
    graph = _Graph(model)
    cuts = {id(node.layer): _Cut(node.layer, kernels) for node in graph.nodes}
    rows, covered = [], set()
    for node in graph.producers():
        walk = graph.walk(node)
        if walk.reaches_output:
            continue
        if walk.blocked:
            if _anything_dead(walk, cuts):
                raise CompactionError(walk.blocked)
            continue
        covered.update(id(step) for step in walk.path)
        row = _cut_chain(walk, cuts)
        if row is not None:
            rows.append(row)
    for node in graph.nodes:
        cut = cuts[id(node.layer)]
        if _role(node) == "depthwise" and id(node) not in covered and cut.rule.own_dead(cut.w).any():
            raise CompactionError(_depthwise_alone(node.name))
        if _role(node) == "heads":
            dead, _ = cut.rule.dead(node.layer, cut.w)
            if dead.all():
                raise CompactionError(f"Every head of {node.name} is pruned; a compacted layer needs at least one.")
            if dead.any():
                cut.rule.keep_units(node.layer, cut.w, cut.edit_config(), np.flatnonzero(~dead))
    return graph, cuts, rows


def _anything_dead(walk: _Walk, cuts: dict) -> bool:
    cut = cuts[id(walk.producer.layer)]
    if cut.rule.dead(walk.producer.layer, cut.w)[0].any():
        return True
    return any(
        cuts[id(step.layer)].rule.own_dead(cuts[id(step.layer)].w).any()
        for step in walk.path
        if channelwise_kind(step.layer) == "depthwise"
    )


def _cut_chain(walk: _Walk, cuts: dict) -> CouplingRow | None:
    """Cut the dead units of ``walk``'s producer (and the channels that depthwise units on the way
    leave unread) from the producer and the layers on the way; the consumer absorbs their constants."""
    producer, consumer = walk.producer, walk.consumer
    top = cuts[id(producer.layer)]
    units = top.rule.units(top.w)
    dead, const = top.rule.dead(producer.layer, top.w)
    removed = dead.copy()  # over the producer's units, the sources of every channel on the way
    source = np.arange(units)
    for step in walk.path:  # a depthwise unit fed by one source only leaves that source unread
        kind = channelwise_kind(step.layer)
        if kind == "flatten":
            source = np.tile(source, _positions(step.layer))
        elif kind == "depthwise":
            cut = cuts[id(step.layer)]
            own = cut.rule.own_dead(cut.w)
            for s in np.unique(source[own]):
                removed[s] |= bool(np.all(own[source == s]))
            source = np.repeat(source, cut.w["kernel"].shape[-1])
    if not removed.any():
        return None
    keep = np.flatnonzero(~removed)
    if len(keep) == 0:
        raise CompactionError(f"Every unit of {producer.name} is pruned; a compacted layer needs at least one.")
    top.rule.keep_units(producer.layer, top.w, top.edit_config(), keep)
    value = np.where(dead, const, np.nan)  # per channel: the constant it carries, NaN where not constant
    source = np.arange(units)
    for step in walk.path:
        kind, layer, gone = channelwise_kind(step.layer), step.layer, removed[source]
        known = ~np.isnan(value)
        if kind == "elementwise":
            out = np.asarray(layer(np.nan_to_num(value)[None, :].astype(np.float32)), np.float64)[0]
            value = np.where(known, out, np.nan)
        elif kind == "flatten":
            positions = _positions(layer)
            source, value = np.tile(source, positions), np.tile(value, positions)
        elif kind == "zero_padding" and np.any(gone & known & (np.nan_to_num(value) != 0)):
            raise CompactionError(
                f"{layer.name} zero-pads the constant output of the dead units of {producer.name}, "
                "so it is no longer constant."
            )
        elif kind == "batch_norm":
            value = np.where(known, batch_norm_of(layer, np.nan_to_num(value)), np.nan)
            cut = cuts[id(layer)]
            cut.values = [v[~gone] for v in cut.values]
        elif kind == "depthwise":
            cut = cuts[id(layer)]
            multiplier = cut.w["kernel"].shape[-1]
            value = cut.rule.through(layer, cut.w, value, producer.name)
            cut.rule.drop_channels(cut.w, ~gone)
            source = np.repeat(source, multiplier)
    gone = removed[source]
    if np.any(np.isnan(value[gone])):  # every removed channel carries a constant by now
        raise AssertionError(f"a channel removed after {producer.name} carries no constant")
    bottom = cuts[id(consumer.layer)]
    row = CouplingRow(consumer.name, producer.name, int(gone.sum()), bottom.rule.dead_input_weights(bottom.w, ~gone))
    bottom.rule.absorb(consumer.layer, bottom.w, ~gone, np.nan_to_num(value))
    return row


# -- rebuilding ---------------------------------------------------------------------------------


def _rebuild(graph: _Graph, cuts: dict):
    import keras

    model = graph.model
    made = {}

    def clone(layer):
        cut = cuts.get(id(layer))
        config = cut.config if cut is not None and cut.config is not None else layer.get_config()
        try:
            new = type(layer).from_config(config)
        except Exception as exc:  # custom layers without a faithful config
            raise CompactionError(f"{layer.name} cannot be rebuilt from its config ({type(exc).__name__}).") from exc
        made[id(layer)] = new
        return new

    if graph.sequential:
        first = model.inputs[0]
        new_layers = [clone(node.layer) for node in graph.nodes]
        shape = tuple(first.shape[1:])
        compact = keras.Sequential([keras.Input(shape, dtype=first.dtype), *new_layers], name=f"{model.name}_compact")
    else:
        compact = keras.models.clone_model(model, clone_function=clone)
    for node in graph.nodes:
        values = cuts[id(node.layer)].final_values()
        if values:
            made[id(node.layer)].set_weights(values)
    return compact


def parameters(model) -> int:
    return int(sum(int(np.prod(w.shape)) for w in model.weights))


def compact_model(model, kernels: dict[str, np.ndarray]) -> Compaction:
    """A smaller model computing what ``model`` with ``kernels`` (by prunable tensor name) computes.

    Dead units are removed from their layer and from the inputs of the next weighted layer, their
    constant output folded into its bias; dead attention heads leave their layer. Biases and
    normalisation parameters are read from the model. Raises CompactionError for what it cannot do.
    """
    graph, cuts, _rows = _cut(model, kernels)
    compact = _rebuild(graph, cuts)
    report = [cuts[id(node.layer)].report() for node in graph.nodes if cuts[id(node.layer)].rule is not None]
    return Compaction(compact, report, parameters(model), parameters(compact))


def dead_unit_coupling(model, kernels: dict[str, np.ndarray]) -> DeadUnitCoupling:
    """Non-zero weights of a layer that read a dead unit of the layer before it (they see only a constant)."""
    return DeadUnitCoupling(_cut(model, kernels)[2])


__all__ = [
    "CompactedLayer",
    "Compaction",
    "CouplingRow",
    "DeadUnitCoupling",
    "compact_model",
    "dead_unit_coupling",
    "parameters",
    "structure_problem",
]
