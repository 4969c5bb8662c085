"""The metric that fits the model, chosen from its outputs and the labels.

Each output ("head") of the model is scored on its own:

- ``classification`` (several scores, integer or one-hot labels): accuracy, cross-entropy, top-5
  accuracy when there are more than 10 classes, per-class accuracy and the confusion matrix;
- ``binary`` (one sigmoid or logit output, labels 0/1): accuracy at 0.5, ROC AUC, cross-entropy;
- ``regression`` (number targets): MSE, MAE, R²;
- ``agreement`` (no labels): agreement with the unpruned model's outputs: top-1 agreement for
  class scores, mean KL divergence when they are probabilities, output RMSE always, and the output
  R² against the unpruned outputs.

A model with several outputs is ``multi-output``: each head its metrics. Every task has one
*score*, higher is better and 1.0 is perfect, that sweeps and charts follow: accuracy,
R², top-1 agreement (or output R² for outputs that are not class scores), the mean over heads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prune_viz.core.errors import UserError

TASKS = ("classification", "binary", "regression", "agreement", "multi-output")
SCORE_NAMES = {
    "classification": "accuracy",
    "binary": "accuracy",
    "regression": "R²",
    "agreement": "agreement with the unpruned model",
    "multi-output": "mean score over outputs",
}


class LabelMismatch(UserError):
    """The labels cannot score the model's outputs; one sentence."""


@dataclass(frozen=True)
class Head:
    name: str
    width: int  # numbers per sample
    task: str  # classification, binary, regression or agreement
    probabilities: bool  # the outputs are probabilities (softmax / sigmoid), not logits
    class_scores: bool = True  # a vector per sample (class scores), not an image or sequence of numbers

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "width": self.width,
            "task": self.task,
            "probabilities": self.probabilities,
            "class_scores": self.class_scores,
        }


def are_probabilities(outputs: np.ndarray) -> bool:
    finite = outputs[np.all(np.isfinite(outputs), axis=1)]
    if not len(finite):
        return False
    if finite.shape[1] == 1:
        return bool(np.all(finite >= -1e-6) and np.all(finite <= 1 + 1e-6))
    return bool(np.all(finite >= -1e-6) and np.allclose(finite.sum(axis=1), 1.0, atol=1e-3))


def _is_whole(y: np.ndarray) -> bool:
    return np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.bool_) or bool(np.all(y == np.round(y)))


def head_task(
    name: str, outputs: np.ndarray, labels: np.ndarray | None, data_name: str, class_scores: bool = True
) -> Head:
    """The task of one head from a sample of its (n, width) outputs and its labels; ``class_scores``:
    the model gives one vector per sample (an image-shaped output is not class scores)."""
    width = int(outputs.shape[1])
    probabilities = are_probabilities(outputs) and class_scores
    if labels is None:
        return Head(name, width, "agreement", probabilities, class_scores)
    y = np.asarray(labels)
    if y.ndim == 1 and width > 1:
        if not _is_whole(y):
            raise LabelMismatch(
                f"The model's output {name} gives {width:,} numbers per sample but {data_name}'s labels are "
                "single numbers that are not class indices."
            )
        return Head(name, width, "classification", probabilities)
    if y.ndim == 2 and y.shape[1] == width and width > 1:
        one_hot = np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1)
        return Head(name, width, "classification" if one_hot else "regression", probabilities)
    if width == 1 and (y.ndim == 1 or y.shape[1:] == (1,)):
        binary = _is_whole(y) and set(np.unique(y).tolist()) <= {0, 1}
        return Head(name, width, "binary" if binary else "regression", probabilities)
    shape = "x".join(str(d) for d in y.shape[1:]) or "one number"
    raise LabelMismatch(
        f"The model's output {name} gives {width:,} numbers per sample but {data_name}'s labels are {shape} per sample."
    )


def class_labels(labels: np.ndarray) -> np.ndarray:
    """(n,) class indices from integer labels or one-hot rows."""
    y = np.asarray(labels)
    return (np.argmax(y, axis=1) if y.ndim == 2 else y).astype(np.int64)


def log_probabilities(scores: np.ndarray, probabilities: bool) -> np.ndarray:
    scores = scores.astype(np.float64)
    if probabilities:
        probs = np.clip(scores, 1e-7, 1.0)
        return np.log(probs / probs.sum(axis=1, keepdims=True))
    shifted = scores - scores.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def classification(scores: np.ndarray, labels: np.ndarray, probabilities: bool) -> dict:
    """accuracy, loss, correct, total, top-5 (more than 10 classes), per-class accuracy, confusion, predicted."""
    y = class_labels(labels)
    width = scores.shape[1]
    predicted = np.argmax(scores, axis=1)
    correct = int(np.sum(predicted == y))
    log_probs = log_probabilities(scores, probabilities)
    with np.errstate(invalid="ignore"):
        loss = float(-np.mean(log_probs[np.arange(len(y)), y]))
    confusion = np.zeros((width, width), dtype=np.int64)
    np.add.at(confusion, (y, predicted), 1)
    per_class_total = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(per_class_total > 0, np.diag(confusion) / per_class_total, np.nan)
    out = {"accuracy": correct / len(y), "loss": loss, "correct": correct, "total": int(len(y))}
    if width > 10:
        top5 = np.argpartition(-scores, 5, axis=1)[:, :5]
        out["top5_accuracy"] = float(np.mean(np.any(top5 == y[:, None], axis=1)))
    return {**out, "per_class_accuracy": per_class, "confusion": confusion, "predicted": predicted}


