"""Every checkpoint format a user may bring opens with the right layers, prunes, restores and evaluates.

The models are tiny and built here; Keras 2 files are written by tf_keras in a subprocess.
"""

from __future__ import annotations

import numpy as np
import pytest

import model_factory as factory

pytestmark = pytest.mark.keras_floor

KERAS3_CASES = [
    "keras3-mlp.keras",
    "keras3-mlp export()",
    "keras3-mlp.h5",
    "keras3 HDF5 named .keras",
    "keras3 archive named .h5",
    "keras3 backslash .keras",
    "keras3-functional.keras",
    "keras3-functional export()",
    "keras3-functional.h5",
    "keras3-fixed.keras",
    "keras3-fixed export()",
]
KERAS2_CASES = [
    "keras2-mlp.h5",
    "keras2-mlp.keras",
    "keras2-mlp-savedmodel",
    "keras2-mlp-tf-saved-model",
    "keras2-functional.h5",
    "keras2-functional.keras",
    "keras2-functional-savedmodel",
    "keras2-cnn.h5",
    "keras2-cnn.keras",
    "keras2-cnn-savedmodel",
    "keras2-fixed.h5",
    "keras2 backslash .keras",
]


@pytest.fixture(scope="module")
def keras3_cases(tmp_path_factory) -> dict:
    cases = factory.write_keras3_cases(tmp_path_factory.mktemp("keras3 files"))
    assert [case.name for case in cases] == KERAS3_CASES
    return {case.name: case for case in cases}


@pytest.fixture(scope="module")
def keras2_cases(tmp_path_factory) -> dict:
    if not factory.tf_keras_available():
        pytest.skip("tf_keras is not installed (pip install tf-keras), so no Keras 2 files can be written")
    cases = factory.write_keras2_cases(tmp_path_factory.mktemp("keras2 files"))
    assert sorted(case.name for case in cases) == sorted(KERAS2_CASES)
    return {case.name: case for case in cases}


def _sample(loaded, mnist):
    from prune_viz.core.inputs import arrange, layout_for, preprocess

    layout = layout_for(loaded.input_shape)
    n = layout.fixed_batch or 64
    return arrange(preprocess(mnist.x_test[:n], "scale"), layout)


def _check_case(case: factory.SavedCase, mnist) -> None:
    from prune_viz.core.evaluation import Evaluator
    from prune_viz.core.io import load_model
    from prune_viz.core.layers import find_prunable_layers
    from prune_viz.core.pruning import Pruner, PruningConfig

    before = factory.tree_hash(case.path)
    loaded = load_model(case.path)
    assert case.format_words in loaded.format

    # the layer list, in model order, output layer last, kernels bit for bit as saved
    layers = find_prunable_layers(loaded)
    assert [layer.name for layer in layers] == case.layer_names
    assert [layer.shape for layer in layers] == [kernel.shape for kernel in case.kernels.values()]
    assert [layer.is_output for layer in layers] == [False] * (len(layers) - 1) + [True]
    for layer in layers:
        np.testing.assert_array_equal(layer.variable.numpy(), case.kernels[layer.name])
        np.testing.assert_array_equal(layer.original, case.kernels[layer.name])

    from prune_viz.core.io.saved_model import RANDOM_OUTPUTS_NOTE

    assert (RANDOM_OUTPUTS_NOTE in loaded.notes) == case.random_outputs
    if case.random_outputs:
        _check_random_case(loaded, layers, case, mnist)
        assert factory.tree_hash(case.path) == before
        return

    # the model computes what it computed before it was saved (configs converted faithfully)
    x_ref, y_ref = case.reference
    np.testing.assert_allclose(np.asarray(loaded(x_ref)), y_ref, rtol=1e-5, atol=1e-6)

    # pruning reaches the variables the forward pass reads; restoring is exact
    x = _sample(loaded, mnist)
    unpruned = np.asarray(loaded(x))
    pruner = Pruner(layers)
    result = pruner.prune(PruningConfig("weight", 50.0, "layer", {layer.name for layer in layers}))
    pruner.apply(result)
    for layer in layers:
        assert np.count_nonzero(layer.variable.numpy() == 0) >= layer.size // 2
    pruned = np.asarray(loaded(x))
    assert not np.allclose(pruned, unpruned), "pruning half the weights did not change the output"
    pruner.restore()
    for layer in layers:
        np.testing.assert_array_equal(layer.variable.numpy(), case.kernels[layer.name])
    np.testing.assert_array_equal(np.asarray(loaded(x)), unpruned)

    # evaluation counts exactly what argmax over the model's own outputs gives
    evaluator = Evaluator(loaded, mnist, "scale")
    evaluation = evaluator.run()
    from prune_viz.core.inputs import arrange, preprocess

    inputs = arrange(preprocess(mnist.x_test, "scale"), evaluator.layout)
    b = evaluator.batch_size
    scores = np.concatenate([np.asarray(loaded(inputs[i : i + b])) for i in range(0, len(inputs), b)])
    hand_correct = int(np.sum(np.argmax(scores.reshape(len(scores), -1), axis=1) == mnist.y_test))
    assert evaluation.total == len(mnist.y_test) == 10_000
    assert evaluation.correct == hand_correct
    assert evaluation.accuracy == hand_correct / 10_000

    assert factory.tree_hash(case.path) == before, "opening, pruning or evaluating wrote to the user's file"


