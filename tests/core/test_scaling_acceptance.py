"""Issue 27's acceptance for the input scaling chosen automatically, simulated: real CIFAR-10 checkpoints
and test images cannot be downloaded here, so small colour models are trained here, each with one of
the preprocessings CIFAR-style checkpoints use baked into training only (not into the model), on
coloured MNIST digits (32x32x3, each class its own colours). Evaluated on the test images as a PNG
folder with the scaling chosen automatically, each must get the accuracy its own preprocessing gets,
within 0.5 points."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from prune_viz.core.data import DataFit, load_bundled_test_set, load_data
from prune_viz.core.evaluation import Evaluator
from prune_viz.core.inputs import channel_stats, preprocess
from prune_viz.core.session import open_model

pytestmark = pytest.mark.slow  # six tiny CNNs trained: ~10 s on a quiet machine

PREPROCESSINGS = ("scale", "signed", "raw", "standard", "image_standard", "caffe")
TRAIN, TEST = 1000, 300
PALETTE = np.random.default_rng(7).integers(0, 256, (10, 3))  # each digit's background colour


def coloured_digits(digits: np.ndarray, labels: np.ndarray, seed: int) -> np.ndarray:
    """uint8 (n, 32, 32, 3): the digit in the inverse of its class's background colour, with noise."""
    rng = np.random.default_rng(seed)
    n = len(digits)
    ink = np.pad(digits, ((0, 0), (2, 2), (2, 2))).astype(np.float32)[..., None] / 255.0
    background = np.clip(PALETTE[labels][:, None, None, :] + rng.normal(0, 45, (n, 1, 1, 3)), 0, 255)
    image = background * (1 - ink) + (255 - background) * ink + rng.normal(0, 10, (n, 32, 32, 3))
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def _write_png_folder(folder: Path, images: np.ndarray, labels: np.ndarray) -> None:
    import tensorflow as tf

    for i, (image, label) in enumerate(zip(images, labels)):
        class_folder = folder / "test" / f"digit{label}"
        class_folder.mkdir(parents=True, exist_ok=True)
        (class_folder / f"{i:04d}.png").write_bytes(tf.io.encode_png(image).numpy())


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory) -> tuple[Path, dict]:
    """The PNG test folder, and per preprocessing: (model path, training (mean, std) per channel)."""
    import keras

    folder = tmp_path_factory.mktemp("scaling_acceptance")
    mnist = load_bundled_test_set()
    # balanced classes, as CIFAR-10's splits are: the test set's own colour statistics are the training set's
    per_class = [np.flatnonzero(mnist.y_test == digit) for digit in range(10)]
    train = np.sort(np.concatenate([found[: TRAIN // 10] for found in per_class]))
    test = np.sort(np.concatenate([found[TRAIN // 10 : (TRAIN + TEST) // 10] for found in per_class]))
    y_train, y_test = mnist.y_test[train].astype(np.int64), mnist.y_test[test].astype(np.int64)
    x_train = coloured_digits(mnist.x_test[train], y_train, 1)
    x_test = coloured_digits(mnist.x_test[test], y_test, 2)
    _write_png_folder(folder / "images", x_test, y_test)
    stats = channel_stats(x_train)
    models = {}
    for mode in PREPROCESSINGS:
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((32, 32, 3)),
                keras.layers.Conv2D(8, 3, strides=2),
                keras.layers.BatchNormalization(momentum=0.8),  # CIFAR nets normalise: scaling matters
                keras.layers.ReLU(),
                keras.layers.Conv2D(16, 3, strides=2, activation="relu"),
                keras.layers.MaxPooling2D(2),
                keras.layers.Flatten(),
                keras.layers.Dense(10),
            ]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(3e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        model.fit(preprocess(x_train, mode, stats), y_train, epochs=3, batch_size=64, verbose=0)
        model.save(folder / f"{mode}.keras")
        models[mode] = folder / f"{mode}.keras"
    return folder / "images", {"models": models, "stats": stats}


@pytest.mark.parametrize("mode", PREPROCESSINGS)
def test_scaling_chosen_automatically_gets_the_authors_accuracy(checkpoints, mode):
    images, built = checkpoints
    opened = open_model(built["models"][mode])
    data = load_data(images, fit=DataFit(image_size=(32, 32), channels=3))
    assert data.x.shape == (TEST, 32, 32, 3) and data.num_classes == 10
    model = opened.loaded.keras_model
    # the authors' accuracy: their preprocessing, their training statistics
    authors = float(np.mean(np.argmax(model(preprocess(data.x, mode, built["stats"])), axis=1) == data.y))
    evaluator = Evaluator(opened.loaded, data, "auto")
    chosen = evaluator.run(unpruned=True)
    assert authors > 0.6  # the model learnt something
    assert abs(chosen.accuracy - authors) <= 0.005, (mode, evaluator.preprocessing, evaluator.scaling_evidence)
    # the choice matters: a wrong scaling loses much, and the usual x/255 is not right for the others
    tried = evaluator.scaling_evidence["accuracy"]
    assert set(tried) == {"scale", "raw", "l2", "signed", "standard", "image_standard", "caffe"}
    assert min(tried.values()) < authors - 0.3
    if mode != "scale":
        assert abs(tried["scale"] - authors) > 0.05
