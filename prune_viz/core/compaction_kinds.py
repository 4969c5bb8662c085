"""How each Keras layer kind loses units when a pruned model is compacted (``core.compaction`` walks the model).

A *producer* makes the units on the last axis of its output: Dense and Conv filters, transposed and
separable convolutions' filters, LSTM/GRU/SimpleRNN hidden units, Embedding dimensions. A unit whose
slices are all zero (a dead unit) outputs a constant; it is cut from the producer (``keep_units``) and
the next weighted layer on the chain, the *consumer*, drops the inputs it read from it and folds the
constant into its bias (``absorb``). Between the two, *channelwise* layers (activations, pooling,
dropout, Flatten, BatchNormalization, DepthwiseConv) map a constant channel to a constant channel. A
DepthwiseConv's own pruned unit is one of its input channels with its multiplier slice: it is cut with
the producer's channel that feeds it. MultiHeadAttention loses heads that nothing outside it sees.

A rule works on ``w``, the layer's weights by name as NumPy arrays (the masked kernels), and on
``config``, its Keras config; it edits both in place.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from prune_viz.core.export_errors import CompactionError
from prune_viz.core.layer_kinds import kind_of

# layers that keep channels and map a constant channel to the same constant
PASS_THROUGH = {
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "ActivityRegularization",
    "Identity",
    "MaxPooling1D",
    "MaxPooling2D",
    "MaxPooling3D",
    "AveragePooling1D",
    "AveragePooling2D",
    "AveragePooling3D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling3D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAveragePooling3D",
    "UpSampling1D",
    "UpSampling2D",
    "UpSampling3D",
    "Cropping1D",
    "Cropping2D",
    "Cropping3D",
    "RepeatVector",
}
ELEMENTWISE = {"Activation", "ReLU", "LeakyReLU", "ELU"}  # a constant channel maps to another constant
ZERO_PADDING = {"ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"}  # a constant stays one only if it is 0
BETWEEN = "activations, pooling, dropout, Flatten, BatchNormalization and depthwise convolutions"


def _class_names(layer) -> set[str]:
    return {cls.__name__ for cls in type(layer).__mro__}


def channelwise_kind(layer) -> str | None:
    """How a layer between a producer and its consumer carries channels: "pass", "elementwise",
    "flatten", "zero_padding", "batch_norm", "depthwise", or None (it does not)."""
    names = _class_names(layer)
    rule = rule_of(layer)
    if rule is not None and rule.role == "depthwise":
        return "depthwise"
    for kind, members in (("pass", PASS_THROUGH), ("elementwise", ELEMENTWISE), ("zero_padding", ZERO_PADDING)):
        if names & members:
            return kind
    if "Flatten" in names:
        return "flatten"
    if "BatchNormalization" in names:
        return "batch_norm"
    return None


def channelwise_problem(layer) -> str | None:
    """Why a channelwise layer cannot carry dead channels (one sentence), or None."""
    kind = channelwise_kind(layer)
    if kind == "elementwise":
        function = getattr(getattr(layer, "activation", None), "__name__", "")
        if "softmax" in function:
            return f"{layer.name} is a softmax over channels, so prune-viz cannot remove channels before it."
    if kind == "batch_norm" and not normalises_last_axis(layer):
        return f"{layer.name} normalises another axis than the channels, so prune-viz cannot remove channels before it."
    if kind == "depthwise":
        return rule_of(layer).problem(layer)
    return None


def normalises_last_axis(layer) -> bool:
    axis = layer.axis if isinstance(layer.axis, int) else (layer.axis[0] if len(layer.axis) == 1 else None)
    if axis is None:
        return False
    if axis == -1:
        return True
    try:
        return axis == len(layer.input.shape) - 1
    except (AttributeError, ValueError):
        return False


def batch_norm_of(layer, values: np.ndarray) -> np.ndarray:
    """What an inference-mode BatchNormalization makes of per-channel ``values``."""
    channels = values.shape[-1]
    gamma, beta = getattr(layer, "gamma", None), getattr(layer, "beta", None)
    gamma = np.asarray(gamma.numpy(), np.float64) if gamma is not None else np.ones(channels)
    beta = np.asarray(beta.numpy(), np.float64) if beta is not None else np.zeros(channels)
    mean = np.asarray(layer.moving_mean.numpy(), np.float64)
    variance = np.asarray(layer.moving_variance.numpy(), np.float64)
    return gamma * (values - mean) / np.sqrt(variance + layer.epsilon) + beta


def activation_of(layer, values: np.ndarray) -> np.ndarray:
    """``layer``'s activation applied to ``values`` (float64)."""
    function = getattr(layer, "activation", None)
    if function is None:
        return np.asarray(values, np.float64)
    return np.asarray(function(np.asarray(values, np.float32)), np.float64)


