"""Unit modes (kernel / remove) and pruning criteria (magnitude, random, LAMP, Taylor)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from prune_viz.core.criteria import TaylorScores, lamp_scores, taylor_scores
from prune_viz.core.io import LoadedModel
from prune_viz.core.layers import find_prunable_layers
from prune_viz.core.pruning import Pruner, PruningConfig, PruningError, count_to_prune

pytestmark = pytest.mark.keras_floor


def _loaded(model):
    return LoadedModel(path=Path("in-memory"), format="test", keras_model=model)


def _pruner(model):
    layers = find_prunable_layers(_loaded(model))
    return Pruner(layers), layers


def _randomise_vectors(model, seed=1):
    """Non-zero biases and BatchNormalization parameters, so a kernel-only unit is not silent."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        for name in ("bias", "gamma", "beta", "moving_mean"):
            variable = getattr(layer, name, None)
            if variable is not None:
                variable.assign(rng.uniform(0.5, 1.5, variable.shape).astype(np.float32))
        if getattr(layer, "moving_variance", None) is not None:
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, layer.moving_variance.shape).astype(np.float32))


def _dense_model():
    import keras

    keras.utils.set_random_seed(3)
    inputs = keras.Input((12,))
    x = keras.layers.Dense(10, activation="relu", name="hidden")(inputs)
    outputs = keras.layers.Dense(4, name="out")(x)
    return keras.Model(inputs, outputs)


def _conv_model(batch_norm: bool):
    import keras

    keras.utils.set_random_seed(4)
    inputs = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(6, 3, activation=None if batch_norm else "relu", name="conv")(inputs)
    if batch_norm:
        x = keras.layers.BatchNormalization(name="bn")(x)
        x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(3, name="out")(x)
    return keras.Model(inputs, outputs)


def _sequential_conv_bn_model():
    import keras

    keras.utils.set_random_seed(5)
    return keras.Sequential(
        [
            keras.Input((8, 8, 2)),
            keras.layers.Conv2D(6, 3, name="conv"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.ReLU(name="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(3, name="out"),
        ]
    )


def _unit_outputs(model, layer_name, x):
    import keras

    return np.asarray(keras.Model(model.inputs[0], model.get_layer(layer_name).output)(x, training=False))


@pytest.mark.parametrize("case", ["dense", "conv", "conv-bn", "sequential-conv-bn"])
def test_removed_units_output_exactly_zero_and_restore_is_exact(case):
    model = {
        "dense": _dense_model,
        "conv": lambda: _conv_model(False),
        "conv-bn": lambda: _conv_model(True),
        "sequential-conv-bn": _sequential_conv_bn_model,
    }[case]()
    _randomise_vectors(model)
    pruned_layer = "hidden" if case == "dense" else "conv"
    watched = {"dense": "hidden", "conv": "conv"}.get(case, "relu")
    pruner, layers = _pruner(model)
    layer = next(layer for layer in layers if layer.name == pruned_layer)
    expected_vectors = ["bias"] + (["bn/gamma", "bn/beta"] if case.endswith("conv-bn") else [])
    assert [v.label for v in layer.unit_vectors] == expected_vectors
    before = [np.array(w) for w in model.get_weights()]
    x = np.random.default_rng(0).normal(size=(16,) + tuple(model.inputs[0].shape[1:])).astype(np.float32)

    outputs = {}
    for mode in ("kernel", "remove"):
        config = PruningConfig("unit", 50, included=frozenset({pruned_layer}), unit_mode=mode)
        result = pruner.prune(config)
        removed = ~result.plans[pruned_layer].kept_units
        assert removed.sum() == count_to_prune(layer.units, 50)
        pruner.apply(result)
        outputs[mode] = _unit_outputs(model, watched, x)[..., removed]
        pruner.restore()
        assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
        if mode == "remove":
            assert result.layer(pruned_layer).vector_entries == removed.sum() * len(expected_vectors)
            assert np.array_equal(result.removed_units(pruned_layer), removed)
    assert np.all(outputs["remove"] == 0.0)
    assert np.any(outputs["kernel"] != 0.0)  # the seed's unit still outputs act(bias) (through BN)


def test_kernel_mode_matches_an_argsort_reference():
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((20,)),
            keras.layers.Dense(13, name="a"),
            keras.layers.Dense(7, name="b"),
            keras.layers.Dense(3, name="out"),
        ]
    )
    pruner, layers = _pruner(model)
    names = ("a", "b")
    flat = {layer.name: layer.original.ravel() for layer in layers}
    for k in (10, 37.5, 80):
        # weight, global: the first n of a stable sort of all |w| (layers in model order)
        joined = np.concatenate([np.abs(flat[n]) for n in names])
        n_pruned = count_to_prune(joined.size, k)
        pruned = np.zeros(joined.size, bool)
        pruned[np.argsort(joined, kind="stable")[:n_pruned]] = True
        result = pruner.prune(PruningConfig("weight", k, "global", frozenset(names)))
        got = np.concatenate([~result.masks[n].numpy().ravel() for n in names])
        assert np.array_equal(got, pruned)
        # unit, layer: the round(units*k/100) smallest L2 norms
        result = pruner.prune(PruningConfig("unit", k, "layer", frozenset(names)))
        for layer in layers[:2]:
            norms = np.linalg.norm(layer.original.astype(np.float64), axis=0)
            dead = np.zeros(layer.units, bool)
            dead[np.argsort(norms, kind="stable")[: count_to_prune(layer.units, k)]] = True
            assert np.array_equal(~result.plans[layer.name].kept_units, dead)


