"""A model once opened, whatever its format: its Keras model, SavedModel or stored weights alone,
metadata, notes, and its variables read block by block."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from prune_viz.core import row_blocks
from prune_viz.core.non_finite import NonFinite, by_layer, count_non_finite
from prune_viz.core.shared_buffers import aligned_empty


@dataclass(eq=False)  # compared and hashed by identity: export takes {StoredVariable: array}
class StoredVariable:
    """One weight of a model opened from its weights only."""

    name: str  # "kernel", "recurrent_kernel", "query/kernel", "gamma"...; "vars/0" when the layer is unknown
    dataset: str  # its dataset's path inside the weights HDF5 file (model.weights.h5, or the .h5 itself)
    variable: Any  # a tf.Variable, or the rebuilt layer's Keras Variable, holding the stored values

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.variable.shape)


@dataclass(eq=False)
class StoredLayer:
    """One layer of a model opened from its weights only, in model order; the layers of nested models
    and the sub-layers of custom layers are their own StoredLayers, named "outer/inner"."""

    path: str
    class_name: str  # the saved config's class name, or the Keras class the storage names; "" if unknown
    config: dict  # its saved config (for a sub-layer of a custom layer: what its stored shapes say)
    layer: Any | None  # the Keras layer rebuilt alone from its config, holding the variables; None if unknown
    variables: list[StoredVariable] = field(default_factory=list)


@dataclass
class LoadedModel:
    path: Path
    format: str  # human-readable, e.g. "Keras 3 archive (.keras)"
    keras_model: Any | None  # keras.Model, or None for a bare SavedModel
    saved_model: Any | None = None  # the tf.saved_model.load() object, if any
    metadata: dict = field(default_factory=dict)
    # For bare SavedModels: (layer name, kernel variable) read by the serving signature, in model order.
    raw_variables: list[tuple[str, Any]] = field(default_factory=list)
    serving_fn: Callable | None = None  # concrete function taking one tensor
    notes: list[str] = field(default_factory=list)  # caveats the user should see, one sentence each
    # A .keras archive or .h5 file whose model cannot be rebuilt, opened from its weights alone:
    stored_layers: list[StoredLayer] = field(default_factory=list)
    weights_only: bool = False
    weights_member: str | None = None  # the zip member holding the weights, for a .keras archive
    rebuild_problem: str = ""  # why the model cannot be rebuilt, as a clause ("its custom class X is not ...")
    rebuild_hint: str = ""  # what would rebuild it, as a clause, or ""
    _non_finite: list[NonFinite] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def input_shape(self) -> tuple | None:
        """Shape of the single model input including the batch dimension, or None if unknown."""
        if self.keras_model is not None:
            try:
                shape = self.keras_model.inputs[0].shape
            except Exception:
                shape = getattr(self.keras_model, "input_shape", None)
            return None if shape is None else tuple(shape)
        if self.serving_fn is not None:
            specs = self.serving_fn.structured_input_signature[1]
            if len(specs) == 1:
                return tuple(next(iter(specs.values())).shape)
        return None

    @property
    def output_shape(self) -> tuple | None:
        """Shape of the single Keras model output including the batch dimension, or None if unknown
        (a bare SavedModel's outputs are known only once it runs)."""
        try:
            outputs = self.keras_model.outputs if self.keras_model is not None else None
        except Exception:  # a subclassed model that was never built has none
            return None
        if not outputs or len(outputs) != 1 or getattr(outputs[0], "shape", None) is None:
            return None
        return tuple(outputs[0].shape)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def weights_only_sentence(self) -> str:
        """Why a model opened from its weights only cannot be run, in one sentence."""
        hint = f"; {self.rebuild_hint}" if self.rebuild_hint else ""
        return (
            f"{self.name} was opened from its weights only because {self.rebuild_problem}, so it cannot be "
            f"run or evaluated{hint}."
        )

    @property
    def stored_variables(self) -> list[StoredVariable]:
        """Every stored weight of a model opened from its weights only, in model order."""
        return [stored for layer in self.stored_layers for stored in layer.variables]

    @property
    def variables(self) -> list:
        """Every weight of the model (kernels, biases, norms...), whatever its format."""
        if self.keras_model is not None:
            return list(self.keras_model.weights)
        if self.weights_only:
            return [stored.variable for layer in self.stored_layers for stored in layer.variables]
        if self.serving_fn is not None:
            return list(self.serving_fn.variables)
        return trackable_variables(self.saved_model)

    def non_finite_variables(self) -> list[NonFinite]:
        """The variables holding NaN or infinite entries, with their counts (``core.non_finite``'s
        rule), in model order; counted once, when the model is loaded, on its original weights."""
        if self._non_finite is None:
            if self.weights_only:  # named by their stored layers' paths
                stored = [(layer.path, v) for layer in self.stored_layers for v in layer.variables]
                named = [(f"{path}/{v.name}", v.variable) for path, v in stored]
            else:
                named = [(str(getattr(var, "path", None) or var.name), var) for var in self.variables]
            self._non_finite = [
                found
                for name, var in named
                if np.issubdtype(np.dtype(_numpy_dtype(var)), np.floating)
                and (found := count_non_finite(name, variable_blocks(var)))
            ]
        return self._non_finite

    def non_finite_weights(self) -> dict[str, int]:
        """{layer name: count} of NaN or infinite weights, for the layers that have any."""
        return by_layer(self.non_finite_variables())

    def __call__(self, x):
        """Forward pass for inference (no dropout, no augmentation)."""
        if self.keras_model is not None:
            return self.keras_model(x, training=False)
        from prune_viz.core.inputs import EvaluationUnavailable

        if self.weights_only:
            raise EvaluationUnavailable(self.weights_only_sentence)
        if self.serving_fn is None:
            raise EvaluationUnavailable(f"The SavedModel {self.name} has no serving signature to run it with.")
        import tensorflow as tf

        # Signatures take keyword tensors only: {input name: tensor of the signature's dtype}.
        name, spec = next(iter(self.serving_fn.structured_input_signature[1].items()))
        outputs = self.serving_fn(**{name: tf.cast(tf.convert_to_tensor(x), spec.dtype)})
        if isinstance(outputs, dict):
            outputs = next(iter(outputs.values()))
        return outputs


def variable_blocks(variable):
    """A variable's values as numpy blocks of whole rows, so that reading a big kernel never makes
    a full-size temporary (a whole ``.numpy()`` costs 1x, and TensorFlow keeps memory it allocated
    for big eager ops)."""
    shape = tuple(int(d) for d in variable.shape)
    if not row_blocks.is_big(shape):
        yield np.asarray(variable.numpy())
        return
    inner = getattr(variable, "value", variable)  # a Keras 3 Variable's backend tf.Variable
    for r0, r1 in row_blocks.row_starts(shape):
        yield inner[r0:r1].numpy()


def variable_copy(variable, dtype=np.float32) -> np.ndarray:
    """A private numpy copy of a variable, filled block by block (peak: the copy plus one block)."""
    out = aligned_empty(tuple(int(d) for d in variable.shape), dtype)  # so row blocks go to TF without a copy
    if out.ndim < 2:
        out[...] = np.asarray(variable.numpy(), dtype)
        return out
    r0 = 0
    for block in variable_blocks(variable):
        out[r0 : r0 + len(block)] = block
        r0 += len(block)
    return out


def _numpy_dtype(variable):
    dtype = getattr(variable, "dtype", None)
    return getattr(dtype, "as_numpy_dtype", dtype)


def trackable_variables(root) -> list:
    """Every tf.Variable reachable from a loaded SavedModel object, each once, in graph order."""
    import tensorflow as tf

    found, seen = [], set()
    for obj in tf.train.TrackableView(root).descendants():
        if isinstance(obj, tf.Variable) and id(obj) not in seen:
            seen.add(id(obj))
            found.append(obj)
    return found
