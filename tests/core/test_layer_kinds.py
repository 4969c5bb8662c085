"""Every layer kind with weights: its tensors are found, and unit pruning in remove mode makes a removed
unit contribute exactly nothing (its channel, hidden unit or head outputs 0 through every gate and time
step); weight pruning zeroes exactly the planned entries; restore() is exact.

Each kind is built Sequential and Functional, with random (not trained) weights and biases made
non-zero, so that a unit outputs 0 only when all of its slices and vectors are zeroed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from prune_viz.core.io import LoadedModel
from prune_viz.core.layers import find_prunable_layers, weight_share
from prune_viz.core.pruning import Pruner, PruningConfig


def _layer(kind: str):
    """(the layer under test, input shape, how its output's last axis maps to units)."""
    import keras

    L = keras.layers
    table = {
        "Dense": (lambda: L.Dense(6), (5,), "identity"),
        "Conv1D": (lambda: L.Conv1D(4, 3), (8, 3), "identity"),
        "Conv3D": (lambda: L.Conv3D(4, 2), (4, 4, 4, 2), "identity"),
        "Conv1DTranspose": (lambda: L.Conv1DTranspose(4, 3), (6, 3), "identity"),
        "Conv2DTranspose": (lambda: L.Conv2DTranspose(4, 3, strides=2), (5, 5, 3), "identity"),
        "Conv3DTranspose": (lambda: L.Conv3DTranspose(3, 2), (3, 3, 3, 2), "identity"),
        "DepthwiseConv1D": (lambda: L.DepthwiseConv1D(3, depth_multiplier=2), (8, 3), "multiplier"),
        "DepthwiseConv2D": (lambda: L.DepthwiseConv2D(3, depth_multiplier=2), (6, 6, 3), "multiplier"),
        "DepthwiseConv2D-m1": (lambda: L.DepthwiseConv2D(3), (6, 6, 3), "multiplier"),  # units are not the last axis
        "SeparableConv1D": (lambda: L.SeparableConv1D(4, 3, depth_multiplier=2), (8, 3), "identity"),
        "SeparableConv2D": (lambda: L.SeparableConv2D(4, 3, depth_multiplier=2), (6, 6, 3), "identity"),
        "LSTM": (lambda: L.LSTM(5, return_sequences=True), (7, 3), "identity"),
        "GRU": (lambda: L.GRU(5, return_sequences=True), (7, 3), "identity"),
        "GRU-v1": (lambda: L.GRU(5, return_sequences=True, reset_after=False), (7, 3), "identity"),
        "SimpleRNN": (lambda: L.SimpleRNN(5, return_sequences=True), (7, 3), "identity"),
        "Bidirectional": (lambda: L.Bidirectional(L.LSTM(4, return_sequences=True)), (6, 3), "bidirectional"),
        "TimeDistributed": (lambda: L.TimeDistributed(L.Dense(4)), (6, 3), "identity"),
        "ConvLSTM1D": (lambda: L.ConvLSTM1D(3, 3, return_sequences=True), (4, 6, 2), "identity"),
        "RNN-LSTMCell": (lambda: L.RNN(L.LSTMCell(5), return_sequences=True), (7, 3), "identity"),
        "RNN-GRUCell": (lambda: L.RNN(L.GRUCell(5), return_sequences=True), (7, 3), "identity"),
        "Embedding": (lambda: L.Embedding(30, 6), (9,), "identity"),
        "EinsumDense": (lambda: L.EinsumDense("ab,bc->ac", output_shape=6, bias_axes="c"), (5,), "identity"),
    }
    return table[kind]


KINDS = [
    "Dense",
    "Conv1D",
    "Conv3D",
    "Conv1DTranspose",
    "Conv2DTranspose",
    "Conv3DTranspose",
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "DepthwiseConv2D-m1",
    "SeparableConv1D",
    "SeparableConv2D",
    "LSTM",
    "GRU",
    "GRU-v1",
    "SimpleRNN",
    "Bidirectional",
    "TimeDistributed",
    "ConvLSTM1D",
    "RNN-LSTMCell",
    "RNN-GRUCell",
    "Embedding",
    "EinsumDense",
]


def _model(kind: str, functional: bool):
    import keras

    make, shape, _ = _layer(kind)
    keras.utils.set_random_seed(3)
    layer = make()
    dtype = "int32" if kind == "Embedding" else "float32"
    if functional:
        inputs = keras.Input(shape, dtype=dtype)
        model = keras.Model(inputs, layer(inputs))
    else:
        model = keras.Sequential([keras.Input(shape, dtype=dtype), layer])
    for weight in model.weights:  # biases non-zero: a removed unit must lose them too
        if len(weight.shape) == 1 or "GRU" in kind and "bias" in weight.path:
            weight.assign(np.random.default_rng(1).uniform(0.2, 0.5, weight.shape).astype("float32"))
    return model, shape, dtype


def _inputs(shape, dtype):
    rng = np.random.default_rng(0)
    if dtype == "int32":
        return rng.integers(0, 30, (4, *shape)).astype("int32")
    return rng.normal(size=(4, *shape)).astype("float32")


def _open(model):
    loaded = LoadedModel(path=Path("in-memory"), format="test", keras_model=model)
    layers = find_prunable_layers(loaded)
    return loaded, layers, Pruner(layers)


def _output_channels(kind: str, removed: np.ndarray, layers) -> np.ndarray:
    """Bool per channel of the layer's output: True where it belongs to a removed unit."""
    mapping = _layer(kind)[2]
    if mapping == "multiplier":
        multiplier = layers[0].shape[-1]
        return np.repeat(removed, multiplier)
    if mapping == "bidirectional":
        return removed
    return removed


# at the Keras floor, each kind once (its units are the same in a Functional model)
@pytest.mark.parametrize(
    "functional", [pytest.param(False, marks=pytest.mark.keras_floor), True], ids=["sequential", "functional"]
)
@pytest.mark.parametrize("kind", KINDS)
def test_a_removed_unit_outputs_exactly_zero_and_restore_is_exact(kind, functional):
    model, shape, dtype = _model(kind, functional)
    loaded, layers, pruner = _open(model)
    assert layers, f"no prunable tensor found in a {kind} model"
    assert weight_share(loaded, layers).fraction == 1.0
    x = _inputs(shape, dtype)
    before = np.asarray(model(x))
    originals = [np.array(w.numpy()) for w in model.weights]
    with_units = [t for t in layers if t.units]
    config = PruningConfig(method="unit", k=40, included=frozenset(t.name for t in layers), unit_mode="remove")
    result = pruner.prune(config)
    removed_by_group = {}
    for tensor in with_units:
        removed = result.removed_units(tensor.name)
        assert removed is not None and removed.any()
        removed_by_group.setdefault(tensor.group, removed)
        assert np.array_equal(removed, removed_by_group[tensor.group]), "a group's tensors remove other units"
    with pruner.applied(result):
        after = np.asarray(model(x))
    groups = list(removed_by_group.values())
    removed = np.concatenate(groups) if kind == "Bidirectional" else groups[-1]
    channels = _output_channels(kind, removed, layers)
    assert channels.shape == (after.shape[-1],)
    assert np.all(after[..., channels] == 0), f"a removed {kind} unit still outputs something"
    assert np.any(after[..., ~channels] != 0)
    assert np.any(before[..., channels] != 0)
    for weight, original in zip(model.weights, originals):
        assert np.array_equal(weight.numpy(), original), f"{weight.path} is not restored bit for bit"
    assert np.array_equal(np.asarray(model(x)), before)


@pytest.mark.keras_floor
@pytest.mark.parametrize("kind", KINDS)
def test_weight_pruning_zeroes_exactly_the_planned_entries(kind):
    model, _shape, _dtype = _model(kind, functional=True)
    _loaded, layers, pruner = _open(model)
    config = PruningConfig(method="weight", k=30, included=frozenset(t.name for t in layers))
    result = pruner.prune(config)
    with pruner.applied(result):
        for tensor in layers:
            written = tensor.as_matrix(np.asarray(tensor.variable.numpy()))
            original = tensor.as_matrix(tensor.original)
            kept = result.plans[tensor.name].kept(original)
            expected_pruned = int(np.floor(tensor.size * 0.3 + 0.5))
            assert int((~kept).sum()) == expected_pruned
            assert np.array_equal(written, np.where(kept, original, 0)), tensor.name
            magnitudes = np.abs(original)
            assert magnitudes[~kept].max() <= magnitudes[kept].min()


def _attention_model(functional: bool):
    import keras

    keras.utils.set_random_seed(5)
    attention = keras.layers.MultiHeadAttention(num_heads=3, key_dim=4, value_dim=2, name="mha")
    inputs = keras.Input((6, 8))
    if functional:
        outputs = attention(inputs, inputs)
        model = keras.Model(inputs, keras.layers.Dense(5)(keras.layers.LayerNormalization()(outputs + inputs)))
    else:
        model = keras.Model(inputs, attention(inputs, inputs))
    for weight in model.weights:
        if len(weight.shape) <= 2 and "bias" in weight.path:
            weight.assign(np.random.default_rng(2).uniform(0.2, 0.5, weight.shape).astype("float32"))
    return model, attention


@pytest.mark.keras_floor
@pytest.mark.parametrize("functional", [False, True], ids=["alone", "transformer-block"])
def test_a_removed_attention_head_contributes_nothing(functional):
    model, attention = _attention_model(functional)
    _loaded, layers, pruner = _open(model)
    heads = [t for t in layers if t.layer_path == "mha"]
    assert sorted(t.name for t in heads) == ["mha/key", "mha/output", "mha/query", "mha/value"]
    assert {t.units for t in heads} == {3} and len({t.group for t in heads}) == 1
    config = PruningConfig(method="unit", k=34, included=frozenset(t.name for t in heads), unit_mode="remove")
    result = pruner.prune(config)
    removed = result.removed_units("mha/value")
    assert removed.sum() == 1
    head = int(np.flatnonzero(removed)[0])
    x = np.random.default_rng(0).normal(size=(2, 6, 8)).astype("float32")
    with pruner.applied(result):
        values = np.asarray(attention.value_dense(x))  # (batch, seq, heads, dim)
        assert np.all(values[:, :, head] == 0) and np.any(values[:, :, ~removed] != 0)
        assert np.all(attention.output_dense.kernel.numpy()[head] == 0)
        # the head's share of the output: its values through the output kernel's head slice
        with_head_only = np.einsum("bshd,hdo->bso", values[:, :, [head]], attention.output_dense.kernel.numpy()[[head]])
        assert np.all(with_head_only == 0)


@pytest.mark.keras_floor
def test_layers_inside_nested_models_are_found_with_their_paths():
    import keras

    inner = keras.Sequential([keras.Input((7, 3)), keras.layers.LSTM(4, name="lstm")], name="encoder")
    inputs = keras.Input((7, 3))
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(inner(inputs)))
    _loaded, layers, _pruner = _open(model)
    assert [t.name for t in layers] == ["encoder/lstm/kernel", "encoder/lstm/recurrent_kernel", "head"]
    assert [t.is_output for t in layers] == [False, False, True]