def test_random_masks_are_reproducible_by_seed_and_differ_between_seeds():
    model = _dense_model()
    masks = {}
    for seed in (0, 0, 1):
        pruner, _ = _pruner(model)  # a fresh pruner: nothing cached
        config = PruningConfig("weight", 50, "global", frozenset({"hidden", "out"}), criterion="random", seed=seed)
        result = pruner.prune(config)
        masks.setdefault(seed, []).append(np.concatenate([result.masks[n].numpy().ravel() for n in ("hidden", "out")]))
        unit = pruner.prune(replace(config, method="unit", scope="layer"))
        masks[seed][-1] = np.concatenate([masks[seed][-1], unit.plans["hidden"].kept_units])
        assert result.included_sparsity() == pytest.approx(count_to_prune(12 * 10 + 10 * 4, 50) / 160)
    assert np.array_equal(masks[0][0], masks[0][1])
    assert not np.array_equal(masks[0][0], masks[1][0])
    # random is not magnitude in disguise
    magnitude = _pruner(model)[0].prune(PruningConfig("weight", 50, "global", frozenset({"hidden", "out"})))
    assert not np.array_equal(
        masks[0][0][:160], np.concatenate([magnitude.masks[n].numpy().ravel() for n in ("hidden", "out")])
    )


def test_lamp_scores_follow_the_paper_formula():
    rng = np.random.default_rng(5)
    matrix = rng.normal(size=(4, 3)).astype(np.float32)
    matrix[1, 2] = -matrix[0, 0]  # a tie in |w|: the lower flat index comes first
    flat = matrix.ravel().astype(np.float64)
    order = sorted(range(flat.size), key=lambda i: (abs(flat[i]), i))
    expected = np.empty(flat.size)
    for position, u in enumerate(order):
        expected[u] = flat[u] ** 2 / sum(flat[v] ** 2 for v in order[position:])
    assert np.allclose(lamp_scores(matrix).ravel(), expected, rtol=1e-6)
    assert lamp_scores(matrix).max() == pytest.approx(1.0)  # the largest weight of a layer scores 1


def test_lamp_global_pruning_prunes_by_lamp_score_and_units_by_fan_in_normalised_norm():
    model = _dense_model()
    pruner, layers = _pruner(model)
    names = ("hidden", "out")
    result = pruner.prune(PruningConfig("weight", 60, "global", frozenset(names), criterion="lamp"))
    scores = np.concatenate([lamp_scores(layer.as_matrix(layer.original)).ravel() for layer in layers])
    pruned = np.zeros(scores.size, bool)
    pruned[np.argsort(scores, kind="stable")[: count_to_prune(scores.size, 60)]] = True
    got = np.concatenate([~result.masks[n].numpy().ravel() for n in names])
    assert np.array_equal(got, pruned)
    units = pruner.prune(PruningConfig("unit", 50, "global", frozenset(names), criterion="lamp"))
    fair = np.concatenate(
        [np.linalg.norm(layer.original.astype(np.float64), axis=0) / np.sqrt(layer.fan_in) for layer in layers]
    )
    dead = np.zeros(fair.size, bool)
    dead[np.argsort(fair, kind="stable")[: count_to_prune(fair.size, 50)]] = True
    assert np.array_equal(np.concatenate([~units.plans[n].kept_units for n in names]), dead)


