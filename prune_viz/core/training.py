"""Train one of the built-in architectures on MNIST, keeping the weights of the best validation epoch.

Inputs are scaled to [0, 1]; Adam; a seeded random validation split of the
training images picks the checkpoint; test accuracy is measured on the whole
test set with the same Evaluator the app uses. ``fit_keeping_best`` is shared
with fine-tuning.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from prune_viz.core.architectures import ARCHITECTURES, build_model, input_shape
from prune_viz.core.data import MissingData, MnistData
from prune_viz.core.errors import UserError
from prune_viz.core.inputs import preprocess
from prune_viz.core.tasks import TaskState, quiet, tensorflow_job

DEFAULT_BATCH_SIZE = 128
DEFAULT_LEARNING_RATE = 1e-3
DEFAULT_VALIDATION_FRACTION = 0.1


class TrainingError(UserError, ValueError):
    """Training cannot start with these settings; the message is one sentence."""


@dataclass(frozen=True)
class TrainConfig:
    arch: str
    epochs: int = 10
    seed: int = 0
    batch_size: int = DEFAULT_BATCH_SIZE
    learning_rate: float = DEFAULT_LEARNING_RATE
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION
    l2: float = 0.0  # L2 penalty on kernels (0 = none)

    def __post_init__(self):
        if self.arch not in ARCHITECTURES:
            raise TrainingError(f"architecture must be one of {', '.join(ARCHITECTURES)}, not {self.arch!r}.")
        if self.epochs < 1:
            raise TrainingError(f"epochs must be at least 1, not {self.epochs}.")
        if self.batch_size < 1:
            raise TrainingError(f"batch size must be at least 1, not {self.batch_size}.")
        if not 0.0 < self.validation_fraction < 1.0:
            raise TrainingError(f"the validation fraction must be between 0 and 1, not {self.validation_fraction}.")
        if not self.l2 >= 0.0:
            raise TrainingError(f"the L2 penalty must be 0 or more, not {self.l2}.")


@dataclass
class FitResult:
    best_epoch: int  # 1-based
    validation_accuracy: float  # at best_epoch
    history: list[dict]  # per epoch: loss, accuracy, val_loss, val_accuracy
    train_images: int
    validation_images: int
    seconds: float


@dataclass
class TrainResult:
    model: Any  # keras.Model holding the best-validation weights
    config: TrainConfig
    fit: FitResult
    test_accuracy: float
    test_loss: float
    metadata: dict = field(default_factory=dict)


def split_validation(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices): a seeded random split, at least one image on each side."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = min(max(1, int(round(n * fraction))), n - 1)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _progress_callback(task: TaskState, epochs: int, steps: int, label: str):
    import keras

    class Progress(keras.callbacks.Callback):
        """Reports every batch; TaskState.progress raises Cancelled, which stops fit() at once."""

        def __init__(self):
            super().__init__()
            self.epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
            task.progress(epoch / epochs, f"{label} epoch {epoch + 1}/{epochs}")

        def on_train_batch_end(self, batch, logs=None):
            done = self.epoch * steps + batch + 1
            task.progress(done / (epochs * steps), f"{label} epoch {self.epoch + 1}/{epochs}")

    return Progress()


def _best_weights_callback():
    import keras

    class KeepBest(keras.callbacks.Callback):
        """Remembers the weights of the epoch with the highest validation accuracy (first one on ties)."""

        def __init__(self):
            super().__init__()
            self.best = -1.0
            self.best_epoch = 0
            self.weights = None

        def on_epoch_end(self, epoch, logs=None):
            accuracy = float((logs or {}).get("val_accuracy", -1.0))
            if accuracy > self.best:
                self.best, self.best_epoch = accuracy, epoch + 1
                self.weights = [np.array(w, copy=True) for w in self.model.get_weights()]

    return KeepBest()


def fit_keeping_best(
    model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    seed: int,
    validation_fraction: float,
    learning_rate: float,
    from_logits: bool = False,
    task: TaskState | None = None,
    label: str = "Training",
    feed=None,
) -> FitResult:
    """Compile ``model`` with Adam and fit it; on return it holds the best-validation-epoch weights.

    ``feed``: None when ``x`` is what the model takes; else a function turning a batch of ``x`` (raw
    samples) into it, called batch by batch inside the training step (``fed_batch_by_batch``), so the
    split is never converted whole. Keras shuffles and batches ``x`` the same either way."""
    import keras

    task = task or quiet()
    if len(x) < 2:
        raise MissingData("Training needs MNIST training images, and the data chosen has none.")
    train_idx, val_idx = split_validation(len(x), validation_fraction, seed)
    if feed is not None:
        model = fed_batch_by_batch(model, feed)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
        metrics=["accuracy"],
    )
    steps = int(np.ceil(len(train_idx) / batch_size))
    keep_best = _best_weights_callback()
    start = time.perf_counter()
    history = model.fit(
        x[train_idx],
        y[train_idx],
        validation_data=(x[val_idx], y[val_idx]),
        epochs=epochs,
        batch_size=batch_size,
        shuffle=True,
        verbose=0,
        callbacks=[_progress_callback(task, epochs, steps, label), keep_best],
    )
    seconds = time.perf_counter() - start
    if keep_best.weights is not None:
        model.set_weights(keep_best.weights)
    per_epoch = [
        {key: float(values[i]) for key, values in history.history.items()}
        for i in range(len(history.history.get("loss", [])))
    ]
    return FitResult(keep_best.best_epoch, keep_best.best, per_epoch, len(train_idx), len(val_idx), seconds)


def fed_batch_by_batch(model, feed):
    """A model that runs ``feed`` (NumPy, a batch of raw samples -> the model's input) on each batch,
    then ``model``: its weights are ``model``'s, in the same order, so training it trains ``model``."""
    import keras
    import tensorflow as tf

    class FedBatchByBatch(keras.Model):
        def __init__(self, inner):
            super().__init__(name=f"{inner.name}_fed")
            self.inner = inner

        def call(self, raw, training=None):
            try:
                spec = tf.nest.flatten(self.inner.inputs)[0]
            except (AttributeError, ValueError, IndexError, TypeError):  # a subclassed model: no symbolic input
                spec = None
            dtype = tf.as_dtype(spec.dtype if spec is not None else "float32")
            x = tf.numpy_function(
                lambda batch: np.asarray(feed(batch), dtype=dtype.as_numpy_dtype), [raw], dtype, stateful=False
            )
            if spec is not None:
                x = tf.ensure_shape(x, (None, *spec.shape[1:]))
            return self.inner(x, training=training)

    return FedBatchByBatch(model)


def inference_copy(model):
    """An uncompiled copy with the same weights: saved without optimizer state (a third of the size).

    Rebuilt from its config: keras.models.clone_model would compile the copy again.
    """
    import keras

    try:
        copy = type(model).from_config(model.get_config())
    except Exception:  # a model class that cannot rebuild itself: keep its compiled clone
        copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def training_inputs(data: MnistData, arch: str, mode: str = "scale") -> tuple[np.ndarray, np.ndarray]:
    x = preprocess(data.x_train, mode).reshape((len(data.x_train),) + input_shape(arch))
    return np.ascontiguousarray(x), data.y_train.astype(np.int64)


def software_versions() -> dict:
    import keras
    import tensorflow as tf

    from prune_viz import __version__

    return {"prune_viz_version": __version__, "keras_version": keras.__version__, "tensorflow_version": tf.__version__}


def utc_now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def measure_test_accuracy(model, data: MnistData, preprocessing: str = "scale", name: str = "model"):
    """(accuracy, loss) on the whole test set via the app's Evaluator."""
    from prune_viz.core.evaluation import Evaluator
    from prune_viz.core.io import LoadedModel

    loaded = LoadedModel(path=Path(name), format="in memory", keras_model=model)
    result = Evaluator(loaded, data, preprocessing).run()
    return result.accuracy, result.loss


@tensorflow_job()
def train(config: TrainConfig, data: MnistData, task: TaskState | None = None) -> TrainResult:
    """Build, train and test ``config.arch``; the returned model holds the best-validation weights."""
    import keras

    task = task or quiet()
    task.progress(0.0, f"Building {config.arch}")
    keras.utils.set_random_seed(config.seed)
    model = build_model(config.arch, config.l2)
    x, y = training_inputs(data, config.arch)
    fit = fit_keeping_best(
        model,
        x,
        y,
        epochs=config.epochs,
        batch_size=config.batch_size,
        seed=config.seed,
        validation_fraction=config.validation_fraction,
        learning_rate=config.learning_rate,
        task=task.sub(0.0, 0.95),
    )
    task.progress(0.96, "Testing on the test set")
    accuracy, loss = measure_test_accuracy(model, data, "scale", config.arch)
    task.progress(1.0, "Done")
    metadata = {
        "trained_on": data.train_description,
        "trained_on_full_training_set": data.is_full_training_set,
        "data_source": data.source,
        "arch": config.arch,
        "epochs": config.epochs,
        "seed": config.seed,
        "batch_size": config.batch_size,
        "optimizer": f"Adam (learning rate {config.learning_rate:g})",
        "l2": config.l2,
        "preprocessing": "scale",
        "validation_fraction": config.validation_fraction,
        "train_images": fit.train_images,
        "validation_images": fit.validation_images,
        "best_epoch": fit.best_epoch,
        "validation_accuracy": round(fit.validation_accuracy, 6),
        "test_accuracy": round(accuracy, 6),
        "test_loss": round(loss, 6),
        "test_images": int(len(data.x_test)),
        "train_seconds": round(fit.seconds, 2),
        "date": utc_now(),
        **software_versions(),
    }
    return TrainResult(inference_copy(model), config, fit, accuracy, loss, metadata)
