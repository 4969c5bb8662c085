"""The list of prunable tensors of a model, each with its 2-D view and its units.

A prunable tensor (``PrunableLayer``) is one weight variable of rank >= 2: a Dense or convolution
kernel, an LSTM's kernel or recurrent kernel, an embedding table, an attention head's projections,
or any other trainable weight. ``core.layer_kinds`` says, per Keras layer kind, which tensors a layer
has, how each is seen as a (rows, columns) matrix (a C-order reshape: a view, never a copy) and what
one unit is. For Dense and Conv kernels the rows are a unit's inputs and column j is unit j; other
kinds map columns and rows to units, and tensors of one layer may share units (a *unit group*).
Biases are never pruned by themselves: a tensor's *unit vectors* (its bias, and gamma and beta of a
BatchNormalization that directly follows it) are zeroed with its units only when unit pruning
removes units (unit mode "remove").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from prune_viz.core.io import LoadedModel, variable_copy
from prune_viz.core.layer_kinds import TensorSpec, kind_of, layer_specs, rank2_entries, units_normalised_by_next

_RANK_KINDS = {2: "Dense", 3: "Conv1D", 4: "Conv2D"}
_CLASSIC = {"Dense", "Conv1D", "Conv2D"}  # kinds whose matrix label reads as it always did


@dataclass
class UnitVector:
    """A per-unit vector that belongs to a layer's units: zeroed with a removed unit."""

    label: str  # "bias", or "<batch norm layer>/gamma" and ".../beta"
    variable: Any  # tf.Variable; written only through the Pruner
    original: np.ndarray  # as opened; never modified
    unit_of: np.ndarray | None = None  # flat entry -> its unit (-1: none); None: entry i is unit i
    source: Any = None  # the Keras variable (the model's own, for finding it in a clone)

    def removed_entries(self, removed_units: np.ndarray) -> np.ndarray:
        """Bool of the vector's shape: the entries that belong to a removed unit."""
        if self.unit_of is None:
            return np.asarray(removed_units, bool).reshape(self.original.shape)
        return np.asarray(removed_units, bool)[self.unit_of].reshape(self.original.shape)


@dataclass
class PrunableLayer:
    """One prunable tensor (a "layer" for the Dense and Conv kernels it was first written for)."""

    name: str  # the layer path for a layer's only tensor ("dense_1"), else "<layer path>/<tensor>"
    kind: str  # "Dense", "Conv2D", "LSTM recurrent kernel", "MultiHeadAttention value", ...
    variable: Any  # tf.Variable holding the kernel; written only through the Pruner
    original: np.ndarray  # the kernel as opened; never modified
    is_output: bool = False
    unit_vectors: list[UnitVector] = field(default_factory=list)  # bias first, then a following BN's
    batch_norm: str | None = None  # the BatchNormalization layer right after this one, if any
    rows: int = 0  # the matrix view's rows (0: every axis but the last)
    unit_count: int | None = None  # units of its unit group (None: one per column; 0: no units)
    column_units: np.ndarray | None = None  # column -> unit (None: column j is unit j)
    row_units: np.ndarray | None = None  # row -> unit (None: rows belong to no unit)
    group: str = ""  # the unit group's name: tensors of one group are unit-pruned together
    layer_path: str = ""  # the Keras layer it belongs to
    unit_definition: str = ""
    row_label: str = "inputs"
    column_label: str = "units"
    source: Any = None  # the Keras variable (the model's own, for finding it in a clone)

    def __post_init__(self):
        if not self.rows:
            self.rows = self.size // self.shape[-1] if self.shape and self.shape[-1] else self.size
        self.group = self.group or self.name
        self.layer_path = self.layer_path or self.name

    @property
    def unit_vector_note(self) -> str:
        """What a removed unit takes with it besides its kernel column, in words ("" if nothing)."""
        parts = ["its bias"] if any(v.label == "bias" for v in self.unit_vectors) else []
        if self.batch_norm:
            parts.append(f"its channel of {self.batch_norm} (gamma, beta)")
        return " and ".join(parts)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.original.shape)

    @property
    def size(self) -> int:
        return int(self.original.size)

    @property
    def columns(self) -> int:
        return self.size // self.rows if self.rows else 0

    @property
    def units(self) -> int:
        """How many units its group has (0: it is weight-pruned only)."""
        return self.columns if self.unit_count is None else self.unit_count

    @property
    def fan_in(self) -> int:
        """The matrix view's rows: a Dense or Conv unit's incoming weights."""
        return self.rows

    @property
    def mapped(self) -> bool:
        """Whether its units are not simply its columns."""
        return self.column_units is not None or self.row_units is not None

    def as_matrix(self, kernel: np.ndarray) -> np.ndarray:
        """(rows, columns) view of a kernel-shaped array."""
        return np.asarray(kernel).reshape(self.rows, self.columns)

    def kept_columns(self, kept_units: np.ndarray) -> np.ndarray:
        """Bool per column: False where the column belongs to a pruned unit."""
        if self.column_units is None:
            return kept_units if self.row_units is None else np.ones(self.columns, bool)
        return np.where(self.column_units >= 0, kept_units[np.maximum(self.column_units, 0)], True)

    def kept_rows(self, kept_units: np.ndarray) -> np.ndarray:
        """Bool per row: False where the row belongs to a pruned unit."""
        if self.row_units is None:
            return np.ones(self.rows, bool)
        return np.where(self.row_units >= 0, kept_units[np.maximum(self.row_units, 0)], True)

    @property
    def axis_names(self) -> tuple[str, str]:
        """What the matrix view's rows and columns are, in words."""
        if self.kind in _CLASSIC and not self.mapped:
            return "input", "unit"
        return self.row_label, self.column_label

    @property
    def matrix_label(self) -> str:
        if self.kind in _CLASSIC and not self.mapped:
            if self.kind == "Dense":
                return f"{self.fan_in} inputs x {self.units} units"
            spatial = "x".join(str(d) for d in self.shape[:-2])
            return f"{spatial}x{self.shape[-2]} (k*k*in) x {self.units} filters"
        shape = "x".join(str(d) for d in self.shape)
        return f"{self.rows:,} {self.row_label} x {self.columns:,} {self.column_label} (shape {shape})"


