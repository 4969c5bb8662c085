"""Checkpoints whose model Keras cannot rebuild open from their weights: every stored weight, under
its layer's path, with the values saved; standard layers rebuilt alone so that their weights have
their real names; --custom-objects and --allow-lambda rebuild the whole model; evaluation says why
it is off."""

from __future__ import annotations

import numpy as np
import pytest

from prune_viz.core.io import CustomObjectsError, ModelLoadError, OpenOptions, load_model
from prune_viz.core.io.layer_inference import candidate_input_shapes, class_named_by, implied_config
from prune_viz.core.non_finite import PRUNING_RULE

pytestmark = pytest.mark.keras_floor
# the checkpoints are saved by processes of their own, once per run (about a minute here)
slow = pytest.mark.slow

CUSTOM_FILES = ["custom.keras", "custom.h5"]
KERAS2_FILES = ["k2-lambda.h5", "k2-lambda-h5.keras", "k2-lambda.keras"]
LAMBDA_FILES = ["lambda.keras", "lambda.h5"]


def _by_path(loaded) -> dict:
    return {layer.path: layer for layer in loaded.stored_layers}


def _values(variable) -> np.ndarray:
    return np.asarray(variable.variable.numpy())


@slow
@pytest.mark.parametrize("name", CUSTOM_FILES)
def test_custom_classes_open_from_their_weights(weights_only_models, name):
    loaded = load_model(weights_only_models.path(name))
    assert loaded.weights_only and loaded.keras_model is None
    assert loaded.format.endswith(", weights only")
    (note,) = loaded.notes
    assert "TransformerBlock" in note and "ScaledAttention" in note and "--custom-objects FILE.py" in note
    layers = _by_path(loaded)
    assert list(layers) == [
        "input_layer",
        "emb",
        "block",
        "block/multi_head_attention",
        "block/sequential/dense",
        "block/sequential/dense_1",
        "block/layer_normalization",
        "block/layer_normalization_1",
        "pool",
        "head",
    ]
    # standard layers, also those inside the custom block, are rebuilt alone with their real weight names
    attention = layers["block/multi_head_attention"]
    assert attention.class_name == "MultiHeadAttention" and attention.layer is not None
    assert attention.config["num_heads"] == 2 and attention.config["key_dim"] == 8
    assert [v.name for v in attention.variables] == [
        f"{part}/{kind}" for part in ("query", "key", "value", "attention_output") for kind in ("kernel", "bias")
    ]
    assert [v.name for v in layers["head"].variables] == ["kernel", "bias"]
    assert [v.name for v in layers["block/layer_normalization"].variables] == ["gamma", "beta"]
    assert layers["emb"].layer is not None and [v.name for v in layers["emb"].variables] == ["embeddings"]
    # the custom layers: no layer object, their own weights under their stored names
    pool, block = layers["pool"], layers["block"]
    assert pool.layer is None and pool.class_name == "ScaledAttention" and block.variables == []
    stored_names = ["vars/0", "vars/1", "vars/2"] if name.endswith(".keras") else ["wq", "wv", "scale"]
    assert [v.name for v in pool.variables] == stored_names
    # every weight as saved, each exactly once
    saved = weights_only_models.saved_weights(name)
    shown = {}
    for layer in loaded.stored_layers:
        for variable in layer.variables:
            key = variable.name if layer.layer is not None else ["wq", "wv", "scale"][layer.variables.index(variable)]
            shown[f"{layer.path}/{key}"] = _values(variable)
    assert sorted(shown) == sorted(saved)
    for key, values in saved.items():
        np.testing.assert_array_equal(shown[key], values, err_msg=key)
    assert sum(int(np.prod(v.shape)) for v in loaded.variables) == sum(v.size for v in saved.values())


