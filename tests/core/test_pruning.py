"""Pruning masks: exact counts, the right weights, any k order, exact restore."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from prune_viz.core.io import LoadedModel
from prune_viz.core.layers import find_prunable_layers
from prune_viz.core.pruning import (
    Pruner,
    PruningConfig,
    PruningError,
    count_to_prune,
    parse_k,
    unit_norms,
)

KS = [0, 1, 12.5, 25, 33, 50, 66.6, 90, 99, 100]


def _model(seed: int = 0, scale_second: float = 1.0):
    import keras

    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((20,)),
            keras.layers.Dense(13, name="a"),
            keras.layers.Dense(7, name="b"),
            keras.layers.Dense(3, name="out"),
        ]
    )
    if scale_second != 1.0:
        layer = model.get_layer("b")
        layer.kernel.assign(layer.kernel.numpy() * scale_second)
    return model


def _pruner(model):
    layers = find_prunable_layers(LoadedModel(path=Path("in-memory"), format="test", keras_model=model))
    return Pruner(layers), layers


@pytest.fixture(scope="module")
def pruner_and_layers():
    return _pruner(_model())


def _np(result, name):
    return result.kernels[name].numpy(), result.masks.get(name)


@pytest.mark.keras_floor
def test_output_layer_is_flagged_and_found_in_order(pruner_and_layers):
    _, layers = pruner_and_layers
    assert [layer.name for layer in layers] == ["a", "b", "out"]
    assert [layer.is_output for layer in layers] == [False, False, True]
    assert layers[0].shape == (20, 13) and layers[0].units == 13 and layers[0].fan_in == 20


@pytest.mark.keras_floor
@pytest.mark.parametrize("k", KS)
def test_weight_layerwise_prunes_exactly_the_smallest(pruner_and_layers, k):
    pruner, layers = pruner_and_layers
    result = pruner.prune(PruningConfig("weight", k, "layer", {"a", "b"}))
    for layer in layers[:2]:
        kernel = result.kernels[layer.name].numpy()
        kept = result.masks[layer.name].numpy()
        expected = count_to_prune(layer.size, k)
        assert int((~kept).sum()) == expected
        assert result.layer(layer.name).pruned == expected
        np.testing.assert_array_equal(kernel[~kept], 0)
        np.testing.assert_array_equal(kernel[kept], layer.original[kept])
        if 0 < expected < layer.size:
            assert np.abs(layer.original[~kept]).max() <= np.abs(layer.original[kept]).min()
    # the output layer is not included, so it is untouched
    np.testing.assert_array_equal(result.kernels["out"].numpy(), layers[2].original)
    assert result.layer("out").pruned == 0


@pytest.mark.keras_floor
@pytest.mark.parametrize("k", KS)
def test_unit_layerwise_prunes_whole_lowest_norm_columns(pruner_and_layers, k):
    pruner, layers = pruner_and_layers
    result = pruner.prune(PruningConfig("unit", k, "layer", {"a", "b"}))
    for layer in layers[:2]:
        kernel = result.kernels[layer.name].numpy()
        dead = np.all(kernel == 0, axis=0)
        expected = count_to_prune(layer.units, k)
        assert int(dead.sum()) == expected == result.layer(layer.name).pruned_units
        np.testing.assert_array_equal(kernel[:, ~dead], layer.original[:, ~dead])
        norms = unit_norms(layer.original)
        if 0 < expected < layer.units:
            assert norms[dead].max() <= norms[~dead].min()


@pytest.mark.keras_floor
@pytest.mark.parametrize("method", ["weight", "unit"])
@pytest.mark.parametrize("k", [10, 50, 90])
def test_global_uses_one_threshold_across_layers(method, k):
    # layer b's weights are 10x larger, so a global threshold takes far more from layer a
    pruner, layers = _pruner(_model(scale_second=10.0))
    included = {"a", "b"}
    glob = pruner.prune(PruningConfig(method, k, "global", included))
    local = pruner.prune(PruningConfig(method, k, "layer", included))
    if method == "weight":
        total = sum(layer.size for layer in layers[:2])
        assert sum(glob.layer(n).pruned for n in included) == count_to_prune(total, k)
        pruned = np.concatenate([np.abs(layer.original)[~glob.masks[layer.name].numpy()] for layer in layers[:2]])
        kept = np.concatenate([np.abs(layer.original)[glob.masks[layer.name].numpy()] for layer in layers[:2]])
    else:
        total = sum(layer.units for layer in layers[:2])
        assert sum(glob.layer(n).pruned_units for n in included) == count_to_prune(total, k)
        norms = {layer.name: unit_norms(layer.original) for layer in layers[:2]}
        dead = {layer.name: np.all(glob.kernels[layer.name].numpy() == 0, axis=0) for layer in layers[:2]}
        pruned = np.concatenate([norms[n][dead[n]] for n in ("a", "b")])
        kept = np.concatenate([norms[n][~dead[n]] for n in ("a", "b")])
    assert pruned.max() <= kept.min()
    # global takes more from the small-weight layer a than layerwise does, and less from b
    assert glob.layer("a").sparsity > local.layer("a").sparsity
    assert glob.layer("b").sparsity < local.layer("b").sparsity


def test_any_k_order_gives_the_same_mask_as_a_fresh_pruner():
    model = _model(seed=3)
    pruner, _ = _pruner(model)
    configs = [
        PruningConfig(m, k, s, {"a", "b"})
        for m, k, s in itertools.product(["weight", "unit"], [90, 10, 50, 0, 100, 37], ["layer", "global"])
    ]
    rng = np.random.default_rng(0)
    for i in rng.permutation(len(configs)):
        result = pruner.prune(configs[i])
        pruner.apply(result)  # applying must not leak into later computations
        fresh, _ = _pruner(_model(seed=3))
        expected = fresh.prune(configs[i])
        for name in ("a", "b", "out"):
            np.testing.assert_array_equal(result.kernels[name].numpy(), expected.kernels[name].numpy())
    pruner.restore()


@pytest.mark.keras_floor
def test_apply_writes_the_model_and_restore_is_bit_exact():
    model = _model(seed=5)
    before = [w.copy() for w in model.get_weights()]
    pruner, _ = _pruner(model)
    x = np.random.default_rng(1).normal(size=(4, 20)).astype(np.float32)
    y0 = model(x).numpy()
    pruner.apply(pruner.prune(PruningConfig("weight", 80, "layer", {"a", "b"})))
    assert np.mean(model.get_layer("a").kernel.numpy() == 0) == pytest.approx(count_to_prune(260, 80) / 260)
    assert not np.allclose(model(x).numpy(), y0)
    pruner.restore()
    for got, want in zip(model.get_weights(), before):
        assert got.tobytes() == want.tobytes()
    assert model(x).numpy().tobytes() == y0.tobytes()


def test_ties_are_broken_by_flat_index():
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5, name="flat"), keras.layers.Dense(2)])
    model.get_layer("flat").kernel.assign(np.ones((4, 5), np.float32))
    pruner, _ = _pruner(model)
    kept = pruner.prune(PruningConfig("weight", 50, "layer", {"flat"})).masks["flat"].numpy().ravel()
    assert kept.tolist() == [False] * 10 + [True] * 10
    dead_units = np.all(pruner.prune(PruningConfig("unit", 40, "layer", {"flat"})).kernels["flat"].numpy() == 0, axis=0)
    assert dead_units.tolist() == [True, True, False, False, False]


@pytest.mark.keras_floor
def test_conv_kernels_prune_whole_filters():
    import keras

    keras.utils.set_random_seed(2)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(8, 3, name="conv"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, name="out"),
        ]
    )
    pruner, layers = _pruner(model)
    conv = layers[0]
    assert conv.kind == "Conv2D" and conv.shape == (3, 3, 1, 8) and conv.fan_in == 9
    assert conv.as_matrix(conv.original).shape == (9, 8)
    kernel = pruner.prune(PruningConfig("unit", 50, "layer", {"conv"})).kernels["conv"].numpy()
    dead = np.all(kernel.reshape(-1, 8) == 0, axis=0)
    assert dead.sum() == 4
    norms = unit_norms(conv.original)
    assert norms[dead].max() <= norms[~dead].min()


@pytest.mark.keras_floor
def test_weights_already_zero_count_towards_sparsity_not_pruning():
    import keras

    model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(10, name="z"), keras.layers.Dense(2)])
    w = np.arange(1, 101, dtype=np.float32).reshape(10, 10)
    w[0, :] = 0  # 10 weights are zero from the start
    model.get_layer("z").kernel.assign(w)
    pruner, _ = _pruner(model)
    stats = pruner.prune(PruningConfig("weight", 20, "layer", {"z"})).layer("z")
    assert stats.pruned == 20 and stats.zeros == 20  # the 20 smallest are the 10 zeros and 1..10
    stats = pruner.prune(PruningConfig("weight", 0, "layer", {"z"})).layer("z")
    assert stats.pruned == 0 and stats.zeros == 10 and stats.sparsity == pytest.approx(0.1)


@pytest.mark.parametrize("total,k,expected", [(5, 50, 3), (4, 50, 2), (10, 25, 3), (7, 0, 0), (7, 100, 7), (3, 1, 0)])
def test_count_rounds_half_up(total, k, expected):
    assert count_to_prune(total, k) == expected


@pytest.mark.parametrize("bad", [-1, 100.5, "abc", float("nan"), float("inf"), None])
def test_bad_k_is_refused(bad):
    with pytest.raises(PruningError):
        parse_k(bad)


def test_unknown_layer_and_method_are_refused(pruner_and_layers):
    pruner, _ = pruner_and_layers
    with pytest.raises(PruningError, match="nope"):
        pruner.prune(PruningConfig("weight", 10, "layer", {"nope"}))
    with pytest.raises(PruningError):
        PruningConfig("random", 10)
    with pytest.raises(PruningError):
        PruningConfig("weight", 10, "everywhere")


@pytest.mark.keras_floor
def test_a_layer_with_every_unit_pruned_gives_one_warning_naming_it(conv_bn_cnn_path):
    from prune_viz.core.session import open_model

    pruner = open_model(conv_bn_cnn_path).pruner
    convs = {"conv1", "conv2"}
    cut = pruner.prune(PruningConfig("unit", 50, "global", convs))
    assert cut.layer("conv1").pruned_units == cut.layer("conv1").units  # the whole first conv layer
    assert cut.warnings() == ["conv1: every unit is pruned; the model cannot pass anything through it."]
    some = pruner.prune(PruningConfig("unit", 25, "global", convs))
    assert 0 < some.layer("conv1").pruned_units < some.layer("conv1").units
    assert some.warnings() == []
    assert pruner.prune(PruningConfig("unit", 0, "global", convs)).warnings() == []
    # weight pruning that zeroes every weight of both layers cuts both off
    assert pruner.prune(PruningConfig("weight", 100, "layer", convs)).warnings() == [
        "conv1: every unit is pruned; the model cannot pass anything through it.",
        "conv2: every unit is pruned; the model cannot pass anything through it.",
    ]