def _check_random_case(loaded, layers, case, mnist) -> None:
    """Outputs differ call to call, so compare what is deterministic: the variables and the totals."""
    from prune_viz.core.evaluation import Evaluator
    from prune_viz.core.pruning import Pruner, PruningConfig

    assert "vary from run to run" in " ".join(loaded.notes)
    pruner = Pruner(layers)
    pruner.apply(pruner.prune(PruningConfig("unit", 100.0, "layer", {layer.name for layer in layers})))
    x = _sample(loaded, mnist)
    assert np.all(np.asarray(loaded(x)) == np.asarray(loaded(x))), "with every unit pruned the output is constant"
    pruner.restore()
    for layer in layers:
        np.testing.assert_array_equal(layer.variable.numpy(), case.kernels[layer.name])
    evaluation = Evaluator(loaded, mnist, "scale").run()
    assert evaluation.total == 10_000 and 0 <= evaluation.correct <= 10_000


@pytest.mark.parametrize("name", KERAS3_CASES)
def test_keras3_files_load_prune_restore_and_evaluate(name, keras3_cases, mnist):
    _check_case(keras3_cases[name], mnist)


@pytest.mark.slow
@pytest.mark.parametrize("name", KERAS2_CASES)
def test_keras2_files_load_prune_restore_and_evaluate(name, keras2_cases, mnist):
    _check_case(keras2_cases[name], mnist)


def test_fixed_batch_size_is_kept_and_evaluation_uses_it(keras3_cases, mnist):
    from prune_viz.core.evaluation import Evaluator
    from prune_viz.core.io import load_model

    loaded = load_model(keras3_cases["keras3-fixed.keras"].path)
    assert loaded.input_shape == (50, 28, 28)
    assert Evaluator(loaded, mnist, "scale").batch_size == 50


def test_augmentation_layers_are_inactive_when_evaluating(keras3_cases, mnist):
    """RandomFlip inside the model must not flip test images: two passes give identical outputs."""
    from prune_viz.core.io import load_model

    loaded = load_model(keras3_cases["keras3-functional.keras"].path)
    names = [layer.name for layer in loaded.keras_model.layers]
    assert "flip" in names and "resize" in names
    x = _sample(loaded, mnist)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(loaded(x)))


def test_metadata_travels_in_the_keras_archive(keras3_cases):
    from prune_viz.core.io import load_model

    assert load_model(keras3_cases["keras3-mlp.keras"].path).metadata == {"trained_on": "nothing (test fixture)"}


