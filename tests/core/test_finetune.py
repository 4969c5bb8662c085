"""Fine-tuning with fixed masks: pruned weights stay exactly zero, the rest learn, the input is untouched."""

from __future__ import annotations

import numpy as np
import pytest

from prune_viz.core.finetune import finetune
from prune_viz.core.pruning import PruningConfig
from prune_viz.core.session import open_model


@pytest.fixture(scope="module")
def opened(trained_mlp_path):
    return open_model(trained_mlp_path)


def _kernels(model):
    return {layer.name: np.asarray(layer.kernel.numpy()) for layer in model.layers if hasattr(layer, "kernel")}


@pytest.mark.parametrize("method,k", [("weight", 90), ("unit", 50)])
def test_pruned_weights_stay_exactly_zero_and_accuracy_recovers(opened, mnist, method, k):
    originals = [w.copy() for w in opened.loaded.keras_model.get_weights()]
    config = PruningConfig(method, k, "layer", opened.default_included)
    masks = {name: np.asarray(m.numpy()) for name, m in opened.pruner.prune(config).masks.items()}
    # a high rate so Adam's moments are large; they still must not bring a pruned weight back
    result = finetune(opened, config, mnist, epochs=2, learning_rate=3e-3, seed=1, preprocessing="scale")
    kernels = _kernels(result.model)
    for name, mask in masks.items():
        assert np.all(kernels[name][~mask] == 0.0), name
        originals_kept = opened.pruner.original(name).numpy()[mask]
        assert np.mean(kernels[name][mask] != originals_kept) > 0.5  # the survivors did train
    assert result.pruned_weights == sum(int((~m).sum()) for m in masks.values())
    assert result.accuracy_after > result.accuracy_before
    assert result.unpruned_accuracy > result.accuracy_before
    # the opened model is still the unpruned original
    for got, want in zip(opened.loaded.keras_model.get_weights(), originals):
        assert got.tobytes() == want.tobytes()
    tune = result.metadata["fine_tune"]
    assert tune["trained_on"] == "MNIST 5,000-image training subset" and tune["masks_fixed"] is True
    assert result.metadata["pruning"]["method"] == method and result.metadata["pruning"]["k"] == k
    assert result.metadata["test_accuracy"] == pytest.approx(result.accuracy_after, abs=1e-6)
    assert "fine-tuned on MNIST 5,000-image training subset" in result.metadata["trained_on"]
    # the output layer, left out by default, is trained but not masked
    assert "output" not in config.included
    output = kernels["output"]
    assert np.count_nonzero(output) == output.size  # not pruned
    assert not np.array_equal(output, opened.pruner.original("output").numpy())


@pytest.mark.keras_floor
def test_a_nested_models_layers_are_masked_by_their_qualified_names(tmp_path, mnist):
    import keras

    from prune_viz.core.io import save_keras_with_metadata

    keras.utils.set_random_seed(3)
    block = keras.Sequential(
        [keras.Input((32,)), keras.layers.Dense(16, activation="relu", name="inner")], name="block"
    )
    inputs = keras.Input((784,))
    x = keras.layers.Dense(32, activation="relu", name="hidden")(inputs)
    outputs = keras.layers.Dense(10, activation="softmax", name="output")(block(x))
    path = tmp_path / "nested.keras"
    save_keras_with_metadata(keras.Model(inputs, outputs), path, {"trained_on": "nothing (test fixture)"})
    opened = open_model(path)
    config = PruningConfig("weight", 80, "layer", opened.default_included)
    masks = {name: np.asarray(m.numpy()) for name, m in opened.pruner.prune(config).masks.items()}
    assert "block/inner" in masks

    result = finetune(opened, config, mnist, epochs=1, learning_rate=3e-3, seed=1, preprocessing="scale")
    inner = np.asarray(result.model.get_layer("block").get_layer("inner").kernel.numpy())
    assert np.all(inner[~masks["block/inner"]] == 0.0)
    assert np.count_nonzero(inner) == int(masks["block/inner"].sum())  # no surviving weight is zero


@pytest.mark.keras_floor
def test_removed_units_keep_a_zero_bias_through_fine_tuning(opened, mnist):
    config = PruningConfig("unit", 50, "layer", opened.default_included, unit_mode="remove")
    result = opened.pruner.prune(config)
    removed = {name: result.removed_units(name) for name in config.included}
    tuned = finetune(opened, config, mnist, epochs=1, learning_rate=3e-3, seed=1, preprocessing="scale")
    for name, units in removed.items():
        bias = np.asarray(tuned.model.get_layer(name).bias.numpy())
        assert units.any() and np.all(bias[units] == 0.0), name
        assert np.mean(bias[~units] != 0.0) > 0.5  # the kept units' biases did train
    assert tuned.metadata["pruning"]["unit_mode"] == "remove"
    assert (
        tuned.model.get_layer("hidden1").kernel.constraint is None
        and tuned.model.get_layer("hidden1").bias.constraint is None
    )


def test_the_training_split_is_scaled_batch_by_batch_with_the_same_result(own_data, monkeypatch):
    """Issue 27: fine-tuning never converts the whole training split; Keras shuffles and batches the raw
    images as it did the converted ones, so the weights trained are the same, bit for bit."""
    import keras

    from prune_viz.core.data import load_data
    from prune_viz.core.evaluation import Evaluator
    from prune_viz.core.training import fit_keeping_best

    colours = open_model(own_data / "colours.keras")
    data = load_data(own_data / "colours.npz", fit=colours.data_fit)
    evaluator = Evaluator(colours.loaded, data, "standard")  # statistics of the whole split, batches or not
    fed = []

    def counting_feed(raw):
        fed.append(len(raw))
        return evaluator.feed(raw)

    results = {}
    for way, x, feed in (
        ("converted whole", evaluator.feed(data.x_train), None),
        ("batch by batch", data.x_train, counting_feed),
    ):
        keras.utils.set_random_seed(4)
        clone = keras.models.clone_model(colours.loaded.keras_model)
        clone.set_weights(colours.loaded.keras_model.get_weights())
        fit = fit_keeping_best(
            clone,
            x,
            data.y_train,
            epochs=2,
            batch_size=32,
            seed=4,
            validation_fraction=0.1,
            learning_rate=3e-3,
            feed=feed,
        )
        results[way] = (fit.history, clone.get_weights())
    assert fed and max(fed) <= 32 and len(data.x_train) == 300
    assert results["batch by batch"][0] == results["converted whole"][0]
    for new, old in zip(results["batch by batch"][1], results["converted whole"][1], strict=True):
        assert new.tobytes() == old.tobytes()
    # and fine-tuning itself: no call converts the training split (300) or its training part (270) whole
    feed = Evaluator.feed
    calls = []
    monkeypatch.setattr(Evaluator, "feed", lambda self, raw: calls.append(len(raw)) or feed(self, raw))
    config = PruningConfig("weight", 50, "layer", colours.default_included)
    tuned = finetune(colours, config, data, epochs=1, seed=2, preprocessing="scale", batch_size=32)
    assert 32 in calls and not {300, 270} & set(calls)  # the test split (90) is fed whole to evaluate
    assert np.isfinite(tuned.accuracy_after) and max(calls) == len(data.x_test) == 90
