"""What each Keras layer kind holds to prune: its tensors, their 2-D views and what one unit is.

A layer kind is an entry of ``KINDS``: a function from a Keras layer to the ``TensorSpec``s of its
prunable tensors. A tensor is seen as a matrix by reshaping it in C order at a split point (rows
are the leading axes, columns the trailing ones), so the matrix is a view of the kernel. A unit is
a set of slices of that matrix: columns (``column_units``), rows (``row_units``) or both, across one
or more tensors of the layer (a ``group``: an LSTM hidden unit is columns of the kernel and columns
and a row of the recurrent kernel). ``None`` maps mean "column j is unit j" (Dense, Conv, Embedding).
Per-unit vectors (biases, a following BatchNormalization) are zeroed with removed units in unit mode
"remove"; ``unit_of`` says which unit each of their entries belongs to.

Layers are matched by class name along the MRO, so subclasses of a Keras layer count as it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class VectorSpec:
    label: str  # "bias", "query/bias", "<batch norm>/gamma"
    variable: Any  # the Keras variable
    unit_of: np.ndarray | None = None  # flat entry -> unit; None: entry i belongs to unit i


@dataclass
class TensorSpec:
    suffix: str | None  # None: the tensor is named after its layer; else "<layer>/<suffix>"
    kind: str  # shown to the user: "Dense", "LSTM recurrent kernel", "MultiHeadAttention value"...
    variable: Any  # the Keras variable
    rows: int  # the matrix view is the tensor reshaped to (rows, size // rows)
    units: int = 0  # units of its group; 0: weight pruning only
    column_units: np.ndarray | None = None
    row_units: np.ndarray | None = None
    unit_definition: str = ""
    row_label: str = "inputs"
    column_label: str = "units"
    vectors: list[VectorSpec] = field(default_factory=list)
    group: str = ""  # tensors of one layer with the same group share their units ("" = its own)
    batch_norm_follows: bool = False  # a BatchNormalization right after the layer normalises its units


def _rows(shape, trailing: int) -> int:
    """The product of all but the last ``trailing`` axes."""
    return int(np.prod(shape[: len(shape) - trailing], dtype=np.int64))


def _bias(layer) -> list[VectorSpec]:
    bias = getattr(layer, "bias", None)
    return [VectorSpec("bias", bias)] if bias is not None else []


def _dense(layer) -> list[TensorSpec]:
    shape = tuple(layer.kernel.shape)
    return [
        TensorSpec(
            None,
            "Dense",
            layer.kernel,
            _rows(shape, 1),
            units=shape[-1],
            unit_definition="one output unit: its column of the kernel",
            vectors=_bias(layer),
            batch_norm_follows=True,
        )
    ]


def _conv(kind: str, *, transposed: bool = False) -> Callable:
    def specs(layer) -> list[TensorSpec]:
        shape = tuple(layer.kernel.shape)
        rows = _rows(shape, 1)
        if transposed:  # (..., filters, in): Keras stores transposed kernels so; a filter is rows
            filters = shape[-2]
            layout = dict(
                row_units=np.arange(rows) % filters,
                unit_definition="one output filter: its rows (every position) of the kernel",
                row_label="k*filters",
                column_label="input channels",
            )
        else:
            filters = shape[-1]
            layout = dict(
                unit_definition="one filter: its column (every position and input channel)",
                row_label="k*in",
                column_label="filters",
            )
        return [
            TensorSpec(
                None, kind, layer.kernel, rows, units=filters, vectors=_bias(layer), batch_norm_follows=True, **layout
            )
        ]

    return specs


def _depthwise(kind: str) -> Callable:
    def specs(layer) -> list[TensorSpec]:
        kernel = getattr(layer, "depthwise_kernel", None)
        kernel = kernel if kernel is not None else layer.kernel
        shape = tuple(kernel.shape)  # (..., in, multiplier)
        channels, multiplier = shape[-2], shape[-1]
        per_column = np.arange(channels * multiplier) // multiplier
        unit_of = None if multiplier == 1 else per_column
        return [
            TensorSpec(
                None,
                kind,
                kernel,
                _rows(shape, 2),
                units=channels,
                column_units=unit_of,
                unit_definition="one input channel with its multiplier slice",
                row_label="k",
                column_label="channels x multiplier",
                vectors=[VectorSpec(v.label, v.variable, unit_of) for v in _bias(layer)],
                batch_norm_follows=True,
            )
        ]

    return specs


def _separable(kind: str) -> Callable:
    def specs(layer) -> list[TensorSpec]:
        depthwise, pointwise = layer.depthwise_kernel, layer.pointwise_kernel
        d_shape, p_shape = tuple(depthwise.shape), tuple(pointwise.shape)
        return [
            TensorSpec(
                "depthwise_kernel",
                f"{kind} depthwise",
                depthwise,
                _rows(d_shape, 2),
                row_label="k",
                column_label="channels x multiplier",
            ),
            TensorSpec(
                "pointwise_kernel",
                f"{kind} pointwise",
                pointwise,
                _rows(p_shape, 1),
                units=p_shape[-1],
                unit_definition="one pointwise filter: its column of the pointwise kernel",
                row_label="channels x multiplier",
                column_label="filters",
                vectors=_bias(layer),
                batch_norm_follows=True,
            ),
        ]

    return specs


def _recurrent(kind: str) -> Callable:
    """LSTM, GRU, SimpleRNN and the ConvLSTMs: a unit is a hidden unit (or filter) across its gates."""

    def specs(layer) -> list[TensorSpec]:
        cell = getattr(layer, "cell", layer)
        kernel, recurrent = cell.kernel, cell.recurrent_kernel
        k_shape, r_shape = tuple(kernel.shape), tuple(recurrent.shape)
        hidden = r_shape[-2]
        gate_columns = np.arange(k_shape[-1]) % hidden
        identity = k_shape[-1] == hidden  # one gate (SimpleRNN): column j is unit j
        columns = None if identity else gate_columns
        rows = _rows(r_shape, 1)
        definition = (
            "one hidden unit: its column in both kernels and its row of the recurrent kernel"
            if identity
            else "one hidden unit: its gate columns in both kernels and its row of the recurrent kernel"
        )
        bias = getattr(cell, "bias", None)
        vectors = [VectorSpec("bias", bias, np.arange(int(np.prod(bias.shape))) % hidden)] if bias is not None else []
        common = dict(units=hidden, unit_definition=definition, group="hidden", column_label="gate x unit")
        return [
            TensorSpec(
                "kernel", f"{kind} kernel", kernel, _rows(k_shape, 1), column_units=columns, vectors=vectors, **common
            ),
            TensorSpec(
                "recurrent_kernel",
                f"{kind} recurrent kernel",
                recurrent,
                rows,
                column_units=gate_columns,
                row_units=np.arange(rows) % hidden,
                row_label="hidden units",
                **common,
            ),
        ]

    return specs


def _embedding(layer) -> list[TensorSpec]:
    table = layer.embeddings
    shape = tuple(table.shape)
    return [
        TensorSpec(
            None,
            "Embedding",
            table,
            shape[0],
            units=shape[-1],
            unit_definition="one embedding dimension: its column of the table",
            row_label="tokens",
            column_label="dimensions",
        )
    ]


def _attention(kind: str) -> Callable:
    """MultiHeadAttention: a unit is one head across the query, key, value and output kernels."""

    def specs(layer) -> list[TensorSpec]:
        parts = [("query", layer.query_dense), ("key", layer.key_dense), ("value", layer.value_dense)]
        heads = int(layer.output_dense.kernel.shape[0])
        found = []
        for name, dense in parts:
            shape = tuple(dense.kernel.shape)  # (model dim, heads, head dim)
            per_head = np.arange(shape[-2] * shape[-1]) // shape[-1]
            bias = getattr(dense, "bias", None)
            found.append(
                TensorSpec(
                    name,
                    f"{kind} {name}",
                    dense.kernel,
                    _rows(shape, 2),
                    column_units=per_head,
                    column_label="head x dim",
                    vectors=[VectorSpec(f"{name}/bias", bias, per_head)] if bias is not None else [],
                )
            )
        out_shape = tuple(layer.output_dense.kernel.shape)  # (heads, head dim, model dim)
        out_rows = _rows(out_shape, 1)
        found.append(
            TensorSpec(
                "output",
                f"{kind} output",
                layer.output_dense.kernel,
                out_rows,
                row_units=np.arange(out_rows) // out_shape[1],
                row_label="head x dim",
                column_label="outputs",
            )
        )
        for spec in found:
            spec.units, spec.group = heads, "heads"
            spec.unit_definition = "one head: its slices of the query, key, value and output kernels"
        return found

    return specs


def _einsum(layer) -> list[TensorSpec]:
    """EinsumDense: units are the kernel axes the output names, when they lead or trail the kernel."""
    shape = tuple(layer.kernel.shape)
    inputs, _, output = layer.equation.partition("->")
    letters = inputs.split(",")[-1].strip()
    is_out = [letter in output for letter in letters]
    if len(letters) != len(shape) or all(is_out) or not any(is_out):
        return [_generic_spec(None, "EinsumDense", layer.kernel)]
    out_axes = sum(is_out)
    if is_out[-out_axes:] == [True] * out_axes:  # contracted axes, then output axes
        rows = _rows(shape, out_axes)
        bias = getattr(layer, "bias", None)
        bias_is_per_unit = bias is not None and tuple(bias.shape) == shape[-out_axes:]
        return [
            TensorSpec(
                None,
                "EinsumDense",
                layer.kernel,
                rows,
                units=int(np.prod(shape[-out_axes:])),
                unit_definition="one output entry: its column of the kernel",
                column_label="outputs",
                vectors=[VectorSpec("bias", bias)] if bias_is_per_unit else [],
            )
        ]
    if is_out[:out_axes] == [True] * out_axes:  # output axes, then contracted axes
        rows = int(np.prod(shape[:out_axes]))
        return [
            TensorSpec(
                None,
                "EinsumDense",
                layer.kernel,
                rows,
                units=rows,
                row_units=np.arange(rows),
                unit_definition="one output entry: its row of the kernel",
                row_label="outputs",
                column_label="inputs",
            )
        ]
    return [_generic_spec(None, "EinsumDense", layer.kernel)]


def _generic_spec(suffix: str | None, kind: str, variable) -> TensorSpec:
    shape = tuple(variable.shape)
    return TensorSpec(suffix, kind, variable, _rows(shape, 1), row_label="leading axes", column_label="last axis")


def _normalisation(layer) -> list[TensorSpec]:
    return []  # never pruned themselves


KINDS: dict[str, Callable] = {
    "Dense": _dense,
    "Conv1D": _conv("Conv1D"),
    "Conv2D": _conv("Conv2D"),
    "Conv3D": _conv("Conv3D"),
    "Conv1DTranspose": _conv("Conv1DTranspose", transposed=True),
    "Conv2DTranspose": _conv("Conv2DTranspose", transposed=True),
    "Conv3DTranspose": _conv("Conv3DTranspose", transposed=True),
    "DepthwiseConv1D": _depthwise("DepthwiseConv1D"),
    "DepthwiseConv2D": _depthwise("DepthwiseConv2D"),
    "SeparableConv1D": _separable("SeparableConv1D"),
    "SeparableConv2D": _separable("SeparableConv2D"),
    "LSTM": _recurrent("LSTM"),
    "GRU": _recurrent("GRU"),
    "SimpleRNN": _recurrent("SimpleRNN"),
    "ConvLSTM1D": _recurrent("ConvLSTM1D"),
    "ConvLSTM2D": _recurrent("ConvLSTM2D"),
    "ConvLSTM3D": _recurrent("ConvLSTM3D"),
    "LSTMCell": _recurrent("LSTM"),  # a cell inside keras.layers.RNN
    "GRUCell": _recurrent("GRU"),
    "SimpleRNNCell": _recurrent("SimpleRNN"),
    "Embedding": _embedding,
    "MultiHeadAttention": _attention("MultiHeadAttention"),
    "EinsumDense": _einsum,
    "BatchNormalization": _normalisation,
    "LayerNormalization": _normalisation,
    "GroupNormalization": _normalisation,
    "UnitNormalization": _normalisation,
}
WRAPPERS = ("Bidirectional", "TimeDistributed")  # hold other layers: their layers are listed under their path


def kind_of(layer) -> str | None:
    """The name of ``layer``'s entry in KINDS (by class along the MRO), a wrapper's name, or None."""
    for cls in type(layer).__mro__:
        if cls.__name__ in KINDS or cls.__name__ in WRAPPERS:
            return cls.__name__
    return None


def wrapped_layers(layer) -> list:
    """The layers a wrapper holds (Bidirectional: both directions; TimeDistributed: its layer)."""
    if kind_of(layer) == "Bidirectional":
        return [layer.forward_layer, layer.backward_layer]
    return [layer.layer]


def sub_layers(layer) -> list:
    """Keras layers a custom layer holds as attributes (directly or in lists), in attribute order."""
    import keras

    found = []
    for value in vars(layer).values():
        for item in value if isinstance(value, list | tuple) else [value]:
            if isinstance(item, keras.layers.Layer) and all(item is not f for f in found):
                found.append(item)
    return found


def layer_specs(layer, path: str) -> Iterator[tuple[str, TensorSpec]]:
    """(layer path, spec) for every prunable tensor of ``layer`` and the layers it holds."""
    claimed: set[int] = set()
    yield from _layer_specs(layer, path, claimed)


def _layer_specs(layer, path: str, claimed: set[int]) -> Iterator[tuple[str, TensorSpec]]:
    kind = kind_of(layer)
    if kind in WRAPPERS:
        for inner in wrapped_layers(layer):
            yield from _layer_specs(inner, f"{path}/{inner.name}", claimed)
        claimed.update(id(w) for w in layer.weights)
        return
    if kind is not None:
        specs = _own_specs(layer, kind)
        if specs is not None:
            claimed.update(id(w) for w in layer.weights)
            for spec in specs:
                yield path, spec
            return
    for inner in sub_layers(layer):  # a custom layer: the Keras layers it holds, then its own variables
        yield from _layer_specs(inner, f"{path}/{inner.name}", claimed)
    for variable in layer.weights:
        if id(variable) in claimed:
            continue
        claimed.add(id(variable))
        if len(variable.shape) >= 2 and getattr(variable, "trainable", True):
            kind = getattr(layer, "stored_class_name", None) or type(layer).__name__
            yield path, _generic_spec(_variable_name(variable), f"{kind} weight", variable)


def _own_specs(layer, kind: str) -> list[TensorSpec] | None:
    try:
        return KINDS[kind](layer)
    except (AttributeError, TypeError, ValueError):  # a layer not built, or a subclass laid out otherwise
        return None


def units_normalised_by_next(layer) -> bool:
    """Whether a normalisation layer right after ``layer`` normalises its units (its own specs say so)."""
    kind = kind_of(layer)
    if kind is None or kind in WRAPPERS:
        return False
    return any(spec.batch_norm_follows for spec in _own_specs(layer, kind) or ())


def _variable_name(variable) -> str:
    return str(getattr(variable, "name", "weight")).split(":")[0].rsplit("/", 1)[-1]


def rank2_entries(variables) -> int:
    """How many entries the trainable variables of rank >= 2 hold (what share-of-weights figures count)."""
    return int(sum(int(np.prod(v.shape)) for v in variables if len(v.shape) >= 2 and getattr(v, "trainable", True)))
