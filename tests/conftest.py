"""Shared fixtures: real MNIST from ../shared/data/mnist and small models trained on it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Before anything imports Qt or TensorFlow.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MNIST_DIR = PROJECT_ROOT.parent / "shared" / "data" / "mnist"


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.fail(f"MNIST test data missing at {MNIST_DIR} (see README: Tests)")
    return MNIST_DIR


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    from prune_viz.core.data import load_idx_folder

    return load_idx_folder(mnist_dir)


@pytest.fixture(scope="session")
def trained_mlp_path(tmp_path_factory, mnist) -> Path:
    """A 784-64-32-10 MLP trained for 2 epochs on the 5k subset (~92% test accuracy), saved as .keras."""
    import keras
    import numpy as np

    from prune_viz.core.io import save_keras_with_metadata

    keras.utils.set_random_seed(7)
    model = keras.Sequential([
        keras.Input((784,)),
        keras.layers.Dense(64, activation="relu", name="hidden1"),
        keras.layers.Dense(32, activation="relu", name="hidden2"),
        keras.layers.Dense(10, activation="softmax", name="output"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = mnist.x_train.reshape(-1, 784).astype(np.float32) / 255.0
    model.fit(x, mnist.y_train, epochs=3, batch_size=64, verbose=0, shuffle=True)
    path = tmp_path_factory.mktemp("models") / "mlp.keras"
    save_keras_with_metadata(model, path, {"trained_on": "MNIST 5,000-image training subset (test fixture)"})
    return path


@pytest.fixture(scope="session")
def vgg_shaped_path(tmp_path_factory) -> Path:
    """A narrow, untrained VGG-16 look-alike saved as .keras: a 224x224x3 input (which MNIST cannot
    feed), 13 3x3 Conv2D layers in five max-pooled blocks, then Dense 32, 32 and 10."""
    from prune_viz.bench.models import build_vgg

    path = tmp_path_factory.mktemp("vgg") / "vgg.keras"
    build_vgg(((4, 2), (8, 2), (8, 3), (8, 3), (8, 3)), dense=(32, 32), classes=10).save(path)
    return path