def zero_along(array: np.ndarray, axis: int) -> np.ndarray:
    """Bool per index of ``axis``: True where every entry of that slice is 0."""
    moved = np.moveaxis(np.asarray(array), axis, -1)
    return ~np.any(moved.reshape(-1, moved.shape[-1]) != 0, axis=0)


def _fold(kernel: np.ndarray, in_axis: int, dead: np.ndarray, const: np.ndarray) -> np.ndarray:
    """What constant inputs ``const`` on the ``dead`` indices of ``in_axis`` add to each unit (last
    axis), summed over every other axis (every kernel position sees them, with 'valid' padding)."""
    on_dead = np.take(kernel, np.flatnonzero(dead), axis=in_axis).astype(np.float64)
    folded = np.tensordot(np.asarray(const, np.float64)[dead], np.moveaxis(on_dead, in_axis, 0), axes=(0, 0))
    return folded.reshape(-1, kernel.shape[-1]).sum(axis=0)


def _add_to_bias(layer, w: dict, folded: np.ndarray, key: str = "bias", row: int | None = None) -> None:
    if not np.any(folded != 0):
        return
    if key not in w:
        raise CompactionError(f"{layer.name} has no bias to absorb the constant output of the dead units before it.")
    bias = w[key].astype(np.float64)
    if row is None:
        bias += folded
    else:
        bias[row] += folded
    w[key] = bias.astype(w[key].dtype)


def _zero_padded(layer) -> bool:
    return getattr(layer, "padding", "valid") != "valid"


def _padding_refuses(layer, dead: np.ndarray, const: np.ndarray) -> None:
    if _zero_padded(layer) and np.any(const[dead] != 0):
        raise CompactionError(
            f"{layer.name} zero-pads its input ('{layer.padding}' padding), so the "
            "constant output of a dead unit before it cannot be folded into its bias."
        )


class Rule:
    """A Dense-like kernel: inputs on axis -2, units on the last axis, one bias per unit."""

    role = "producer"  # "producer", "depthwise" (its units are its input channels) or "heads"
    consumes = True  # whether it can drop inputs of dead units before it
    units_key = "units"
    main = "kernel"  # the weight a report shows the shape of

    def variables(self, layer) -> dict[str, Any]:
        found = {"kernel": layer.kernel}
        if getattr(layer, "bias", None) is not None:
            found["bias"] = layer.bias
        return found

    def problem(self, layer) -> str | None:
        """Why this layer's units cannot be removed (one sentence), or None."""
        return None

    def input_problem(self, layer) -> str | None:
        """Why this layer cannot drop inputs of dead units before it (one sentence), or None."""
        return self.problem(layer)

    def units(self, w: dict) -> int:
        return int(w[self.main].shape[-1])

    def dead(self, layer, w: dict) -> tuple[np.ndarray, np.ndarray]:
        """(bool per unit: dead, float64 per unit: the constant a dead unit outputs; 0 for the others)."""
        dead = zero_along(w[self.main], -1)
        bias = w.get("bias", np.zeros(len(dead)))
        return dead, np.where(dead, activation_of(layer, bias), 0.0)

    def keep_units(self, layer, w: dict, config: dict, keep: np.ndarray) -> None:
        w[self.main] = np.ascontiguousarray(w[self.main][..., keep])
        if "bias" in w:
            w["bias"] = w["bias"][keep]
        config[self.units_key] = int(len(keep))

    def absorb(self, layer, w: dict, alive: np.ndarray, const: np.ndarray) -> None:
        """Drop the inputs where ``alive`` is False, folding their ``const`` into the bias."""
        kernel, dead = w["kernel"], ~alive
        _padding_refuses(layer, dead, const)
        _add_to_bias(layer, w, _fold(kernel, kernel.ndim - 2, dead, const))
        w["kernel"] = np.take(kernel, np.flatnonzero(alive), axis=kernel.ndim - 2)

    def dead_input_weights(self, w: dict, alive: np.ndarray) -> int:
        kernel = w["kernel"]
        return int(np.count_nonzero(np.take(kernel, np.flatnonzero(~alive), axis=kernel.ndim - 2)))