def test_savedmodel_kernel_names_follow_the_keras_layers(keras3_cases):
    """A bare SavedModel shows the same layer names as the .keras file it was exported from."""
    from prune_viz.core.io import load_model
    from prune_viz.core.layers import find_prunable_layers

    exported = find_prunable_layers(load_model(keras3_cases["keras3-functional export()"].path))
    archive = find_prunable_layers(load_model(keras3_cases["keras3-functional.keras"].path))
    assert [layer.name for layer in exported] == [layer.name for layer in archive]
    assert (
        [layer.kind for layer in exported] == [layer.kind for layer in archive] == ["Conv2D", "Dense", "Dense", "Dense"]
    )


def test_open_model_in_a_session_counts_parameters_of_a_bare_savedmodel(keras3_cases):
    """The session path (parameter count, zeros outside kernels) works without a Keras model."""
    from prune_viz.core.session import Session, open_model

    opened = open_model(keras3_cases["keras3-mlp export()"].path)
    assert opened.loaded.keras_model is None
    assert opened.total_parameters == 784 * 16 + 16 + 16 * 10 + 10
    assert opened.other_zeros == 16 + 10  # the freshly initialised biases are zero
    session = Session()
    session.set_model(opened)
    result = session.configure(k=50.0, included={"h1", "out"})
    assert result.prunable_zeros == count_half(784 * 16) + count_half(160)


def count_half(n: int) -> int:
    from prune_viz.core.pruning import count_to_prune

    return count_to_prune(n, 50.0)


def test_savedmodel_without_signature_shows_and_prunes_weights_but_cannot_evaluate(tmp_path, mnist, capsys):
    from prune_viz import cli
    from prune_viz.core.evaluation import Evaluator
    from prune_viz.core.inputs import EvaluationUnavailable
    from prune_viz.core.io import load_model
    from prune_viz.core.layers import find_prunable_layers
    from prune_viz.core.pruning import Pruner, PruningConfig

    path, kernels = factory.write_signatureless_savedmodel(tmp_path)
    before = factory.tree_hash(path)
    loaded = load_model(path)
    layers = find_prunable_layers(loaded)
    assert [(layer.name, layer.shape) for layer in layers] == [("h1", (784, 8)), ("out", (8, 10))]
    pruner = Pruner(layers)
    pruner.apply(pruner.prune(PruningConfig("unit", 50.0, "layer", {"h1"})))
    assert np.count_nonzero(np.all(layers[0].variable.numpy() == 0, axis=0)) == 4
    pruner.restore()
    np.testing.assert_array_equal(layers[0].variable.numpy(), kernels["h1"])
    with pytest.raises(EvaluationUnavailable, match="input shape is unknown"):
        Evaluator(loaded, mnist, "scale")
    assert cli.main(["inspect", str(path)]) == 0
    assert "h1" in capsys.readouterr().out
    assert cli.main(["evaluate", str(path), "--data", str(factory.Path(mnist.source))]) == 2
    assert capsys.readouterr().err.strip() == (
        "prune-viz: error: The model's input shape is unknown, so MNIST cannot be fed to it. "
        "Pruning and inspecting its weights still work."
    )
    assert factory.tree_hash(path) == before


