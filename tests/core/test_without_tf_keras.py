"""Keras 2 files of a compiled and trained model open, prune and evaluate in a process where tf_keras
cannot be imported: nothing at run time may need it, although the test setup installs it to write them.

tf.keras's legacy optimizers (the default before TF 2.11) keep their state in slot variables, which
TensorFlow's SavedModel loader recreates through the optimizer's ``add_slot``; without tf_keras that
load failed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import model_factory as factory

pytestmark = [pytest.mark.keras_floor, pytest.mark.slow]

PROJECT_ROOT = Path(__file__).resolve().parents[2]

_WRITER = r"""
import os, sys
import numpy as np
import tensorflow as tf
import tf_keras as keras

folder = sys.argv[1]
data = np.load(os.path.join(folder, "mnist-part.npz"))
keras.utils.set_random_seed(3)
model = keras.Sequential([
    keras.layers.Flatten(input_shape=(28, 28), name="flat"),
    keras.layers.Dense(32, activation="relu", name="h1"),
    keras.layers.Dense(10, activation="softmax", name="out"),
])
model.compile(optimizer=keras.optimizers.legacy.Adam(), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
model.fit(data["x_train"] / 255.0, data["y_train"], epochs=2, batch_size=32, verbose=0)
assert model.optimizer.get_slot_names(), "the optimizer should keep slot variables"
model.save(os.path.join(folder, "trained-savedmodel"), save_format="tf")
model.save(os.path.join(folder, "trained.h5"))
np.savez(os.path.join(folder, "trained-reference.npz"), y=model(data["x_test"] / 255.0, training=False).numpy(),
         **{name: model.get_layer(name).kernel.numpy() for name in ("h1", "out")})
"""

# Runs with tf_keras unimportable (a finder ahead of every other refuses it), then opens, prunes and
# evaluates each file through prune-viz; prints one JSON line per file.
_READER = r"""
import json, sys

class RefuseTfKeras:
    def find_spec(self, name, path=None, target=None):
        if name == "tf_keras" or name.startswith("tf_keras."):
            raise ImportError(f"{name} is not installed (refused by the test)")
        return None

sys.meta_path.insert(0, RefuseTfKeras())

import numpy as np
from prune_viz.core.data import MnistData
from prune_viz.core.evaluation import Evaluator
from prune_viz.core.io import load_model
from prune_viz.core.layers import find_prunable_layers
from prune_viz.core.pruning import Pruner, PruningConfig

folder = sys.argv[1]
data = np.load(folder + "/mnist-part.npz")
mnist = MnistData(data["x_train"], data["y_train"], data["x_test"], data["y_test"], "part of MNIST")
for name in sys.argv[2:]:
    loaded = load_model(folder + "/" + name)
    layers = find_prunable_layers(loaded)
    outputs = np.asarray(loaded(data["x_test"] / 255.0))
    evaluator = Evaluator(loaded, mnist, "scale")
    accuracy = evaluator.run().accuracy
    pruner = Pruner(layers)
    pruner.apply(pruner.prune(PruningConfig("weight", 90.0, "layer", {layer.name for layer in layers})))
    pruned_zeros = [int(np.count_nonzero(layer.variable.numpy() == 0)) for layer in layers]
    pruned_accuracy = evaluator.run().accuracy
    pruner.restore()
    print(json.dumps({"name": name, "format": loaded.format, "layers": [layer.name for layer in layers],
                      "sizes": [layer.size for layer in layers], "pruned_zeros": pruned_zeros,
                      "outputs": outputs.tolist(), "accuracy": accuracy, "pruned_accuracy": pruned_accuracy,
                      "restored_accuracy": evaluator.run().accuracy,
                      "kernels": {layer.name: layer.variable.numpy().tolist() for layer in layers},
                      "tf_keras_imported": "tf_keras" in sys.modules}))
"""

FILES = {"trained-savedmodel": "TensorFlow SavedModel", "trained.h5": "HDF5 (Keras 2"}


@pytest.fixture(scope="module")
def keras2_trained(tmp_path_factory, mnist_train) -> Path:
    if not factory.tf_keras_available():
        pytest.skip("tf_keras is not installed (pip install tf-keras), so no Keras 2 files can be written")
    folder = tmp_path_factory.mktemp("keras2 trained")
    # the training images are sorted by label, and fit shuffles them
    np.savez(
        folder / "mnist-part.npz",
        x_train=mnist_train.x_train,
        y_train=mnist_train.y_train,
        x_test=mnist_train.x_test[:300],
        y_test=mnist_train.y_test[:300],
    )
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(
        [sys.executable, "-c", _WRITER, str(folder)], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


def test_trained_keras2_files_open_prune_and_evaluate_without_tf_keras(keras2_trained, mnist):
    # ahead of, not instead of, a PYTHONPATH given (.ci/run's Keras floor is one)
    env = dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="3",
        PYTHONPATH=os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
    )
    done = subprocess.run(
        [sys.executable, "-c", _READER, str(keras2_trained), *FILES],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=PROJECT_ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [r["name"] for r in results] == list(FILES)
    reference = np.load(keras2_trained / "trained-reference.npz")
    labels = mnist.y_test[:300]
    keras2_accuracy = float(np.mean(np.argmax(reference["y"], axis=1) == labels))
    assert keras2_accuracy > 0.7, "the writer's model should have learnt something"
    for result in results:
        name = result["name"]
        assert not result["tf_keras_imported"], name
        assert FILES[name] in result["format"], result["format"]
        assert result["layers"] == ["h1", "out"], name
        for layer in ("h1", "out"):
            np.testing.assert_array_equal(result["kernels"][layer], reference[layer], err_msg=name)
        np.testing.assert_allclose(result["outputs"], reference["y"], rtol=1e-5, atol=1e-6, err_msg=name)
        assert result["accuracy"] == pytest.approx(keras2_accuracy, abs=1 / 300), name
        assert result["pruned_zeros"] == [int(size * 0.9) for size in result["sizes"]], name
        assert result["pruned_accuracy"] != result["accuracy"], name
        assert result["restored_accuracy"] == result["accuracy"], name