def _channels_last_problem(layer) -> str | None:
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        return f"{layer.name} uses channels_first; only channels_last can be compacted."
    return None


class Conv(Rule):
    units_key = "filters"

    def problem(self, layer) -> str | None:
        if getattr(layer, "groups", 1) != 1:
            return f"{layer.name} is a grouped convolution, whose channels prune-viz cannot remove."
        return _channels_last_problem(layer)


class ConvTranspose(Conv):
    """Kernels stored (..., filters, inputs): the units are axis -2, the inputs the last axis."""

    def units(self, w: dict) -> int:
        return int(w["kernel"].shape[-2])

    def dead(self, layer, w: dict) -> tuple[np.ndarray, np.ndarray]:
        dead = zero_along(w["kernel"], -2)
        bias = w.get("bias", np.zeros(len(dead)))
        return dead, np.where(dead, activation_of(layer, bias), 0.0)

    def keep_units(self, layer, w: dict, config: dict, keep: np.ndarray) -> None:
        w["kernel"] = np.ascontiguousarray(w["kernel"][..., keep, :])
        if "bias" in w:
            w["bias"] = w["bias"][keep]
        config["filters"] = int(len(keep))

    def absorb(self, layer, w: dict, alive: np.ndarray, const: np.ndarray) -> None:
        if np.any(const[~alive] != 0):
            raise CompactionError(
                f"{layer.name} is a transposed convolution, whose borders see fewer of its inputs, so the "
                "constant output of a dead unit before it cannot be folded into its bias."
            )
        w["kernel"] = np.ascontiguousarray(w["kernel"][..., alive])

    def dead_input_weights(self, w: dict, alive: np.ndarray) -> int:
        return int(np.count_nonzero(w["kernel"][..., ~alive]))


class Separable(Conv):
    """A depthwise kernel (..., in, multiplier), a pointwise kernel (1.., in * multiplier, filters)."""

    main = "pointwise_kernel"

    def variables(self, layer) -> dict[str, Any]:
        found = {"depthwise_kernel": layer.depthwise_kernel, "pointwise_kernel": layer.pointwise_kernel}
        if getattr(layer, "bias", None) is not None:
            found["bias"] = layer.bias
        return found

    def absorb(self, layer, w: dict, alive: np.ndarray, const: np.ndarray) -> None:
        depthwise, pointwise, dead = w["depthwise_kernel"], w["pointwise_kernel"], ~alive
        multiplier = depthwise.shape[-1]
        rows_alive = np.repeat(alive, multiplier)  # pointwise rows are channel * multiplier + m
        _padding_refuses(layer, dead, const)
        taps = depthwise.reshape(-1, *depthwise.shape[-2:]).astype(np.float64).sum(axis=0)  # (in, multiplier)
        per_row = (np.asarray(const, np.float64)[:, None] * taps).reshape(-1)  # a constant channel's depthwise out
        per_row = np.where(rows_alive, 0.0, per_row)
        _add_to_bias(layer, w, _fold(pointwise, pointwise.ndim - 2, ~rows_alive, per_row))
        w["depthwise_kernel"] = np.ascontiguousarray(depthwise[..., alive, :])
        w["pointwise_kernel"] = np.ascontiguousarray(pointwise[..., rows_alive, :])

    def dead_input_weights(self, w: dict, alive: np.ndarray) -> int:
        multiplier = w["depthwise_kernel"].shape[-1]
        on_pointwise = w["pointwise_kernel"][..., ~np.repeat(alive, multiplier), :]
        return int(np.count_nonzero(w["depthwise_kernel"][..., ~alive, :]) + np.count_nonzero(on_pointwise))


