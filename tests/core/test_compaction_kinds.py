"""Compaction of every layer kind whose units can be removed: after unit pruning in remove mode at k=40,
the compacted model is smaller by exactly the removed units' entries, computes what the masked model
computes, and reloads with keras.saving.load_model.

Each model is a small chain of the kind under test (Sequential and Functional; attention only as a
Functional transformer block), with random weights and non-zero biases. The parameter count it must
reach is that of the same chain built with the kept widths: an oracle independent of the compaction code.
Some chains put a sigmoid before a consumer, so the removed units' constant (0.5) must be folded into
its bias rather than dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from prune_viz.core.export import CompactionError, compact_model, compaction_problem, masked_kernels
from prune_viz.core.io import LoadedModel
from prune_viz.core.layers import find_prunable_layers
from prune_viz.core.pruning import Pruner, PruningConfig


@dataclass
class Case:
    layers: object  # widths -> the chain's layers
    shape: tuple
    widths: tuple
    width_of: tuple  # per width: the layer(s) whose removed units it loses (depthwise units share a conv's)
    dtype: str = "float32"


def _cases() -> dict[str, Case]:
    import keras

    L = keras.layers

    def rnn(kind, units, **kwargs):
        make = {"LSTM": L.LSTM, "GRU": L.GRU, "GRU-v1": L.GRU, "SimpleRNN": L.SimpleRNN}[kind]
        if kind == "GRU-v1":
            kwargs["reset_after"] = False
        return make(units, name="rnn", **kwargs)

    cases = {
        "Conv1DTranspose": Case(
            lambda u: [
                L.Conv1DTranspose(u[0], 3, activation="relu", name="t1"),
                L.Conv1DTranspose(u[1], 3, activation="relu", name="t2"),
                L.Flatten(),
                L.Dense(4, name="out"),
            ],
            (6, 3),
            (8, 6),
            ("t1", "t2"),
        ),
        "Conv2DTranspose": Case(
            lambda u: [
                L.Conv2DTranspose(u[0], 3, strides=2, activation="relu", name="t1"),
                L.BatchNormalization(name="bn"),
                L.Conv2DTranspose(u[1], 3, padding="same", activation="relu", name="t2"),
                L.GlobalAveragePooling2D(),
                L.Dense(4, name="out"),
            ],
            (4, 4, 3),
            (8, 6),
            ("t1", "t2"),
        ),
        "Conv3DTranspose": Case(
            lambda u: [
                L.Conv3DTranspose(u[0], 2, activation="relu", name="t1"),
                L.Conv3DTranspose(u[1], 2, activation="relu", name="t2"),
                L.Flatten(),
                L.Dense(4, name="out"),
            ],
            (3, 3, 3, 2),
            (5, 4),
            ("t1", "t2"),
        ),
        "SeparableConv1D": Case(
            lambda u: [
                L.SeparableConv1D(u[0], 3, depth_multiplier=2, activation="sigmoid", name="s1"),
                L.SeparableConv1D(u[1], 3, activation="relu", name="s2"),
                L.GlobalAveragePooling1D(),
                L.Dense(4, name="out"),
            ],
            (10, 3),
            (8, 6),
            ("s1", "s2"),
        ),
        "SeparableConv2D": Case(
            lambda u: [
                L.SeparableConv2D(u[0], 3, depth_multiplier=2, activation="relu", name="s1"),
                L.MaxPooling2D(),
                L.SeparableConv2D(u[1], 2, activation="sigmoid", name="s2"),
                L.Flatten(),
                L.Dense(4, name="out"),
            ],
            (8, 8, 3),
            (8, 6),
            ("s1", "s2"),
        ),
        "Conv3D": Case(
            lambda u: [
                L.Conv3D(u[0], 2, activation="relu", name="c1"),
                L.Conv3D(u[1], 2, activation="relu", name="c2"),
                L.Flatten(),
                L.Dense(4, name="out"),
            ],
            (4, 4, 4, 2),
            (6, 5),
            ("c1", "c2"),
        ),
        "DepthwiseConv2D": Case(
            lambda u: [
                L.Conv2D(u[0], 3, activation="relu", name="c1"),
                L.BatchNormalization(name="bn"),
                L.DepthwiseConv2D(3, depth_multiplier=2, activation="relu", name="dw"),
                L.Conv2D(u[1], 1, activation="relu", name="c2"),
                L.GlobalAveragePooling2D(),
                L.Dense(4, name="out"),
            ],
            (8, 8, 3),
            (8, 6),
            (("c1", "dw"), "c2"),
        ),
        "DepthwiseConv1D": Case(
            lambda u: [
                L.Conv1D(u[0], 3, activation="sigmoid", name="c1"),
                L.DepthwiseConv1D(3, activation="relu", name="dw"),
                L.Conv1D(u[1], 1, name="c2"),
                L.Flatten(),
                L.Dense(4, name="out"),
            ],
            (10, 3),
            (8, 6),
            (("c1", "dw"), "c2"),
        ),
        "Embedding+LSTM": Case(
            lambda u: [L.Embedding(40, u[0], name="emb"), L.LSTM(u[1], name="lstm"), L.Dense(4, name="out")],
            (9,),
            (12, 8),
            ("emb", "lstm"),
            "int32",
        ),
        "Embedding+pooling": Case(
            lambda u: [
                L.Embedding(40, u[0], name="emb"),
                L.GlobalAveragePooling1D(),
                L.Dense(u[1], activation="relu", name="d1"),
                L.Dense(4, name="out"),
            ],
            (9,),
            (12, 8),
            ("emb", "d1"),
            "int32",
        ),
    }
    for kind in ("LSTM", "GRU", "GRU-v1", "SimpleRNN"):
        cases[f"{kind}-sequences"] = Case(  # a sigmoid Dense before: its removed units feed 0.5 into the gates
            lambda u, kind=kind: [
                L.Dense(u[0], activation="sigmoid", name="d0"),
                rnn(kind, u[1], return_sequences=True),
                L.LSTM(u[2], name="lstm"),
                L.Dense(4, name="out"),
            ],
            (7, 5),
            (9, 12, 10),
            ("d0", "rnn", "lstm"),
        )
        cases[f"{kind}-last"] = Case(
            lambda u, kind=kind: [
                rnn(kind, u[0]),
                L.Dense(u[1], activation="relu", name="d1"),
                L.Dense(4, name="out"),
            ],
            (7, 5),
            (12, 8),
            ("rnn", "d1"),
        )
    return cases


CASES = [
    "Conv1DTranspose",
    "Conv2DTranspose",
    "Conv3DTranspose",
    "SeparableConv1D",
    "SeparableConv2D",
    "Conv3D",
    "DepthwiseConv2D",
    "DepthwiseConv1D",
    "Embedding+LSTM",
    "Embedding+pooling",
    *(f"{kind}-{end}" for kind in ("LSTM", "GRU", "GRU-v1", "SimpleRNN") for end in ("sequences", "last")),
]


def _chain(case: Case, widths, functional: bool):
    import keras

    layers = case.layers(widths)
    if functional:
        inputs = x = keras.Input(case.shape, dtype=case.dtype)
        for layer in layers:
            x = layer(x)
        return keras.Model(inputs, x)
    return keras.Sequential([keras.Input(case.shape, dtype=case.dtype), *layers])


def _with_random_vectors(model, seed: int = 1):
    """Biases and normalisation parameters made non-zero (variances positive), so a kept unit's
    vectors matter and a removed unit outputs a constant only because remove mode zeroed them."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        if len(weight.shape) == 1 or "bias" in weight.path:
            weight.assign(rng.uniform(0.1, 0.5, weight.shape).astype("float32"))
    return model