@slow
@pytest.mark.parametrize("name", KERAS2_FILES)
def test_keras2_tfoplambda_opens_from_its_weights(weights_only_models, name):
    loaded = load_model(weights_only_models.path(name))
    assert loaded.weights_only and "TFOpLambda" in loaded.notes[0]
    layers = _by_path(loaded)
    assert list(layers) == ["input_1", "lstm", "bi", "fc", "tf.math.multiply", "tf.nn.relu", "bn", "out"]
    assert layers["tf.nn.relu"].class_name == "TFOpLambda" and layers["tf.nn.relu"].variables == []
    assert [v.name for v in layers["lstm"].variables] == [
        "lstm_cell/kernel",
        "lstm_cell/recurrent_kernel",
        "lstm_cell/bias",
    ]
    assert [v.name for v in layers["bi"].variables][::3] == [
        "forward_gru/gru_cell/kernel",
        "backward_gru/gru_cell/kernel",
    ]
    saved = weights_only_models.saved_weights(name)
    shown = {f"{layer.path}/{v.name}": _values(v) for layer in loaded.stored_layers for v in layer.variables}
    assert sorted(shown) == sorted(saved)  # the optimizer's state is not a weight of the model
    for key, values in saved.items():
        np.testing.assert_array_equal(shown[key], values, err_msg=key)


@slow
@pytest.mark.parametrize("name", LAMBDA_FILES)
def test_a_lambda_layer_opens_weights_only_unless_allowed(weights_only_models, name):
    path = weights_only_models.path(name)
    loaded = load_model(path)
    assert loaded.weights_only and "Lambda layer double" in loaded.notes[0] and "--allow-lambda" in loaded.notes[0]
    paths = [path for path in _by_path(loaded) if "input_layer" not in path]  # Input names are numbered
    assert paths == ["pre", "blk/inner", "blk/bn", "double", "head"]
    assert [v.name for v in _by_path(loaded)["blk/bn"].variables] == ["gamma", "beta", "moving_mean", "moving_variance"]
    whole = load_model(path, OpenOptions(allow_lambda=True))
    assert not whole.weights_only and whole.keras_model is not None


@slow
@pytest.mark.parametrize("name", CUSTOM_FILES)
def test_custom_objects_rebuild_the_whole_model(weights_only_models, keras_registry_kept, name):
    loaded = load_model(weights_only_models.path(name), OpenOptions(custom_objects=weights_only_models.custom_objects))
    assert not loaded.weights_only and loaded.notes == []
    saved = weights_only_models.saved_weights(name)  # in the order of the model's weights
    assert len(loaded.keras_model.weights) == len(saved)
    for weight, (path, values) in zip(loaded.keras_model.weights, saved.items()):
        np.testing.assert_array_equal(weight.numpy(), values, err_msg=path)


@slow
def test_a_subclassed_model_shows_what_its_weights_file_stores(weights_only_models):
    loaded = load_model(weights_only_models.path("subclassed.keras"))
    assert loaded.weights_only and "custom class Subclassed" in loaded.notes[0]
    layers = _by_path(loaded)
    attention = next(path for path in layers if path.startswith("multi_head_attention"))  # numbered as made
    assert sorted(layers) == ["first", attention]
    first = layers["first"]  # stored under a name that says nothing of its class: its weights as stored
    assert first.layer is None and first.class_name == "" and [v.shape for v in first.variables] == [(5, 8), (8,)]
    assert [v.name for v in first.variables] == ["vars/0", "vars/1"]
    assert layers[attention].layer is not None  # stored under the name Keras gave it: rebuilt


@slow
def test_non_finite_weights_are_noted_by_stored_layer(weights_only_models, tmp_path):
    import shutil

    import h5py

    path = tmp_path / "nan.h5"
    shutil.copyfile(weights_only_models.path("custom.h5"), path)
    with h5py.File(path, "r+") as h5:
        h5["model_weights/block/block/multi_head_attention/key/kernel"][0, 0, 0] = np.nan
        h5["model_weights/pool/pool/wq"][1, 1] = np.inf
    notes = load_model(path).notes
    assert notes[1:] == [  # named by the stored layers' paths and variables' names (core.non_finite)
        "The model holds 2 weights that are NaN or infinite "
        "(block/multi_head_attention/key/kernel: 1 NaN of 256 entries; pool/wq: 1 infinite of 192 entries).",
        PRUNING_RULE,
    ]