def find_prunable_layers(loaded: LoadedModel) -> list[PrunableLayer]:
    """Prunable tensors in model order; the last Dense-like one (the output layer) is flagged."""
    if loaded.keras_model is not None:
        found = _tensors(_model_layers_in_order(loaded.keras_model), _following_batch_norms(loaded.keras_model))
    elif getattr(loaded, "stored_layers", None):
        found = _tensors(_stored_layers(loaded.stored_layers), {})
    else:
        found = [_raw_tensor(name, var, loaded.raw_variables) for name, var in loaded.raw_variables]
    if found:
        outputs = _output_layer_paths(loaded.keras_model, {t.layer_path for t in found}) or {found[-1].layer_path}
        for tensor in found:
            tensor.is_output = tensor.layer_path in outputs
    return found


def _output_layer_paths(model, prunable: set[str]) -> set[str]:
    """The paths of the prunable layers that give a multi-output model's outputs: for each head, the
    layer named in ``model.output_names``, or, when that one holds no prunable tensor (a Softmax or
    Activation after the head's Dense), the nearest prunable layers it is computed from. Empty for a
    model with one output (its last prunable layer is its output layer)."""
    names = list(getattr(model, "output_names", None) or []) if model is not None else []
    if len(names) < 2:
        return set()
    children = {child.name: child for child in getattr(model, "layers", [])}
    made_by = {}  # id(symbolic tensor) -> the top-level layer that outputs it
    for child in children.values():
        for tensor in _symbolic(child, "output"):
            made_by[id(tensor)] = child
    found, seen = set(), set()
    todo = [children[name] for name in names if name in children]
    while todo:
        layer = todo.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        nested = sorted(path for path in prunable if path.startswith(f"{layer.name}/"))
        if layer.name in prunable or nested:
            found.add(layer.name if layer.name in prunable else nested[-1])  # a nested model: its last one
            continue
        todo.extend(made_by[id(t)] for t in _symbolic(layer, "input") if id(t) in made_by)
    return found


def _symbolic(layer, which: str) -> list:
    """A layer's symbolic input or output tensors in its model (none for a layer called more than once)."""
    try:
        tensors = getattr(layer, which)
    except (AttributeError, ValueError):  # a shared layer has no single input or output
        return []
    return [t for t in (tensors if isinstance(tensors, (list, tuple)) else [tensors]) if t is not None]


def _raw_tensor(name: str, var, variables) -> PrunableLayer:
    """A bare SavedModel's variable: a kernel of a Dense/Conv (its units its columns), or any other
    weight (weight pruning only). A kernel beside a recurrent kernel is a recurrent layer's, whose
    units its columns are not."""
    parts = var.name.split(":")[0].split("/")
    siblings = {v.name.split(":")[0] for _n, v in variables}
    recurrent = "/".join([*parts[:-1], "recurrent_kernel"]) in siblings
    if parts[-1] == "kernel" and var.shape.rank in _RANK_KINDS and not recurrent:
        return PrunableLayer(name=name, kind=_RANK_KINDS[var.shape.rank], variable=var, original=variable_copy(var))
    return PrunableLayer(
        name=name,
        kind="SavedModel weight",
        variable=var,
        original=variable_copy(var),
        unit_count=0,
        row_label="leading axes",
        column_label="last axis",
    )


