"""Exact MNIST evaluation: accuracy = correct / n over the whole test set.

The forward pass is one ``tf.function`` traced once per input layout (fixed
batch shape, the last batch padded), not ``model.predict``; it reads the
model's variables, so pruned kernels written by ``Pruner.apply`` take effect
without retracing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from prune_viz.core.data import MnistData
from prune_viz.core.errors import clipped_words
from prune_viz.core.inputs import (
    NUM_CLASSES,
    PREPROCESSING,
    EvaluationUnavailable,
    InputLayout,
    arrange,
    layout_for,
    preprocess,
    wrong_class_count,
)
from prune_viz.core.io import LoadedModel
from prune_viz.core.tasks import TaskState, quiet

DEFAULT_BATCH = 2500  # quiet machine, `prune-viz bench`: fc-1000 107 vs 113 ms at 1000, LeNet-300-100 22.8 vs 26.1 ms
# A small model runs the whole test set as one batch (LeNet-300-100: 19 vs 23 ms at 2500): it takes a
# few tens of ms, so progress and Cancel lose nothing, and its activations stay small.
SMALL_MODEL_PARAMETERS = 1_000_000
SMALL_MODEL_ACTIVATIONS = 4096  # floats per image over all layer outputs
AUTO_SAMPLE = 1000


@dataclass
class EvaluationResult:
    accuracy: float
    loss: float
    correct: int
    total: int
    per_class_accuracy: np.ndarray  # (10,)
    confusion: np.ndarray  # (10, 10) rows = true label, columns = predicted
    preprocessing: str  # the mode actually used
    seconds: float = 0.0
    label: str = ""  # free text, e.g. the pruning config it was computed for
    extra: dict = field(default_factory=dict)
    predicted: np.ndarray | None = None  # (n,) uint8: the class predicted for each test image

    def as_dict(self) -> dict:
        return {
            "accuracy": self.accuracy,
            "loss": self.loss,
            "correct": self.correct,
            "total": self.total,
            "per_class_accuracy": [round(float(a), 6) for a in self.per_class_accuracy],
            "preprocessing": self.preprocessing,
            "seconds": round(self.seconds, 4),
        }


def default_batch_size(loaded: LoadedModel, images: int) -> int:
    """All ``images`` in one batch for a small Keras model, else DEFAULT_BATCH."""
    model = loaded.keras_model
    if model is None:
        return DEFAULT_BATCH
    try:
        parameters = sum(int(np.prod(w.shape)) for w in model.weights)
        activations = sum(int(np.prod(layer.output.shape[1:])) for layer in model.layers)
    except Exception:  # a layer without a symbolic output (subclassed models): no estimate
        return DEFAULT_BATCH
    if parameters <= SMALL_MODEL_PARAMETERS and activations <= SMALL_MODEL_ACTIVATIONS:
        return max(DEFAULT_BATCH, images)
    return DEFAULT_BATCH


class Evaluator:
    """Evaluates one model on one test set; build it once, call ``run`` per pruning state."""

    def __init__(
        self, loaded: LoadedModel, data: MnistData, preprocessing: str = "auto", batch_size: int | None = None
    ):
        import tensorflow as tf

        if preprocessing not in PREPROCESSING:
            raise ValueError(f"preprocessing must be one of {', '.join(PREPROCESSING)}")
        self._tf = tf
        self.loaded = loaded
        self.data = data
        self.layout: InputLayout = layout_for(loaded.input_shape)
        batch_size = batch_size or default_batch_size(loaded, len(data.x_test))
        self.batch_size = self.layout.fixed_batch or min(batch_size, len(data.x_test))
        self._labels = data.y_test.astype(np.int64)
        self._forward = self._compile()
        self._check_outputs()
        self.requested_preprocessing = preprocessing
        self.preprocessing = preprocessing if preprocessing != "auto" else self._choose_preprocessing()
        self._inputs = arrange(preprocess(data.x_test, self.preprocessing), self.layout)
        # converted to tensors once: on a small model the per-run conversion was a quarter of the time
        self._input_batches = [(tf.constant(chunk), n) for chunk, n in self._batches(self._inputs)]
        self._forward_few = None  # traced on the first ``probabilities`` call

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """(n, 10) class probabilities of a few uint8 (n, 28, 28) images, preprocessed like the test set.

        A separate forward pass with a free batch size (padded to the model's fixed one if it has
        one), so one drawn digit does not pay for a whole test-set batch.
        """
        tf = self._tf
        x = arrange(preprocess(np.asarray(images, dtype=np.uint8).reshape(-1, 28, 28), self.preprocessing), self.layout)
        n = len(x)
        if self.layout.fixed_batch:
            x = np.concatenate([x, np.zeros((self.layout.fixed_batch - n,) + x.shape[1:], x.dtype)])
        if self._forward_few is None:
            model = self.loaded
            spec = tf.TensorSpec((self.layout.fixed_batch,) + self.layout.feature_shape, tf.float32)

            @tf.function(input_signature=[spec])
            def forward_few(batch):
                out = model(batch)
                return tf.reshape(tf.cast(out, tf.float32), (tf.shape(batch)[0], -1))

            self._forward_few = forward_few
        scores = self._forward_few(tf.constant(x)).numpy()[:n].astype(np.float64)
        return as_probabilities(scores, self.outputs_are_probabilities)

    def _compile(self):
        tf = self._tf
        model = self.loaded
        spec = tf.TensorSpec((self.batch_size,) + self.layout.feature_shape, tf.float32)

        @tf.function(input_signature=[spec], reduce_retracing=True)
        def forward(x):
            out = model(x)
            return tf.reshape(tf.cast(out, tf.float32), (tf.shape(x)[0], -1))

        return forward

    def _batches(self, x: np.ndarray):
        """Yield (padded batch, real count) with every batch exactly batch_size long."""
        b = self.batch_size
        for start in range(0, len(x), b):
            chunk = x[start : start + b]
            n = len(chunk)
            if n < b:
                chunk = np.concatenate([chunk, np.zeros((b - n,) + chunk.shape[1:], chunk.dtype)])
            yield chunk, n

    def _predict(self, x: np.ndarray, task: TaskState) -> np.ndarray:
        return self._predict_batches(self._batches(x), len(x), task)

    def _predict_batches(self, batches, total: int, task: TaskState) -> np.ndarray:
        outputs = []
        done = 0
        for chunk, n in batches:
            task.check()
            out = self._forward(chunk).numpy()[:n]
            outputs.append(out)
            done += n
            task.progress(done / total, f"{done:,} / {total:,} images")
        return np.concatenate(outputs)

    def _check_outputs(self) -> None:
        sample = arrange(preprocess(self.data.x_test[: self.batch_size], "scale"), self.layout)
        try:
            out = self._forward(sample[: self.batch_size]).numpy()
        except Exception as exc:
            raise EvaluationUnavailable(
                f"The model could not run on MNIST-shaped input ({type(exc).__name__}: {clipped_words(exc, 160)})."
            ) from exc
        if not np.all(np.isfinite(out)):
            broken = self.loaded.non_finite_weights()
            if broken:
                where = ", ".join(f"{layer}: {count:,}" for layer, count in broken.items())
                raise EvaluationUnavailable(
                    f"The model's outputs are not numbers because it has NaN or infinite weights ({where}), "
                    "so its accuracy cannot be measured."
                )
        if out.shape[1] != NUM_CLASSES:
            raise EvaluationUnavailable(wrong_class_count(out.shape[1]))  # a shape only a run tells
        finite = out[np.all(np.isfinite(out), axis=1)]
        self.outputs_are_probabilities = bool(
            len(finite) and np.all(finite >= -1e-6) and np.allclose(finite.sum(axis=1), 1.0, atol=1e-3)
        )

    def _choose_preprocessing(self) -> str:
        """The mode with the lowest cross-entropy on a sample: accuracy alone cannot tell
        /255 from raw pixels for a ReLU net (argmax barely moves), the loss can."""
        n = min(AUTO_SAMPLE, len(self.data.x_test))
        images, labels = self.data.x_test[:n], self._labels[:n]
        best, best_loss = "scale", np.inf
        for mode in ("scale", "raw", "l2"):  # ties keep the earlier, more common mode
            scores = self._predict(arrange(preprocess(images, mode), self.layout), quiet())
            loss = summarise(scores, labels, self.outputs_are_probabilities, mode).loss
            if loss < best_loss:
                best, best_loss = mode, loss
        return best

    def run(self, task: TaskState | None = None, label: str = "") -> EvaluationResult:
        import time

        task = task or quiet()
        start = time.perf_counter()
        scores = self._predict_batches(self._input_batches, len(self._inputs), task)
        seconds = time.perf_counter() - start
        return summarise(scores, self._labels, self.outputs_are_probabilities, self.preprocessing, seconds, label)


def as_probabilities(scores: np.ndarray, are_probabilities: bool) -> np.ndarray:
    """Rows that sum to 1: the model's own probabilities, or a softmax of its logits."""
    scores = np.asarray(scores, dtype=np.float64)
    if are_probabilities:
        probs = np.clip(scores, 0.0, None)
        return probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def summarise(
    scores: np.ndarray,
    labels: np.ndarray,
    are_probabilities: bool,
    preprocessing: str,
    seconds: float = 0.0,
    label: str = "",
) -> EvaluationResult:
    """Accuracy, loss, per-class accuracy and confusion matrix from raw model outputs."""
    scores = scores.astype(np.float64)
    predicted = np.argmax(scores, axis=1)
    correct = int(np.sum(predicted == labels))
    if are_probabilities:
        probs = np.clip(scores, 1e-7, 1.0)
        log_probs = np.log(probs / probs.sum(axis=1, keepdims=True))
    else:
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    with np.errstate(invalid="ignore"):
        loss = float(-np.mean(log_probs[np.arange(len(labels)), labels]))
    confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    per_class_total = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(per_class_total > 0, np.diag(confusion) / per_class_total, np.nan)
    return EvaluationResult(
        accuracy=correct / len(labels),
        loss=loss,
        correct=correct,
        total=int(len(labels)),
        per_class_accuracy=per_class,
        confusion=confusion,
        preprocessing=preprocessing,
        seconds=seconds,
        label=label,
        predicted=predicted.astype(np.uint8),
    )