def _inputs(shape, dtype, seed: int = 0):
    rng = np.random.default_rng(seed)
    if dtype == "int32":
        return rng.integers(0, 40, (5, *shape)).astype("int32")
    return rng.normal(size=(5, *shape)).astype("float32")


def _pruner(model):
    layers = find_prunable_layers(LoadedModel(path=Path("in-memory"), format="test", keras_model=model))
    return layers, Pruner(layers)


def _removed_by_layer(result, layers) -> dict[str, np.ndarray]:
    removed = {}
    for tensor in layers:
        units = result.removed_units(tensor.name)
        if units is not None:
            removed.setdefault(tensor.layer_path, units)
    return removed


def _compacted(model, included, x, unit_mode="remove"):
    """(masked outputs, compaction, removed units by layer) after unit pruning ``included`` at k=40."""
    layers, pruner = _pruner(model)
    included = frozenset(t.name for t in layers if t.name in included or t.layer_path in included)
    result = pruner.prune(PruningConfig("unit", 40, "layer", included, unit_mode=unit_mode))
    with pruner.applied(result):
        masked = np.asarray(model(x, training=False))
        compaction = compact_model(model, masked_kernels(result))
    return masked, compaction, _removed_by_layer(result, layers)


def _check(model, compaction, masked, x, oracle, tmp_path):
    import keras

    removed_entries = model.count_params() - oracle.count_params()
    assert removed_entries > 0
    assert compaction.parameters_before == model.count_params()
    assert compaction.parameters_before - compaction.parameters_after == removed_entries
    got = np.asarray(compaction.model(x, training=False))
    np.testing.assert_allclose(got, masked, atol=1e-5, rtol=0)
    path = tmp_path / "compact.keras"
    compaction.model.save(path)
    reloaded = keras.saving.load_model(path)
    assert reloaded.count_params() == compaction.parameters_after
    np.testing.assert_allclose(np.asarray(reloaded(x, training=False)), masked, atol=1e-5, rtol=0)