def test_taylor_scores_equal_a_gradient_tape_computation():
    import keras
    import tensorflow as tf

    from prune_viz.core.data import MnistData
    from prune_viz.core.session import OpenedModel

    keras.utils.set_random_seed(2)
    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            keras.layers.Flatten(),
            keras.layers.Dense(8, activation="relu", name="h"),
            keras.layers.Dense(10, name="out"),
        ]
    )
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, 40).astype(np.uint8)
    data = MnistData(x, y, x[:20], y[:20], "random test images")
    pruner, layers = _pruner(model)

    opened = OpenedModel(_loaded(model), layers, pruner, total_parameters=model.count_params(), other_zeros=0)
    taylor = taylor_scores(opened, data, preprocessing="scale", images=30, batch_size=7)
    assert taylor.images == 30 and "30 training images of random test images" in taylor.description
    inputs = tf.constant(x[:30].astype(np.float32) / 255.0)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(
            keras.losses.sparse_categorical_crossentropy(y[:30].astype(np.int64), model(inputs), from_logits=True)
        )
    kernels = [model.get_layer("h").kernel, model.get_layer("out").kernel]
    for kernel, gradient, name in zip(kernels, tape.gradient(loss, kernels), ("h", "out")):
        expected = np.abs(kernel.numpy() * gradient.numpy())
        assert np.allclose(taylor.scores[name], expected, rtol=1e-4, atol=1e-7)

    with pytest.raises(PruningError, match="training images"):
        pruner.prune(PruningConfig("weight", 50, criterion="taylor", included=frozenset({"h"})))
    pruner.set_taylor_scores(taylor)
    result = pruner.prune(PruningConfig("unit", 50, criterion="taylor", included=frozenset({"h"})))
    per_unit = taylor.scores["h"].astype(np.float64).sum(axis=0)
    dead = np.zeros(8, bool)
    dead[np.argsort(per_unit, kind="stable")[:4]] = True
    assert np.array_equal(~result.plans["h"].kept_units, dead)


def test_weight_scores_prune_the_kernel_and_count_zeros_exactly():
    model = _dense_model()
    hidden = model.get_layer("hidden")
    kernel = hidden.kernel.numpy()
    kernel[:3, 0] = 0.0  # zeros that random scores put anywhere in the order
    hidden.kernel.assign(kernel)
    pruner, _ = _pruner(model)
    scores = TaylorScores({"hidden": np.abs(kernel) + 1.0, "out": np.ones((10, 4), np.float32)}, 1, "made up")
    pruner.set_taylor_scores(scores)
    for criterion in ("random", "taylor", "lamp"):
        config = PruningConfig("weight", 40, included=frozenset({"hidden"}), criterion=criterion, seed=3)
        result = pruner.prune(config)
        pruner.apply(result)
        written = hidden.kernel.numpy()
        pruner.restore()
        mask = result.masks["hidden"].numpy()
        assert np.array_equal(written, np.where(mask, kernel, 0))
        assert result.layer("hidden").zeros == int(np.count_nonzero(written == 0))
        assert result.layer("hidden").pruned == count_to_prune(kernel.size, 40)


@pytest.mark.parametrize("mode", ["kernel", "remove"])
def test_a_conv_batch_norm_chain_compacts_and_computes_the_pruned_model(mode):
    from prune_viz.core.export import compact_model, masked_kernels

    model = _sequential_conv_bn_model()
    _randomise_vectors(model)
    pruner, _ = _pruner(model)
    result = pruner.prune(PruningConfig("unit", 50, included=frozenset({"conv"}), unit_mode=mode))
    x = np.random.default_rng(1).normal(size=(8, 8, 8, 2)).astype(np.float32)
    pruner.apply(result)
    try:
        expected = np.asarray(model(x, training=False))
        compaction = compact_model(model, masked_kernels(result))
    finally:
        pruner.restore()
    got = np.asarray(compaction.model(x, training=False))
    assert np.allclose(got, expected, atol=1e-5)
    assert compaction.model.get_layer("bn").gamma.shape == (3,)
    assert compaction.parameters_after < compaction.parameters_before


