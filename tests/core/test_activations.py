"""Each layer's activations for one input, unpruned and pruned (core/activations.py), checked against the
Keras model run directly: on a Conv+BatchNorm CNN and MNIST, with units pruned and removed."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from nested_models import nested_model

from prune_viz.core.activations import (
    ActivationsUnavailable,
    Sample,
    _probe,
    activations_problem,
    compute_activations,
    dead_units,
    unit_rows,
)
from prune_viz.core.errors import UserError
from prune_viz.core.inputs import preprocess
from prune_viz.core.session import Session, open_model

REMOVE_CONV1 = dict(method="unit", scope="global", unit_mode="remove", k=50.0)  # every conv1 filter goes


@pytest.fixture(scope="module")
def small_mnist(mnist, tmp_path_factory):
    """The first 200 MNIST test images as an .npz: an evaluator over them is quick to build."""
    path = tmp_path_factory.mktemp("small") / "mnist200.npz"
    np.savez(path, x_test=mnist.x_test[:200], y_test=mnist.y_test[:200])
    return path


@pytest.fixture(scope="module")
def conv_session(conv_bn_cnn_path, small_mnist):
    session = Session(data_path=str(small_mnist), preprocessing="scale")
    session.set_model(open_model(conv_bn_cnn_path))
    return session


def direct(model, layer_name: str, x: np.ndarray) -> np.ndarray:
    """A layer's output for ``x``, from a keras.Model of its own."""
    import keras

    return np.asarray(keras.Model(model.inputs, model.get_layer(layer_name).output)([x], training=False))


def test_rows_are_each_prunable_layer_with_its_batch_norm_and_relu(conv_session):
    model = conv_session.model.loaded.keras_model
    rows = unit_rows(model)
    assert [[layer.name for layer in chain] for chain in rows][2] == ["output"]
    assert [chain[1].name for chain in rows[:2]] == ["bn1", "bn2"]
    assert [type(chain[2]).__name__ for chain in rows[:2]] == ["ReLU", "ReLU"]


def test_unpruned_activations_are_the_models_own(conv_session, mnist):
    activations = compute_activations(conv_session, Sample(index=7), conv_session.config.with_k(0.0))
    model = conv_session.model.loaded.keras_model
    x = preprocess(mnist.x_test[7:8], "scale").reshape(1, 28, 28, 1)
    conv1, conv2, output = activations.layers
    assert (conv1.kind, conv2.kind, output.kind) == ("maps", "maps", "bars")
    assert conv1.label == f"conv1 -> bn1 -> {unit_rows(model)[0][2].name}"
    np.testing.assert_allclose(conv1.unpruned, direct(model, unit_rows(model)[0][2].name, x)[0], atol=1e-5)
    np.testing.assert_allclose(output.unpruned, model([x], training=False).numpy()[0], atol=1e-6)
    np.testing.assert_array_equal(conv1.unpruned, conv1.pruned)  # k = 0
    assert not conv1.pruned_units.any() and not conv1.dead_units.any()
    assert activations.prediction[0] == int(np.argmax(output.unpruned))
    np.testing.assert_array_equal(activations.raw, mnist.x_test[7])


def test_removed_units_output_nothing_and_are_marked(conv_session):
    opened = conv_session.model
    before = [np.array(w.numpy()) for w in opened.loaded.keras_model.weights]
    config = conv_session.config.with_k(0.0)
    from dataclasses import replace

    config = replace(config, **REMOVE_CONV1)
    activations = compute_activations(conv_session, Sample(index=3), config)
    conv1 = activations.layers[0]
    assert conv1.pruned_units.all()  # the plan prunes every conv1 filter (the fixture's purpose)
    assert not conv1.pruned.any()  # kernel, bias and BN channel gone: the units output exactly 0
    np.testing.assert_array_equal(conv1.dead_units, conv1.unpruned.reshape(-1, 8).any(axis=0))
    assert conv1.dead_units.any()
    # the pruned kernels were written only for the run: the model has its original weights back
    for was, now in zip(before, opened.loaded.keras_model.weights, strict=True):
        np.testing.assert_array_equal(was, now.numpy())


def test_a_raw_image_gives_what_its_test_item_gives(conv_session, mnist):
    config = conv_session.config.with_k(40.0)
    by_index = compute_activations(conv_session, Sample(index=11), config)
    by_image = compute_activations(conv_session, Sample(image=mnist.x_test[11], label=int(mnist.y_test[11])), config)
    for a, b in zip(by_index.layers, by_image.layers, strict=True):
        np.testing.assert_array_equal(a.pruned, b.pruned)
    assert by_index.layers[0].pruned.tolist() != by_index.layers[0].unpruned.tolist()  # k = 40 changes them


def test_an_item_past_the_end_is_one_sentence(conv_session):
    with pytest.raises(UserError, match=r"items 0 to 199, not 200"):
        compute_activations(conv_session, Sample(index=200), conv_session.config)


def test_dense_models_have_rows_and_weights_only_models_say_why(trained_mlp_path, weights_only_models):
    dense = open_model(trained_mlp_path)
    assert activations_problem(dense) is None
    assert [[layer.name for layer in chain] for chain in unit_rows(dense.loaded.keras_model)] == [
        ["hidden1"],
        ["hidden2"],
        ["output"],
    ]
    weights_only = open_model(weights_only_models.path("custom.h5"))
    assert "weights only" in activations_problem(weights_only)
    session = Session()
    session.set_model(weights_only)
    with pytest.raises(ActivationsUnavailable, match="weights only"):
        compute_activations(session, Sample(index=0), session.config)