# at the Keras floor, the Functional rebuild of every case (test_export compacts Sequential models there)
@pytest.mark.parametrize(
    "functional", [False, pytest.param(True, marks=pytest.mark.keras_floor)], ids=["sequential", "functional"]
)
@pytest.mark.parametrize("name", CASES)
def test_compaction_removes_exactly_the_pruned_units_and_computes_the_masked_model(name, functional, tmp_path):
    import keras

    case = _cases()[name]
    keras.utils.set_random_seed(7)
    model = _with_random_vectors(_chain(case, case.widths, functional))
    x = _inputs(case.shape, case.dtype)
    layers, _ = _pruner(model)
    included = {t.name for t in layers if not t.is_output}
    masked, compaction, removed = _compacted(model, included, x)
    kept = []
    for width, owners in zip(case.widths, case.width_of):
        owners = owners if isinstance(owners, tuple) else (owners,)
        gone = np.any([removed[owner] for owner in owners], axis=0)
        assert 0 < gone.sum() < width
        kept.append(width - int(gone.sum()))
    _check(model, compaction, masked, x, _chain(case, tuple(kept), functional), tmp_path)
    before = {c.name: c.units_before for c in compaction.layers}
    after = {c.name: c.units_after for c in compaction.layers}
    for owners, width, left in zip(case.width_of, case.widths, kept):
        owner = owners[0] if isinstance(owners, tuple) else owners
        assert (before[owner], after[owner]) == (width, left)


def _transformer_block(heads: int, hidden: int):
    import keras

    L = keras.layers
    inputs = keras.Input((6, 8))
    attended = L.MultiHeadAttention(num_heads=heads, key_dim=4, value_dim=3, name="mha")(inputs, inputs)
    x = L.LayerNormalization(name="norm1")(L.Add()([inputs, attended]))
    ff = L.Dense(8, name="ff2")(L.Dense(hidden, activation="relu", name="ff1")(x))
    x = L.LayerNormalization(name="norm2")(L.Add()([x, ff]))
    return keras.Model(inputs, L.Dense(4, name="out")(L.GlobalAveragePooling1D()(x)))