def _stored_layers(stored) -> Iterator[tuple[str, Any]]:
    """(path, rebuilt layer) of a weights-only model's layers of known kind; the rest as bare variables."""
    for entry in stored:
        if entry.layer is not None:
            yield entry.path, entry.layer
        else:
            yield entry.path, _BareVariables(entry)


class _BareVariables:
    """The variables of a stored layer whose class is unknown: each of rank >= 2 is a generic tensor."""

    def __init__(self, entry):
        self.name = entry.path.rsplit("/", 1)[-1]
        self.stored_class_name = entry.class_name or "stored"  # what its weights are called in the kind column
        self.weights = [_Named(v.variable, v.name) for v in entry.variables]


class _Named:
    """A stored variable under its stored name."""

    def __init__(self, variable, name: str):
        self.stored = variable
        self.name = name
        self.shape = tuple(variable.shape)
        self.trainable = True


def _tensors(layers, followers: dict) -> list[PrunableLayer]:
    found = []
    for path, layer in layers:
        for layer_path, spec in layer_specs(layer, path):
            found.append(_tensor(layer_path, spec, followers.get(id(layer)) if spec.batch_norm_follows else None))
    return found


def _tensor(layer_path: str, spec: TensorSpec, norm) -> PrunableLayer:
    variable = spec.variable.stored if isinstance(spec.variable, _Named) else spec.variable
    vectors = [
        UnitVector(v.label, _tf_variable(v.variable), variable_copy(v.variable), v.unit_of, v.variable)
        for v in spec.vectors
    ]
    if norm is not None:
        unit_of = next((v.unit_of for v in spec.vectors if v.label == "bias"), None)
        for part in ("gamma", "beta"):
            if getattr(norm, part, None) is not None:
                norm_variable = getattr(norm, part)
                vectors.append(
                    UnitVector(
                        f"{norm.name}/{part}",
                        _tf_variable(norm_variable),
                        variable_copy(norm_variable),
                        unit_of,
                        norm_variable,
                    )
                )
    name = layer_path if spec.suffix is None else f"{layer_path}/{spec.suffix}"
    return PrunableLayer(
        name=name,
        kind=spec.kind,
        variable=_tf_variable(variable),
        original=variable_copy(variable),
        unit_vectors=vectors,
        batch_norm=norm.name if norm is not None else None,
        rows=spec.rows,
        unit_count=spec.units,
        column_units=spec.column_units,
        row_units=spec.row_units,
        group=f"{layer_path}#{spec.group}" if spec.group else "",
        layer_path=layer_path,
        unit_definition=spec.unit_definition,
        row_label=spec.row_label,
        column_label=spec.column_label,
        source=variable,
    )