@slow
def test_custom_objects_file_errors_are_one_sentence(weights_only_models, tmp_path, keras_registry_kept):
    path = weights_only_models.path("custom.keras")
    broken = tmp_path / "broken.py"
    broken.write_text("import keras\nraise RuntimeError('no GPU here')\n")
    not_python = tmp_path / "layers.txt"
    not_python.write_text("x = 1\n")
    for custom, words in (
        (tmp_path / "missing.py", "does not exist"),
        (not_python, "not a Python file"),
        (broken, "Importing the custom objects file broken.py failed (RuntimeError: no GPU here)"),
    ):
        with pytest.raises(CustomObjectsError) as caught:
            load_model(path, OpenOptions(custom_objects=custom))
        assert words in str(caught.value) and "\n" not in str(caught.value)


@slow
def test_weights_only_cannot_be_evaluated_and_says_why(weights_only_models):
    from prune_viz.core.inputs import EvaluationUnavailable
    from prune_viz.core.session import open_model

    opened = open_model(weights_only_models.path("custom.keras"))
    why = opened.evaluation_problem
    assert why.startswith("custom.keras was opened from its weights only because its custom classes")
    assert "cannot be run or evaluated" in why and "--custom-objects" in why
    with pytest.raises(EvaluationUnavailable, match="weights only"):
        opened.loaded(np.zeros((1, 8), np.int32))
    assert opened.total_parameters == sum(int(np.prod(v.shape)) for v in opened.loaded.variables) > 0


def test_a_model_that_rebuilds_does_not_open_weights_only(trained_mlp_path):
    assert not load_model(trained_mlp_path).weights_only


@slow
def test_weights_that_do_not_fit_still_fail(weights_only_models, tmp_path):
    """A config Keras can rebuild whose weights do not fit it is an error, not a weights-only model."""
    import shutil

    import h5py

    path = tmp_path / "misfit.h5"
    shutil.copyfile(weights_only_models.path("lambda.h5"), path)
    with h5py.File(path, "r+") as h5:
        del h5["model_weights/head/head/kernel"]
        h5["model_weights/head/head"].create_dataset("kernel", data=np.zeros((3, 10), np.float32))
    with pytest.raises(ModelLoadError):
        load_model(path, OpenOptions(allow_lambda=True))


# -- what stored shapes say ---------------------------------------------------------------------------


def test_stored_names_and_shapes_say_what_a_layer_is():
    assert class_named_by("multi_head_attention_1") == "MultiHeadAttention"
    assert class_named_by("dense") == "Dense" and class_named_by("att") is None and class_named_by(None) is None
    config, args = implied_config(
        "MultiHeadAttention", [(16, 4, 8), (4, 8), (12, 4, 8), (4, 8)] + [(16, 4, 6), (4, 6), (4, 6, 10), (10,)]
    )
    assert config == {"num_heads": 4, "key_dim": 8, "value_dim": 6, "use_bias": True, "output_shape": 10}
    assert args == ((None, None, 16), (None, None, 16), (None, None, 12))
    assert implied_config("GRU", [(8, 12), (4, 12), (2, 12)])[0] == {"units": 4, "use_bias": True, "reset_after": True}
    assert implied_config("Dense", [(3, 4), (5,)]) is None  # a bias of the wrong size: not a Dense
    shapes = list(candidate_input_shapes([(3, 3, 8, 16), (16,)]))
    assert shapes[0] == (None, None, None, 8) and len(shapes) == len(set(shapes))