def test_attention_heads_are_its_scores():
    import keras

    keras.utils.set_random_seed(0)
    x = keras.Input((5, 8))
    attended = keras.layers.MultiHeadAttention(3, 4, name="attention")(x, x)
    pooled = keras.layers.GlobalAveragePooling1D()(attended)
    model = keras.Model(x, keras.layers.Dense(2, name="head")(pooled))
    probe = _probe(model)
    outputs, scores = probe.run(np.random.default_rng(0).random((1, 5, 8), dtype=np.float32))
    assert [row.path for row in probe.rows] == ["attention", "head"]
    assert outputs[0].shape == (1, 5, 8) and scores["attention"].shape == (1, 3, 5, 5)
    np.testing.assert_allclose(scores["attention"].sum(axis=-1), 1.0, atol=1e-5)  # each query's weights


def test_dead_units_are_silent_now_and_were_not_before():
    unpruned = np.array([[0.0, 1.0, 2.0, 0.0], [0.0, 0.5, 0.0, 0.0]])
    pruned = np.array([[0.0, 0.0, 2.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    assert dead_units(unpruned, pruned).tolist() == [False, True, False, False]
    assert dead_units(np.array([1.0, 0.0, 2.0]), np.array([0.0, 0.0, 2.0])).tolist() == [True, False, False]


@pytest.fixture(scope="module")
def nested_path(tmp_path_factory):
    """A Functional model calling a Functional backbone and a Sequential block (Conv, BatchNorm, ReLU) as layers."""
    model = nested_model(seed=3)
    path = tmp_path_factory.mktemp("nested") / "nested.keras"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def nested_session(nested_path, small_mnist):
    session = Session(data_path=str(small_mnist), preprocessing="scale")
    session.set_model(open_model(nested_path))
    return session


@pytest.mark.keras_floor  # where a nested Functional model is called is read through Keras's Operation.input
def test_layers_of_nested_models_are_rows_of_their_own(nested_session, mnist):
    import keras

    model = nested_session.model.loaded.keras_model
    assert unit_rows(model) == [[model.get_layer("out")]]  # the model's own layers
    assert activations_problem(nested_session.model) is None
    config = replace(nested_session.config, method="unit", scope="layer", k=50.0)
    activations = compute_activations(nested_session, Sample(index=4), config)
    names = [row.name for row in activations.layers]
    assert names == ["bb/bconv", "block/iconv", "out"] and activations.notes == []
    assert activations.layers[1].label == "block/iconv -> ibn -> irelu"
    x = preprocess(mnist.x_test[4:5], "scale").reshape(1, 28, 28, 1)
    backbone, block = model.get_layer("bb"), model.get_layer("block")
    features = backbone(x)
    np.testing.assert_allclose(activations.layers[0].unpruned, np.asarray(features)[0], atol=1e-5)
    np.testing.assert_allclose(
        activations.layers[1].unpruned, np.asarray(block(features, training=False))[0], atol=1e-5
    )
    inner = keras.Model(block.inputs, block.get_layer("iconv").output)
    assert not np.allclose(activations.layers[1].unpruned, np.asarray(inner(features))[0])  # BN and ReLU applied
    # unit pruning at 50% layerwise prunes half of each nested conv's filters: found by their paths, silent pruned
    for row, units in zip(activations.layers[:2], (4, 6), strict=True):
        assert row.pruned_units.sum() == units // 2
        assert row.unpruned[..., row.pruned_units].any() and not row.pruned[..., row.pruned_units].any()


@pytest.mark.keras_floor
def test_a_nested_model_called_twice_shows_its_first_call_and_says_so():
    import keras

    L = keras.layers
    shared = keras.Sequential([keras.Input((4,)), L.Dense(3, name="inner")], name="shared")
    x = keras.Input((4,))
    model = keras.Model(x, L.Dense(2, name="out")(L.Concatenate()([shared(x), shared(L.Dense(4, name="pre")(x))])))
    probe = _probe(model)
    assert [row.path for row in probe.rows] == ["pre", "shared/inner", "out"]
    assert probe.notes == ["shared is called 2 times: its layers are shown for its first call."]
    x_value = np.random.default_rng(1).random((1, 4), dtype=np.float32)
    outputs, _scores = probe.run(x_value)
    np.testing.assert_allclose(outputs[1], np.asarray(shared(x_value)), atol=1e-6)  # the first call is on x


@pytest.mark.keras_floor
def test_a_nested_subclassed_model_is_said_in_one_sentence():
    import keras

    class Twice(keras.Model):  # no graph of its own: its layers' outputs cannot be asked for
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = keras.layers.Dense(3, name="inner")

        def call(self, x):
            return self.dense(x) * 2.0

    x = keras.Input((4,))
    model = keras.Model(x, keras.layers.Dense(2, name="out")(Twice(name="twice")(x)))
    probe = _probe(model)
    assert [row.path for row in probe.rows] == ["out"]
    assert probe.notes == ["twice is not built on keras.Input, so its layers' outputs cannot be read."]