@pytest.mark.keras_floor
def test_any_other_weight_of_rank_two_or_more_is_shown_and_weight_prunable():
    import keras

    model = keras.Sequential(
        [keras.Input((4, 5)), keras.layers.PReLU(name="p_re_lu"), keras.layers.LayerNormalization(name="norm")]
    )
    loaded, layers, pruner = _open(model)
    assert [(t.name, t.shape, t.units) for t in layers] == [("p_re_lu/alpha", (4, 5), 0)]
    share = weight_share(loaded, layers)
    assert share.fraction == 1.0
    assert share.left_out == [("norm", "a normalisation layer: never pruned itself")]
    result = pruner.prune(PruningConfig(method="weight", k=50, included=frozenset({"p_re_lu/alpha"})))
    assert result.layer("p_re_lu/alpha").pruned == 10
    unit_result = pruner.prune(PruningConfig(method="unit", k=50, included=frozenset({"p_re_lu/alpha"})))
    assert unit_result.layer("p_re_lu/alpha").pruned == 0  # no unit definition: weight pruning only


@pytest.mark.keras_floor
@pytest.mark.parametrize("norm", ["BatchNormalization", "LayerNormalization"])
def test_a_normalisation_right_after_a_layer_loses_a_removed_units_entries(norm):
    import keras

    keras.utils.set_random_seed(4)
    inputs = keras.Input((5,))
    dense = keras.layers.Dense(6, name="dense")(inputs)
    model = keras.Model(inputs, getattr(keras.layers, norm)(name="norm")(dense))
    for weight in model.weights:
        if "gamma" in weight.path or "beta" in weight.path or "bias" in weight.path:
            weight.assign(np.random.default_rng(1).uniform(0.2, 0.5, weight.shape).astype("float32"))
    _loaded, layers, pruner = _open(model)
    assert [v.label for v in layers[0].unit_vectors] == ["bias", "norm/gamma", "norm/beta"]
    config = PruningConfig(method="unit", k=50, included=frozenset({"dense"}), unit_mode="remove")
    result = pruner.prune(config)
    removed = result.removed_units("dense")
    x = np.random.default_rng(0).normal(size=(8, 5)).astype("float32")
    with pruner.applied(result):
        out = np.asarray(model(x))
    assert np.all(out[:, removed] == 0) and np.all(out[:, ~removed] != 0)