@pytest.mark.parametrize("method", ["weight", "unit"])
def test_layerwise_lamp_prunes_exactly_what_magnitude_prunes_as_its_note_says(trained_mlp_path, method):
    from prune_viz.core.criteria import LAMP_NOTE
    from prune_viz.core.session import open_model

    assert "LAMP with layerwise scope prunes exactly what magnitude prunes" in LAMP_NOTE
    assert "Unit LAMP here is the unit's L2 norm / √fan-in" in LAMP_NOTE
    pruner = open_model(trained_mlp_path).pruner
    names = frozenset({"hidden1", "hidden2", "output"})
    for k in (10, 50, 90):
        lamp = pruner.prune(PruningConfig(method, k, "layer", names, criterion="lamp"))
        magnitude = pruner.prune(PruningConfig(method, k, "layer", names))
        for name in names:
            assert np.array_equal(lamp.masks[name].numpy(), magnitude.masks[name].numpy())
    lamp = pruner.prune(PruningConfig(method, 50, "global", names, criterion="lamp"))
    magnitude = pruner.prune(PruningConfig(method, 50, "global", names))
    assert any(not np.array_equal(lamp.masks[n].numpy(), magnitude.masks[n].numpy()) for n in names)


def test_taylor_scores_scale_the_training_split_one_batch_at_a_time(monkeypatch):
    """Issue 27: the split is never converted whole; the scores are those of converting it whole
    (per-channel standardisation: the statistics still come from the whole split)."""
    import keras
    import tensorflow as tf

    from prune_viz.core.data import Dataset
    from prune_viz.core.evaluation import Evaluator
    from prune_viz.core.session import OpenedModel

    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((6, 6, 3)),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            keras.layers.Flatten(),
            keras.layers.Dense(3, name="out"),
        ]
    )
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (50, 6, 6, 3), dtype=np.uint8)
    y = rng.integers(0, 3, 50)
    data = Dataset(x, y, x[:12], y[:12], "colour noise", ("a", "b", "c"), "noise.npz")
    pruner, layers = _pruner(model)
    opened = OpenedModel(_loaded(model), layers, pruner, total_parameters=model.count_params(), other_zeros=0)
    fed = []
    feed = Evaluator.feed

    def counting_feed(self, raw):
        fed.append(len(raw))
        return feed(self, raw)

    monkeypatch.setattr(Evaluator, "feed", counting_feed)
    taylor = taylor_scores(opened, data, preprocessing="standard", images=45, batch_size=10)
    training_feeds = fed[-5:]
    assert training_feeds == [10, 10, 10, 10, 5] and max(fed) <= 12  # the test split (12) is the largest fed
    # what converting the 45 images at once and slicing gave before
    mean = x.astype(np.float64).mean(axis=(0, 1, 2)).astype(np.float32)
    std = x.astype(np.float64).std(axis=(0, 1, 2)).astype(np.float32)
    whole = (x[:45].astype(np.float32) - mean) / std
    kernels = [model.get_layer("conv").kernel, model.get_layer("out").kernel]
    totals = [np.zeros(k.shape, np.float64) for k in kernels]
    for start in range(0, 45, 10):
        with tf.GradientTape() as tape:
            out = model(tf.constant(whole[start : start + 10]))
            loss = tf.reduce_sum(
                keras.losses.sparse_categorical_crossentropy(y[start : min(start + 10, 45)], out, from_logits=True)
            )
        for total, gradient in zip(totals, tape.gradient(loss, kernels)):
            total += np.asarray(gradient, np.float64)
    for kernel, total, name in zip(kernels, totals, ("conv", "out")):
        expected = np.abs(kernel.numpy().astype(np.float64) * total)
        layer = next(layer for layer in layers if layer.name == name)
        assert np.allclose(taylor.scores[name], layer.as_matrix(expected).astype(np.float32), rtol=1e-5, atol=1e-9)
