"""The list of prunable weight matrices of a model.

A prunable layer is a Dense kernel or a Conv1D/Conv2D kernel. Its *units* are
the last axis (output neurons or filters); its *matrix view* is the kernel
reshaped to (fan_in, units), i.e. kh*kw*in x filters for a Conv2D.
Biases are never pruned by themselves: a layer's *unit vectors* (its bias, and
gamma and beta of a BatchNormalization that directly follows it) are zeroed
with its units only when unit pruning removes units (unit mode "remove").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from prune_viz.core.io import LoadedModel, variable_copy

_KINDS = {"Dense": "Dense", "Conv1D": "Conv1D", "Conv2D": "Conv2D"}
_RANK_KINDS = {2: "Dense", 3: "Conv1D", 4: "Conv2D"}


@dataclass
class UnitVector:
    """A per-unit vector that belongs to a layer's units: zeroed with a removed unit."""

    label: str  # "bias", or "<batch norm layer>/gamma" and ".../beta"
    variable: Any  # tf.Variable; written only through the Pruner
    original: np.ndarray  # as opened; never modified


@dataclass
class PrunableLayer:
    name: str
    kind: str  # "Dense", "Conv1D" or "Conv2D"
    variable: Any  # tf.Variable holding the kernel; written only through the Pruner
    original: np.ndarray  # the kernel as opened; never modified
    is_output: bool = False
    unit_vectors: list[UnitVector] = field(default_factory=list)  # bias first, then a following BN's
    batch_norm: str | None = None  # the BatchNormalization layer right after this one, if any

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
    def units(self) -> int:
        return int(self.original.shape[-1])

    @property
    def fan_in(self) -> int:
        return self.size // self.units

    def as_matrix(self, kernel: np.ndarray) -> np.ndarray:
        """(fan_in, units) view of a kernel-shaped array: rows are inputs, columns are units."""
        return np.asarray(kernel).reshape(self.fan_in, self.units)

    @property
    def matrix_label(self) -> str:
        if self.kind == "Dense":
            return f"{self.fan_in} inputs x {self.units} units"
        spatial = "x".join(str(d) for d in self.shape[:-2])
        return f"{spatial}x{self.shape[-2]} (k*k*in) x {self.units} filters"


def find_prunable_layers(loaded: LoadedModel) -> list[PrunableLayer]:
    """Prunable kernels in model order; the last one (the output layer) is flagged."""
    if loaded.keras_model is not None:
        followers = _following_batch_norms(loaded.keras_model)
        found = []
        for name, kind, layer in keras_prunable_layers(loaded.keras_model):
            vectors = []
            if getattr(layer, "bias", None) is not None:
                vectors.append(UnitVector("bias", _tf_variable(layer.bias), variable_copy(layer.bias)))
            norm = followers.get(id(layer))
            if norm is not None:
                for part in ("gamma", "beta"):
                    if getattr(norm, part, None) is not None:
                        variable = getattr(norm, part)
                        vectors.append(
                            UnitVector(f"{norm.name}/{part}", _tf_variable(variable), variable_copy(variable))
                        )
            found.append(
                PrunableLayer(
                    name=name,
                    kind=kind,
                    variable=_tf_variable(layer.kernel),
                    original=variable_copy(layer.kernel),
                    unit_vectors=vectors,
                    batch_norm=norm.name if norm is not None else None,
                )
            )
    else:
        found = [
            PrunableLayer(name=name, kind=_RANK_KINDS[var.shape.rank], variable=var, original=variable_copy(var))
            for name, var in loaded.raw_variables
        ]
    if found:
        found[-1].is_output = True
    return found


def keras_prunable_layers(model, prefix: str = "") -> Iterator[tuple[str, str, Any]]:
    """(qualified name, kind, layer) for every prunable layer of a Keras model, in model order.

    Layers of a nested model are named "outer/inner"; these are the names the Pruner, its
    masks and fine-tuning use for the layers.
    """
    for child in getattr(model, "layers", []):
        name = f"{prefix}{child.name}"
        if getattr(child, "layers", None):
            yield from keras_prunable_layers(child, name + "/")
            continue
        kind = _prunable_kind(child)
        if kind is not None:
            yield name, kind, child


def _following_batch_norms(model) -> dict:
    """id(prunable layer) -> the BatchNormalization (over the last axis, with a scale) that
    takes the layer's output directly as its input, in this model and its nested models."""
    found = {}
    children = [child for child in getattr(model, "layers", []) if type(child).__name__ != "InputLayer"]
    for i, child in enumerate(children):
        if getattr(child, "layers", None):
            found.update(_following_batch_norms(child))
            continue
        if _prunable_kind(child) is None or i + 1 >= len(children):
            continue
        for norm in children[i + 1 :]:
            if _normalises_units_of(
                norm, child, sequential=type(model).__name__ == "Sequential", adjacent=norm is children[i + 1]
            ):
                found[id(child)] = norm
                break
    return found


def _normalises_units_of(norm, layer, *, sequential: bool, adjacent: bool) -> bool:
    if not any(cls.__name__ == "BatchNormalization" for cls in type(norm).__mro__):
        return False
    if getattr(norm, "gamma", None) is None:  # without a scale, x = 0 still leaves -mean/std + beta
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


def _prunable_kind(layer) -> str | None:
    # by class name so that subclasses of Dense/Conv count too
    if getattr(layer, "kernel", None) is None:
        return None
    for cls in type(layer).__mro__:
        if cls.__name__ in _KINDS:
            return _KINDS[cls.__name__]
    return None


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
