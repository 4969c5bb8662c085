"""Pruning criteria: a score per weight and per unit; the lowest scores are pruned first.

The Pruner sorts each layer's scores once and turns every k into a threshold, with the
same rounding and tie rules for every criterion (``prune_viz.core.plan``). Scores are
non-negative float32, one per cell of the layer's (fan_in, units) matrix.

- ``magnitude``: |w| per weight, the L2 norm of the unit's incoming weights per unit.
- ``random``: uniform in [0, 1), seeded by the config's seed and the layer's name, so a
  seed gives the same masks every time and another seed other masks.
- ``lamp`` (Lee et al. 2021, "Layer-adaptive sparsity for the magnitude-based pruning"):
  score(u) = w_u^2 / sum_{v >= u} w_v^2 over the layer's weights sorted ascending by |w|
  (ties by flat index). Scores are comparable across layers, which global scope needs.
  Per unit: the L2 norm divided by sqrt(fan_in), so layers of different fan-in compete fairly.
- ``taylor``: |w * dL/dw|, with dL/dw the gradient of the summed cross-entropy over a set
  of training images (per unit: summed over the unit's weights). It needs data, so it is
  computed once per model and data source by ``taylor_scores``, and handed to the Pruner.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from prune_viz.core.data import DataError
from prune_viz.core.non_finite import is_non_finite
from prune_viz.core.tasks import TaskState, quiet, tensorflow_job

SCORE_LABELS = {
    "magnitude": ("|w|", "unit L2 norm"),
    "random": ("random score", "random unit score"),
    "lamp": ("LAMP score", "unit L2 norm / sqrt(fan-in)"),
    "taylor": ("Taylor score |w·dL/dw|", "unit Taylor score"),
}
TAYLOR_IMAGES = 1000
# what a user choosing LAMP should know, said where the criterion is chosen (window and --help)
LAMP_NOTE = (
    "LAMP with layerwise scope prunes exactly what magnitude prunes: within one layer its scores "
    "rank weights as |w| does, so it differs only with global scope. "
    "Unit LAMP here is the unit's L2 norm / √fan-in (the root mean square of its incoming weights)."
)


def score_label(criterion: str, method: str) -> str:
    """What the thresholded number is, for an axis label: e.g. 'LAMP score'."""
    weight, unit = SCORE_LABELS[criterion]
    return weight if method == "weight" else unit


def _generator(seed: int, name: str, what: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(name.encode()), what])


def random_scores(shape: tuple[int, int], seed: int, name: str) -> np.ndarray:
    """Seeded uniform scores of a (fan_in, units) matrix."""
    return _generator(seed, name, 0).random(shape, dtype=np.float32)


def random_unit_scores(units: int, seed: int, name: str) -> np.ndarray:
    return _generator(seed, name, 1).random(units)


def lamp_scores(matrix: np.ndarray) -> np.ndarray:
    """LAMP scores (float32) of a matrix, by the paper's formula over the ascending |w| order.

    The sums run over the finite weights; a NaN weight scores NaN and an infinite one +inf, so they
    rank as |w| ranks them (last, core.plan's order) and do not turn every other score into NaN."""
    flat = np.asarray(matrix, np.float64).ravel()
    order = np.argsort(np.abs(flat), kind="stable")
    ordered = flat[order]
    finite = ~is_non_finite(ordered)
    squares = np.where(finite, ordered, 0.0) ** 2
    tail = np.cumsum(squares[::-1])[::-1]  # tail[i] = sum of squares from position i to the end
    scores = np.empty(flat.size, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        scores[order] = np.where(finite, np.where(tail > 0, squares / tail, 0.0), np.abs(ordered))
    return scores.astype(np.float32).reshape(np.shape(matrix))


def lamp_unit_scores(norms: np.ndarray, fan_in: int) -> np.ndarray:
    """Fan-in-normalised unit norms: the root mean square of the unit's incoming weights."""
    return np.asarray(norms, np.float64) / np.sqrt(max(fan_in, 1))


def unit_sums(matrix: np.ndarray) -> np.ndarray:
    """Per-unit sum of a (fan_in, units) score matrix, in float64."""
    return np.asarray(matrix, np.float64).sum(axis=0)


@dataclass(frozen=True)
class TaylorScores:
    """Taylor scores of every prunable layer, and which images they came from."""

    scores: dict  # layer name -> float32 (fan_in, units) matrix
    images: int
    source: str  # the data source, as MnistData.source says it

    @property
    def description(self) -> str:
        return f"Taylor scores from {self.images:,} training images of {self.source}"


class TaylorUnavailable(DataError):
    """Taylor scores cannot be computed (no training images, no Keras model); one sentence."""


@tensorflow_job()
def taylor_scores(
    opened,
    data,
    *,
    preprocessing: str = "auto",
    images: int = TAYLOR_IMAGES,
    batch_size: int = 250,
    task: TaskState | None = None,
) -> TaylorScores:
    """|w * dL/dw| per weight of every prunable layer, at the original weights, where L is the
    cross-entropy summed over the first ``images`` training images of ``data`` (the TF job
    thread only: the model's kernels are restored first). The training split is scaled one batch
    at a time, never converted whole."""
    import keras
    import tensorflow as tf

    from prune_viz.core.metrics import class_labels

    task = task or quiet()
    model = opened.loaded.keras_model
    if model is None:
        raise TaylorUnavailable("Taylor scores need a Keras model, not a bare SavedModel.")
    if not data.has_training_split:
        what = "MNIST training images" if data.is_mnist else "a training split"
        raise TaylorUnavailable(f"Taylor scores need {what}, and {data.source} has only a test set.")
    task.progress(0.0, "Preparing the training images")
    evaluator = opened.evaluator_on(data, preprocessing)
    if any(head.task == "agreement" for head in evaluator.heads):
        raise TaylorUnavailable(f"Taylor scores need labels, and {data.name} has none.")
    n = min(images, len(data.x_train))
    labels = list(data.y_train) if isinstance(data.y_train, tuple) else [data.y_train]
    labels = [np.asarray(y)[:n] for y in labels]
    variables = [layer.variable for layer in opened.layers]
    totals = [np.zeros(layer.shape, np.float64) for layer in opened.layers]

    def head_loss(head, out, y):
        if head.task == "classification":
            return keras.losses.sparse_categorical_crossentropy(
                class_labels(y), out, from_logits=not head.probabilities
            )
        if head.task == "binary":
            return keras.losses.binary_crossentropy(
                y.reshape(-1, 1).astype(np.float32), out, from_logits=not head.probabilities
            )
        return tf.reduce_sum(tf.square(out - y.reshape(len(y), -1).astype(np.float32)), axis=1)

    for start in range(0, n, batch_size):
        task.check()
        xb = tf.constant(evaluator.feed(data.x_train[start : min(start + batch_size, n)]))  # one batch at a time
        with tf.GradientTape() as tape:
            outputs = tf.nest.flatten(model(xb, training=False))
            loss = 0.0
            for head, out, y in zip(evaluator.heads, outputs, labels):
                out = tf.reshape(tf.cast(out, tf.float32), (tf.shape(xb)[0], -1))
                loss += tf.reduce_sum(head_loss(head, out, y[start : start + batch_size]))
        for total, gradient in zip(totals, tape.gradient(loss, variables)):
            if gradient is not None:
                total += np.asarray(gradient, np.float64)
        done = min(start + batch_size, n)
        task.progress(done / n, f"Taylor scores: {done:,} / {n:,} training samples")
    scores = {
        layer.name: layer.as_matrix(np.abs(layer.original.astype(np.float64) * total)).astype(np.float32)
        for layer, total in zip(opened.layers, totals)
    }
    return TaylorScores(scores, n, data.source)
