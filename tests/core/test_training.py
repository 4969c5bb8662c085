"""Training the built-in architectures on the real 5k MNIST subset, and atomic saving."""

from __future__ import annotations

import os

import numpy as np
import pytest

from prune_viz.core.architectures import build_model
from prune_viz.core.files import WriteRefused
from prune_viz.core.io import save_keras_with_metadata
from prune_viz.core.tasks import Cancelled, TaskState
from prune_viz.core.training import TrainConfig, TrainingError, split_validation, train


@pytest.fixture(scope="module")
def trained(mnist_train):
    return train(TrainConfig("lenet-300-100", epochs=1, seed=3, batch_size=64), mnist_train)


def _kernel_shapes(model):
    return [tuple(layer.kernel.shape) for layer in model.layers if hasattr(layer, "kernel")]


@pytest.mark.keras_floor
def test_architectures_match_the_papers():
    import keras

    keras.utils.set_random_seed(0)
    fc = build_model("fc-1000")
    assert _kernel_shapes(fc) == [(784, 1000), (1000, 1000), (1000, 500), (500, 200), (200, 10)]
    assert len(fc.weights) == 5  # no biases
    assert fc.count_params() == 784 * 1000 + 1000 * 1000 + 1000 * 500 + 500 * 200 + 200 * 10
    lenet = build_model("lenet-300-100")
    assert _kernel_shapes(lenet) == [(784, 300), (300, 100), (100, 10)]
    assert lenet.count_params() == 266_610  # Han et al. 2015, Table 2
    conv = build_model("lenet-5")
    assert _kernel_shapes(conv) == [(5, 5, 1, 20), (5, 5, 20, 50), (800, 500), (500, 10)]
    assert conv.count_params() == 431_080
    for model in (fc, lenet, conv):
        assert model.layers[-1].get_config()["activation"] == "softmax"


def test_bad_config_is_one_sentence():
    with pytest.raises(TrainingError, match="architecture must be one of"):
        TrainConfig("resnet")
    with pytest.raises(TrainingError, match="epochs"):
        TrainConfig("fc-1000", epochs=0)


def test_validation_split_is_seeded_disjoint_and_complete():
    train_a, val_a = split_validation(5000, 0.1, seed=4)
    train_b, val_b = split_validation(5000, 0.1, seed=4)
    _, val_c = split_validation(5000, 0.1, seed=5)
    assert len(val_a) == 500 and len(train_a) == 4500
    assert np.array_equal(val_a, val_b) and not np.array_equal(val_a, val_c)
    assert set(train_a).isdisjoint(val_a) and set(train_a) | set(val_a) == set(range(5000))


@pytest.mark.keras_floor
def test_one_epoch_on_the_subset_learns_and_says_so(trained, mnist):
    meta = trained.metadata
    assert meta["trained_on"] == "MNIST 5,000-image training subset"
    assert meta["trained_on_full_training_set"] is False
    assert meta["arch"] == "lenet-300-100" and meta["epochs"] == 1 and meta["seed"] == 3
    assert meta["batch_size"] == 64 and meta["train_images"] == 4500 and meta["validation_images"] == 500
    assert meta["test_images"] == 10_000
    assert {"date", "prune_viz_version", "keras_version", "tensorflow_version", "data_source"} <= meta.keys()
    assert 0.8 < trained.test_accuracy <= 1.0  # one epoch of LeNet-300-100 on 4,500 images
    assert meta["test_accuracy"] == pytest.approx(trained.test_accuracy, abs=1e-6)
    assert 0.0 < trained.fit.validation_accuracy <= 1.0
    assert getattr(trained.model, "optimizer", None) is None  # saved without Adam's state


@pytest.mark.keras_floor
def test_saved_file_carries_the_metadata_and_the_recorded_accuracy(trained, mnist, tmp_path):
    from prune_viz.core.evaluation import Evaluator
    from prune_viz.core.io import load_model

    path = save_keras_with_metadata(trained.model, tmp_path / "lenet.keras", trained.metadata)
    assert path.stat().st_size < 1.3e6  # float32 weights only: 266,610 x 4 bytes + the archive
    loaded = load_model(path)
    assert loaded.metadata["trained_on"] == "MNIST 5,000-image training subset"
    accuracy = Evaluator(loaded, mnist, "scale").run().accuracy
    assert accuracy == pytest.approx(loaded.metadata["test_accuracy"], abs=1e-6)


def test_atomic_save_refuses_to_overwrite_without_force(trained, tmp_path):
    path = tmp_path / "m.keras"
    path.write_bytes(b"not a model")
    with pytest.raises(FileExistsError, match="--force"):
        save_keras_with_metadata(trained.model, path, {})
    assert path.read_bytes() == b"not a model"
    save_keras_with_metadata(trained.model, path, {"x": 1}, force=True)
    assert path.read_bytes()[:2] == b"PK"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]  # no temp file left behind
    fresh = save_keras_with_metadata(trained.model, tmp_path / "fresh.keras", {})
    umask = os.umask(0)
    os.umask(umask)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask  # not the temp file's private 0600
    with pytest.raises(WriteRefused, match="opened model"):
        save_keras_with_metadata(trained.model, path, {}, force=True, protect=(path,))
    with pytest.raises(WriteRefused, match=r"\.keras"):
        save_keras_with_metadata(trained.model, tmp_path / "m.h5", {})


def test_cancel_stops_training(mnist_train):
    task = TaskState()
    seen = []

    def on_progress(fraction, message):
        seen.append(fraction)
        if fraction > 0.02:
            task.cancel()

    task.on_progress = on_progress
    with pytest.raises(Cancelled):
        train(TrainConfig("lenet-300-100", epochs=3, seed=0), mnist_train, task)
    assert max(seen) < 0.34  # stopped within the first of three epochs


@pytest.mark.keras_floor
def test_l2_penalty_reaches_every_kernel_and_is_validated():
    from prune_viz.core.architectures import build_model
    from prune_viz.core.training import TrainConfig, TrainingError

    model = build_model("lenet-5", l2=1e-3)
    kernels = [layer for layer in model.layers if hasattr(layer, "kernel")]
    assert len(kernels) == 4
    assert all(layer.kernel_regularizer is not None for layer in kernels)
    assert all(getattr(layer, "kernel_regularizer", None) is None for layer in build_model("lenet-5").layers)
    with pytest.raises(TrainingError):
        TrainConfig("lenet-5", l2=-1.0)