@pytest.mark.keras_floor
def test_attention_heads_leave_a_transformer_block_and_its_feed_forward_units_too(tmp_path):
    import keras

    keras.utils.set_random_seed(3)
    model = _with_random_vectors(_transformer_block(heads=5, hidden=16))
    x = _inputs((6, 8), "float32")
    masked, compaction, removed = _compacted(model, {"mha", "ff1"}, x)
    assert removed["mha"].sum() == 2 and removed["ff1"].sum() == 6
    _check(model, compaction, masked, x, _transformer_block(heads=3, hidden=10), tmp_path)
    assert compaction.model.get_layer("mha").get_config()["num_heads"] == 3
    head = next(c for c in compaction.layers if c.name == "mha")
    assert (head.units_before, head.units_after, head.kernel_shape_after) == (5, 3, (3, 3, 8))


@pytest.mark.keras_floor
def test_why_a_model_cannot_be_compacted_is_said_before_pruning_for_what_is_pruned(tmp_path):
    import keras

    from prune_viz.core.session import open_model

    path = tmp_path / "block.keras"
    _transformer_block(heads=4, hidden=8).save(path)
    opened = open_model(path)
    problem = compaction_problem(opened, "unit")  # every hidden layer pruned, ff2 too
    assert "ff2" in problem and "straight chains" in problem
    only = frozenset(t.name for t in opened.layers if t.layer_path in {"mha", "ff1"})
    assert compaction_problem(opened, "unit", only, "remove") is None

    L = keras.layers
    cases = {
        "bidirectional.keras": (
            [L.Bidirectional(L.LSTM(4, return_sequences=True), name="bi"), L.Flatten(), L.Dense(3, name="out")],
            (5, 2),
            "bi/",
        ),
        "depthwise-first.keras": (
            [L.DepthwiseConv2D(3, name="dw"), L.Flatten(), L.Dense(3, name="out")],
            (6, 6, 2),
            "dw",
        ),
    }
    for name, (layers, shape, says) in cases.items():
        keras.Sequential([keras.Input(shape), *layers]).save(tmp_path / name)
        problem = compaction_problem(open_model(tmp_path / name), "unit")
        assert problem is not None and says in problem, problem


@pytest.mark.keras_floor
def test_recurrent_units_pruned_in_kernel_mode_keep_changing_so_compaction_says_use_remove(tmp_path):
    import keras

    case = _cases()["LSTM-last"]
    keras.utils.set_random_seed(2)
    model = _with_random_vectors(_chain(case, case.widths, functional=False))
    path = tmp_path / "lstm.keras"
    model.save(path)
    from prune_viz.core.session import open_model

    opened = open_model(path)
    problem = compaction_problem(opened, "unit", None, "kernel")
    assert "rnn" in problem and "'remove'" in problem
    assert compaction_problem(opened, "unit", None, "remove") is None
    with pytest.raises(CompactionError, match="'remove'"):
        _compacted(model, {"rnn", "d1"}, _inputs(case.shape, case.dtype), unit_mode="kernel")


@pytest.mark.keras_floor
def test_a_transposed_convolution_refuses_a_constant_it_cannot_fold():
    import keras

    L = keras.layers

    def model(activation):
        keras.utils.set_random_seed(6)
        return _with_random_vectors(
            keras.Sequential(
                [
                    keras.Input((6, 3)),
                    L.Conv1D(6, 3, activation=activation, name="c1"),
                    L.Conv1DTranspose(4, 3, name="t1"),
                    L.Flatten(),
                    L.Dense(3, name="out"),
                ]
            )
        )

    x = _inputs((6, 3), "float32")
    with pytest.raises(CompactionError, match="t1 is a transposed convolution"):  # removed filters output 0.5
        _compacted(model("sigmoid"), {"c1"}, x)
    masked, compaction, _ = _compacted(model("relu"), {"c1"}, x)  # relu(0) = 0: nothing to fold
    np.testing.assert_allclose(np.asarray(compaction.model(x)), masked, atol=1e-5, rtol=0)
    assert compaction.model.get_layer("t1").kernel.shape == (3, 4, 4)