def _model_layers_in_order(model, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(qualified name, layer) of every leaf layer of a Keras model, nested models flattened."""
    for child in getattr(model, "layers", []):
        name = f"{prefix}{child.name}"
        if getattr(child, "layers", None):
            yield from _model_layers_in_order(child, name + "/")
        elif type(child).__name__ != "InputLayer":
            yield name, child


def keras_prunable_layers(model, prefix: str = "") -> Iterator[tuple[str, str, Any]]:
    """(qualified name, kind, layer) for every Keras layer with a prunable tensor, in model order.

    Layers of a nested model are named "outer/inner"."""
    for name, child in _model_layers_in_order(model, prefix):
        specs = list(layer_specs(child, name))
        if specs:
            yield name, specs[0][1].kind, child


def _following_batch_norms(model) -> dict:
    """id(prunable layer) -> the BatchNormalization or LayerNormalization (over the last axis, with a scale) that
    takes the layer's output directly as its input, in this model and its nested models."""
    found = {}
    children = [child for child in getattr(model, "layers", []) if type(child).__name__ != "InputLayer"]
    for i, child in enumerate(children):
        if getattr(child, "layers", None):
            found.update(_following_batch_norms(child))
            continue
        if not units_normalised_by_next(child) or i + 1 >= len(children):
            continue
        for norm in children[i + 1 :]:
            if _normalises_units_of(
                norm, child, sequential=type(model).__name__ == "Sequential", adjacent=norm is children[i + 1]
            ):
                found[id(child)] = norm
                break
    return found


def _normalises_units_of(norm, layer, *, sequential: bool, adjacent: bool) -> bool:
    if not any(cls.__name__ in ("BatchNormalization", "LayerNormalization") for cls in type(norm).__mro__):
        return False
    # without a scale, x = 0 still leaves -mean/std + beta (a LayerNormalization's mean and std are
    # the other units' too: its gamma and beta entries zeroed make the unit's output 0 all the same)
    if getattr(norm, "gamma", None) is None:
        return False
    axis = norm.axis if isinstance(norm.axis, int) else (norm.axis[0] if len(norm.axis) == 1 else None)
    if axis is None:
        return False
    if axis != -1:
        try:
            if axis != len(norm.input.shape) - 1:
                return False
        except (AttributeError, ValueError):
            return False
    if sequential:  # a Sequential is a chain: the next layer is the consumer
        return adjacent
    try:
        return norm.input is layer.output
    except (AttributeError, ValueError):  # a layer called more than once, or never
        return False


def _tf_variable(variable):
    """The backend tf.Variable behind a Keras 3 Variable (assign on it skips Keras bookkeeping)."""
    inner = getattr(variable, "value", None)
    return inner if inner is not None and hasattr(inner, "assign") else variable


def model_parameter_count(loaded: LoadedModel) -> int:
    if loaded.keras_model is not None:
        return int(sum(int(np.prod(w.shape)) for w in loaded.keras_model.weights))
    return int(sum(int(np.prod(v.shape)) for v in loaded.variables))


@dataclass
class ModelLayer:
    """One layer of a Keras model as ``prune-viz inspect`` lists it."""

    name: str  # qualified like the prunable layers' names ("outer/inner" in a nested model)
    kind: str  # the layer's class name: Dense, BatchNormalization, Dropout, MaxPooling2D...
    output_shape: tuple | None  # without the batch axis; None when the layer has no symbolic output
    params: int
    prunable: bool


def model_layers(loaded: LoadedModel) -> list[ModelLayer]:
    """Every layer of a Keras model in model order, nested models flattened; [] for a bare SavedModel."""
    if loaded.keras_model is None:
        return []
    prunable = {name for name, _kind, _layer in keras_prunable_layers(loaded.keras_model)}
    return list(_model_layers(loaded.keras_model, "", prunable))


def _model_layers(model, prefix: str, prunable: set[str]) -> Iterator[ModelLayer]:
    for child in getattr(model, "layers", []):
        name = f"{prefix}{child.name}"
        if getattr(child, "layers", None):
            yield from _model_layers(child, name + "/", prunable)
            continue
        try:
            shape = tuple(child.output.shape[1:])
        except Exception:  # a layer without a symbolic output (subclassed models)
            shape = None
        params = int(sum(int(np.prod(w.shape)) for w in child.weights))
        yield ModelLayer(name, type(child).__name__, shape, params, name in prunable)


@dataclass
class WeightShare:
    """How much of a model's weights prune-viz shows and prunes, and the layers it leaves out."""

    shown: int  # entries of the prunable tensors
    total: int  # entries of the model's trainable variables of rank >= 2
    left_out: list[tuple[str, str]]  # (layer, why) for layers with weights and no prunable tensor

    @property
    def fraction(self) -> float:
        return self.shown / self.total if self.total else 1.0

    def describe(self) -> str:
        return f"{self.fraction * 100:.1f}% of the model's weight-matrix entries ({self.shown:,} of {self.total:,})"


def weight_share(loaded: LoadedModel, tensors: list[PrunableLayer]) -> WeightShare:
    """Entries shown: the prunable tensors, and the rank >= 2 biases pruned with their units (a GRU's
    two bias rows, an attention head's biases)."""
    shown = sum(t.size for t in tensors) + sum(
        v.original.size for t in tensors for v in t.unit_vectors if v.original.ndim >= 2
    )
    if loaded.keras_model is not None:
        total = rank2_entries(loaded.keras_model.weights)
        with_tensors = {t.layer_path.split("/")[0] for t in tensors} | {t.layer_path for t in tensors}
        left_out = [
            (name, _why_left_out(layer))
            for name, layer in _model_layers_in_order(loaded.keras_model)
            if layer.weights and name not in with_tensors
        ]
    elif getattr(loaded, "stored_layers", None):
        total = rank2_entries(v.variable for entry in loaded.stored_layers for v in entry.variables)
        paths = {t.layer_path for t in tensors}
        left_out = [
            (e.path, _why_left_out(e.layer)) for e in loaded.stored_layers if e.variables and e.path not in paths
        ]
    else:
        total, left_out = rank2_entries(v for _name, v in loaded.raw_variables), []
    return WeightShare(shown, max(total, shown), left_out)


def _why_left_out(layer) -> str:
    kind = kind_of(layer) if layer is not None else None
    if kind is not None and kind.endswith("Normalization"):
        return "a normalisation layer: never pruned itself"
    return "it holds only vectors (rank 1) or weights that are not trained"