def _sigmoid_probability(scores: np.ndarray, probabilities: bool) -> np.ndarray:
    x = scores[:, 0].astype(np.float64)
    return np.clip(x, 0.0, 1.0) if probabilities else 1.0 / (1.0 + np.exp(-x))


def roc_auc(probability: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (the Mann-Whitney U over the ranks, ties averaged); NaN with one class."""
    y = labels.astype(bool)
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    _values, inverse, counts = np.unique(probability, return_inverse=True, return_counts=True)
    starts = np.cumsum(counts) - counts
    ranks = (starts + (counts + 1) / 2.0)[inverse]  # average 1-based rank of each value
    return float((ranks[y].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def binary(scores: np.ndarray, labels: np.ndarray, probabilities: bool) -> dict:
    y = np.asarray(labels).reshape(-1).astype(np.int64)
    p = _sigmoid_probability(scores, probabilities)
    predicted = (p > 0.5).astype(np.int64)
    eps = 1e-7
    loss = float(-np.mean(y * np.log(np.clip(p, eps, 1)) + (1 - y) * np.log(np.clip(1 - p, eps, 1))))
    correct = int(np.sum(predicted == y))
    confusion = np.zeros((2, 2), np.int64)
    np.add.at(confusion, (y, predicted), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(confusion.sum(axis=1) > 0, np.diag(confusion) / confusion.sum(axis=1), np.nan)
    return {
        "accuracy": correct / len(y),
        "roc_auc": roc_auc(p, y),
        "loss": loss,
        "correct": correct,
        "total": int(len(y)),
        "per_class_accuracy": per_class,
        "confusion": confusion,
        "predicted": predicted,
    }


def regression(outputs: np.ndarray, labels: np.ndarray) -> dict:
    y = np.asarray(labels, np.float64).reshape(outputs.shape)
    error = outputs.astype(np.float64) - y
    mse = float(np.mean(error**2))
    variance = float(np.mean((y - y.mean(axis=0)) ** 2))
    return {
        "mse": mse,
        "mae": float(np.mean(np.abs(error))),
        "r2": 1.0 - mse / variance if variance > 0 else float("nan"),
        "loss": mse,
        "total": int(len(y)),
    }


def agreement(outputs: np.ndarray, reference: np.ndarray, probabilities: bool, class_scores: bool = True) -> dict:
    """How close ``outputs`` are to the unpruned model's ``reference`` outputs on the same samples:
    top-1 agreement (and mean KL for probabilities) for class scores, output RMSE and R² always."""
    outputs, reference = outputs.astype(np.float64), reference.astype(np.float64)
    difference = outputs - reference
    mse = float(np.mean(difference**2))
    variance = float(np.mean((reference - reference.mean(axis=0)) ** 2))
    out = {"rmse": float(np.sqrt(mse)), "output_r2": 1.0 - mse / variance if variance > 0 else float(mse == 0.0)}
    width = outputs.shape[1]
    if not class_scores:
        pass
    elif width > 1:
        predicted, wanted = np.argmax(outputs, axis=1), np.argmax(reference, axis=1)
        out["top1_agreement"] = float(np.mean(predicted == wanted))
        out["predicted"], out["reference"] = predicted, wanted
        if probabilities:
            p = np.clip(reference, 1e-7, 1.0)
            q = np.clip(outputs, 1e-7, 1.0)
            p, q = p / p.sum(axis=1, keepdims=True), q / q.sum(axis=1, keepdims=True)
            out["mean_kl"] = float(np.mean(np.sum(p * (np.log(p) - np.log(q)), axis=1)))
    elif probabilities:
        predicted, wanted = (outputs[:, 0] > 0.5).astype(np.int64), (reference[:, 0] > 0.5).astype(np.int64)
        out["top1_agreement"] = float(np.mean(predicted == wanted))
        out["predicted"], out["reference"] = predicted, wanted
    out["loss"] = mse
    out["total"] = int(len(outputs))
    return out


def score_metric(task: str, metrics: dict) -> str:
    """Which of a task's metrics is its score: ``accuracy``, ``r2``, ``top1_agreement`` (agreement on
    class scores), ``output_r2`` (agreement of other outputs) or ``mean_score`` (over a multi-output
    model's heads), the name sweeps, charts and CSV columns give it."""
    if task in ("classification", "binary"):
        return "accuracy"
    if task == "regression":
        return "r2"
    if task == "multi-output":
        return "mean_score"
    return "top1_agreement" if "top1_agreement" in metrics else "output_r2"


def score(task: str, metrics: dict) -> float:
    """The task's one higher-is-better number (1.0 perfect): the metric ``score_metric`` names."""
    return float(metrics.get(score_metric(task, metrics), float("nan")))


def head_metrics(head: Head, outputs: np.ndarray, labels, reference: np.ndarray | None) -> dict:
    if head.task == "classification":
        return classification(outputs, labels, head.probabilities)
    if head.task == "binary":
        return binary(outputs, labels, head.probabilities)
    if head.task == "regression":
        return regression(outputs, labels)
    return agreement(outputs, reference, head.probabilities, head.class_scores)


def public(metrics: dict) -> dict:
    """The JSON-ready numbers of a head's metrics (arrays and per-sample predictions left out)."""
    out = {}
    for key, value in metrics.items():
        if isinstance(value, np.ndarray):
            continue
        if isinstance(value, int | np.integer):
            out[key] = int(value)
        else:
            out[key] = None if np.isnan(value) else round(float(value), 6)
    return out