class Recurrent(Rule):
    """LSTM, GRU (both bias layouts) and SimpleRNN: a hidden unit is its gate columns in the kernel and
    the recurrent kernel, its recurrent row and its gate biases. It is dead when all of those are 0 and
    the activation is 0 at 0: then it outputs 0 at every step and never reaches another unit."""

    def variables(self, layer) -> dict[str, Any]:
        cell = layer.cell
        found = {"kernel": cell.kernel, "recurrent_kernel": cell.recurrent_kernel}
        if getattr(cell, "bias", None) is not None:
            found["bias"] = cell.bias
        return found

    def problem(self, layer) -> str | None:
        if getattr(layer, "return_state", False):
            return f"{layer.name} returns its states as well, so prune-viz cannot remove its hidden units."
        return None

    def input_problem(self, layer) -> str | None:
        return None

    @staticmethod
    def kept_biases(name: str) -> str:
        return (
            f"The pruned hidden units of {name} keep their gate biases (unit mode 'kernel'), so they still "
            "change over time; unit-prune in mode 'remove' to compact them."
        )

    def units(self, w: dict) -> int:
        return int(w["recurrent_kernel"].shape[0])

    def _columns(self, w: dict, units: np.ndarray) -> np.ndarray:
        hidden = self.units(w)
        gates = w["kernel"].shape[-1] // hidden
        return (np.arange(gates)[:, None] * hidden + np.asarray(units)[None, :]).reshape(-1)

    def dead(self, layer, w: dict) -> tuple[np.ndarray, np.ndarray]:
        hidden = self.units(w)
        gate_of = np.arange(w["kernel"].shape[-1]) % hidden
        zero_columns = zero_along(w["kernel"], -1) & zero_along(w["recurrent_kernel"], -1)
        zeroed = np.array([zero_columns[gate_of == j].all() for j in range(hidden)])
        zeroed &= zero_along(w["recurrent_kernel"], 0)
        if not zeroed.any():
            return zeroed, np.zeros(hidden)
        if "bias" in w:
            bias = w["bias"].reshape(-1, w["kernel"].shape[-1])
            with_bias = np.array([np.any(bias[:, gate_of == j] != 0) for j in range(hidden)])
            if np.any(zeroed & with_bias):
                raise CompactionError(self.kept_biases(layer.name))
        if np.any(activation_of(layer.cell, np.zeros(1)) != 0):
            raise CompactionError(
                f"The activation of {layer.name} is not 0 at 0, so its pruned hidden units still output "
                "something that changes over time."
            )
        return zeroed, np.zeros(hidden)

    def keep_units(self, layer, w: dict, config: dict, keep: np.ndarray) -> None:
        columns = self._columns(w, keep)
        w["kernel"] = np.ascontiguousarray(w["kernel"][:, columns])
        w["recurrent_kernel"] = np.ascontiguousarray(w["recurrent_kernel"][keep][:, columns])
        if "bias" in w:
            w["bias"] = np.ascontiguousarray(w["bias"][..., columns])
        config["units"] = int(len(keep))

    def absorb(self, layer, w: dict, alive: np.ndarray, const: np.ndarray) -> None:
        kernel, dead = w["kernel"], ~alive
        folded = np.asarray(const, np.float64)[dead] @ kernel[dead].astype(np.float64)
        two_rows = "bias" in w and w["bias"].ndim == 2  # GRU with reset_after: (input bias, recurrent bias)
        _add_to_bias(layer, w, folded, row=0 if two_rows else None)
        w["kernel"] = np.ascontiguousarray(kernel[alive])


class Embedding(Rule):
    consumes = False
    units_key = "output_dim"
    main = "embeddings"

    def variables(self, layer) -> dict[str, Any]:
        return {"embeddings": layer.embeddings}

    def dead(self, layer, w: dict) -> tuple[np.ndarray, np.ndarray]:
        dead = zero_along(w["embeddings"], -1)
        return dead, np.zeros(len(dead))