@pytest.mark.slow
def test_opening_an_old_keras2_file_prints_nothing_on_stderr(keras2_cases):
    """Keras warns about Keras 2 arguments (input_shape on a layer...); the CLI user sees none of it."""
    import os
    import subprocess
    import sys

    path = keras2_cases["keras2-cnn.keras"].path
    proc = subprocess.run(
        [sys.executable, "-m", "prune_viz", "inspect", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=factory.Path(__file__).resolve().parents[2],
        env=dict(os.environ, PYTHONWARNINGS="default"),
    )
    assert proc.returncode == 0, proc.stderr
    assert "Keras 2 archive (.keras), Keras 2 config converted" in proc.stdout
    assert proc.stderr == ""


def _batchnorm_dropout_model(keras):
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(6, 5, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Dropout(0.3, seed=1, name="drop")(x)  # a SeedGenerator: a variable of its own
    x = keras.layers.Dense(40, activation="relu", name="fc")(x)
    return keras.Model(inputs, keras.layers.Dense(10, name="head")(x), name="bn_drop")


def _trained(keras, model):
    """Compiled and fitted for one step, so that the archive also holds optimizer variables."""
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = factory.reference_input(model.inputs[0].shape)
    model.fit(x, np.arange(len(x)) % 10, epochs=1, verbose=0)
    return model


def _nested_batchnorm_model(keras):
    """Two levels of nesting, and a layer name used at both."""
    inner = keras.Sequential(
        [keras.Input((12,)), keras.layers.Dense(8, name="fc"), keras.layers.BatchNormalization(name="bn")], name="inner"
    )
    middle = keras.Sequential([keras.Input((12,)), inner, keras.layers.Dense(6, name="mid")], name="middle")
    inputs = keras.Input((12,))
    return keras.Model(inputs, keras.layers.Dense(10, name="fc")(middle(inputs)), name="outer")


def _wrapped_layers_model(keras):
    """Weights a layer keeps in layers of its own (saved under attribute names, not layers/)."""
    inputs = keras.Input((5, 3))
    x = keras.layers.Bidirectional(keras.layers.LSTM(4, name="lstm"), name="bi")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, name="head")(x), name="wrapped")


SAME_AS_KERAS = {
    "mlp": factory.keras3_mlp,
    "functional": factory.keras3_functional,
    "bn_drop": _batchnorm_dropout_model,
    "trained_mlp": lambda keras: _trained(keras, factory.keras3_mlp(keras)),
    "nested_bn": lambda keras: _trained(keras, _nested_batchnorm_model(keras)),
    "wrapped": _wrapped_layers_model,
}


@pytest.mark.parametrize("name", SAME_AS_KERAS)
def test_a_keras3_archive_gives_the_model_keras_gives(name, tmp_path):
    """Built from its config with Zeros and filled by load_weights: the same weights, outputs and
    config (initializers included) as ``keras.saving.load_model``."""
    import keras

    from prune_viz.core.io import load_model

    keras.utils.set_random_seed(11)
    path = tmp_path / f"{name}.keras"
    SAME_AS_KERAS[name](keras).save(path)
    reference = keras.saving.load_model(path, compile=False)
    ours = load_model(path).keras_model
    assert [w.path for w in ours.weights] == [w.path for w in reference.weights]
    for mine, theirs in zip(ours.weights, reference.weights):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy(), err_msg=mine.path)
    x = factory.reference_input(reference.inputs[0].shape)
    np.testing.assert_array_equal(ours(x, training=False), reference(x, training=False))
    if name != "wrapped":  # known gap: initializers inside a wrapped layer come back as Zeros
        assert ours.get_config() == reference.get_config()


def test_weights_that_fail_their_crc_are_damaged(tmp_path):
    """A flipped bit in a kernel is still a plausible float: only the zip's CRC can tell."""
    import zipfile

    import keras

    from prune_viz.core.io import ModelLoadError, load_model

    path = tmp_path / "mlp.keras"
    factory.keras3_mlp(keras).save(path)
    with zipfile.ZipFile(path) as archive:
        weights = archive.read("model.weights.h5")  # stored uncompressed, as Keras writes it
    raw = bytearray(path.read_bytes())
    raw[raw.find(weights) + len(weights) // 2] ^= 0x10  # the middle of the member: kernel data
    flipped = tmp_path / "flipped.keras"
    flipped.write_bytes(bytes(raw))  # the CRC the zip records is still the original's
    with pytest.raises(ModelLoadError, match=r"flipped.keras is damaged \(its member model.weights.h5"):
        load_model(flipped)


def test_the_child_check_reads_good_files_without_error(keras3_cases):
    """A child that fails on a good file would silently switch off the crash check."""
    import subprocess
    import sys

    from prune_viz.core.io.hdf5_check import READ_ALL_SCRIPT

    for name, member in (("keras3-mlp.keras", "model.weights.h5"), ("keras3-mlp.h5", "")):
        done = subprocess.run(
            [sys.executable, "-c", READ_ALL_SCRIPT, str(keras3_cases[name].path), member, ""],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