class Depthwise(Rule):
    """A unit is an input channel with its multiplier slice (kernel (..., in, multiplier), bias per output)."""

    role = "depthwise"
    consumes = False

    def problem(self, layer) -> str | None:
        return _channels_last_problem(layer)

    def units(self, w: dict) -> int:
        return int(w["kernel"].shape[-2])

    def own_dead(self, w: dict) -> np.ndarray:
        """Bool per input channel: its kernel slice (every position, every multiplier) is 0."""
        return zero_along(w["kernel"], -2)

    def through(self, layer, w: dict, value: np.ndarray, owner: str) -> np.ndarray:
        """Per output channel (channel * multiplier + m): the constant it outputs, NaN where unknown.
        ``value`` holds, per input channel, the constant coming in (NaN where not constant)."""
        kernel = w["kernel"]
        taps = kernel.reshape(-1, *kernel.shape[-2:]).astype(np.float64).sum(axis=0)  # (in, multiplier)
        bias = w.get("bias", np.zeros(taps.size)).astype(np.float64).reshape(taps.shape)
        own = self.own_dead(w)
        known = ~np.isnan(value)
        if _zero_padded(layer) and np.any(known & ~own & (np.nan_to_num(value) != 0)):
            raise CompactionError(
                f"{layer.name} zero-pads its input ('{layer.padding}' padding), so the constant output of the "
                f"dead units of {owner} cannot pass through it."
            )
        incoming = np.where(own[:, None], 0.0, np.nan_to_num(value)[:, None] * taps)
        out = activation_of(layer, incoming + bias)
        return np.where((known | own)[:, None], out, np.nan).reshape(-1)

    def drop_channels(self, w: dict, keep: np.ndarray) -> None:
        multiplier = w["kernel"].shape[-1]
        w["kernel"] = np.ascontiguousarray(w["kernel"][..., keep, :])
        if "bias" in w:
            w["bias"] = w["bias"][np.repeat(keep, multiplier)]


class Heads(Rule):
    """MultiHeadAttention: a head is its slice of the query, key and value kernels and biases (heads on
    axis 1 of the kernels, axis 0 of the biases) and its rows of the output kernel. A head whose output
    rows are all 0 adds nothing to the output, whatever it attends to, so it goes with its slices."""

    role = "heads"
    consumes = False
    units_key = "num_heads"
    main = "output/kernel"
    _parts = (("query", "query_dense"), ("key", "key_dense"), ("value", "value_dense"), ("output", "output_dense"))

    def variables(self, layer) -> dict[str, Any]:
        found = {}
        for name, attribute in self._parts:
            dense = getattr(layer, attribute)
            found[f"{name}/kernel"] = dense.kernel
            if getattr(dense, "bias", None) is not None:
                found[f"{name}/bias"] = dense.bias
        return found

    def units(self, w: dict) -> int:
        return int(w["output/kernel"].shape[0])

    def dead(self, layer, w: dict) -> tuple[np.ndarray, np.ndarray]:
        dead = zero_along(w["output/kernel"], 0)
        return dead, np.zeros(len(dead))

    def keep_units(self, layer, w: dict, config: dict, keep: np.ndarray) -> None:
        for name in ("query", "key", "value"):
            w[f"{name}/kernel"] = np.ascontiguousarray(w[f"{name}/kernel"][:, keep])
            if f"{name}/bias" in w:
                w[f"{name}/bias"] = np.ascontiguousarray(w[f"{name}/bias"][keep])
        w["output/kernel"] = np.ascontiguousarray(w["output/kernel"][keep])
        config["num_heads"] = int(len(keep))


RULES: dict[str, Rule] = {
    "Dense": Rule(),
    "Conv1D": Conv(),
    "Conv2D": Conv(),
    "Conv3D": Conv(),
    "Conv1DTranspose": ConvTranspose(),
    "Conv2DTranspose": ConvTranspose(),
    "Conv3DTranspose": ConvTranspose(),
    "SeparableConv1D": Separable(),
    "SeparableConv2D": Separable(),
    "LSTM": Recurrent(),
    "GRU": Recurrent(),
    "SimpleRNN": Recurrent(),
    "Embedding": Embedding(),
    "DepthwiseConv1D": Depthwise(),
    "DepthwiseConv2D": Depthwise(),
    "MultiHeadAttention": Heads(),
}


def rule_of(layer) -> Rule | None:
    """The compaction rule of ``layer``'s kind (matched along its classes), or None: also for a layer
    of a known kind holding weights the rule does not name (a subclass's own, a gated attention's)."""
    rule = RULES.get(kind_of(layer))
    if rule is None:
        return None
    try:
        named = {id(variable) for variable in rule.variables(layer).values()}
    except (AttributeError, TypeError, ValueError):  # not built, or laid out otherwise
        return None
    return rule if all(id(w) in named for w in layer.weights) and layer.weights else None


def named_weights(layer, rule: Rule, values: list[np.ndarray]) -> dict[str, np.ndarray]:
    """``values`` (one per ``layer.weights``, in order) by the rule's names for them (``rule_of``
    gives a rule only for a layer whose every weight it names)."""
    names = {id(variable): name for name, variable in rule.variables(layer).items()}
    return {names[id(w)]: value for w, value in zip(layer.weights, values)}
