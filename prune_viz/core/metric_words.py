"""An evaluation's metrics in words, the same in the terminal and the window: one line per metric
(under each output's name for a multi-output model), the unpruned value beside each, the headline
number, and the input scaling with the evidence for it."""

from __future__ import annotations

import math
from dataclasses import dataclass

LABELS = {
    "accuracy": "Accuracy",
    "top5_accuracy": "Top-5",
    "roc_auc": "ROC AUC",
    "loss": "Loss",
    "mse": "MSE",
    "mae": "MAE",
    "r2": "R²",
    "top1_agreement": "Top-1 agree",
    "mean_kl": "Mean KL",
    "rmse": "Output RMSE",
    "output_r2": "Output R²",
}
PERCENT = {"accuracy", "top5_accuracy", "top1_agreement"}


def metric_text(name: str, value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value * 100:.2f}%" if name in PERCENT else f"{value:.4f}"


def metric_lines(result, baseline, indent: str = "  ", width: int = 14) -> list[str]:
    """The result's metrics, one per line (under each output's name for a multi-output model), with the
    unpruned value beside each when ``baseline`` (an EvaluationRecord) is given; then per-class accuracy
    with class names."""
    multi = result.task == "multi-output"
    heads = result.metrics if multi else {"": result.metrics}
    before = baseline.result.metrics if baseline else {}
    lines = []
    for head, metrics in heads.items():
        old = before.get(head, {}) if multi else before
        if multi:
            lines.append(f"Output {head}:")
        for name, label in LABELS.items():
            if name not in metrics or (name == "loss" and "accuracy" not in metrics):
                continue  # a regression's or agreement's loss is its MSE, said as such
            pad = width - 2 if multi else width
            text = f"{indent if multi else ''}{label + ':':<{pad}}{metric_text(name, metrics[name])}"
            if name == "accuracy" and "correct" in metrics:
                text += f"  ({int(metrics['correct']):,}/{int(metrics['total']):,})"
            if old.get(name) is not None and metrics[name] is not None:
                change = (metrics[name] - old[name]) * (100 if name in PERCENT else 1)
                unit = " points" if name in PERCENT else ""
                text += f"  (unpruned {metric_text(name, old[name])}, change {change:+.2f}{unit})"
            lines.append(text)
    if len(result.per_class_accuracy) and result.task == "classification":
        names = result.class_names or tuple(str(i) for i in range(len(result.per_class_accuracy)))
        shown = [f"{names[i] if i < len(names) else i}:{a * 100:.1f}" for i, a in enumerate(result.per_class_accuracy)]
        lines.append(f"{'Per class:':<{width}}" + "  ".join(shown))
    return lines


def headline(result) -> str:
    """The one number to show large: the task's score, as a percentage where it is a share of samples
    (accuracy, top-1 agreement), else as R² (regression, agreement of outputs that are not classes)."""
    if math.isnan(result.score):
        return "-"
    metrics = result.metrics
    share = result.task in ("classification", "binary") or (result.task == "agreement" and "top1_agreement" in metrics)
    if share:
        return f"{result.score * 100:.2f}%"
    if result.task == "multi-output":
        return f"{result.score:.3f} mean score"
    name = "R²" if result.task == "regression" else "output R²"
    return f"{name} {result.score:.3f}"


def _percent(value) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


# the score's name on an axis or a column, and whether it is a share of samples (shown as a percentage)
SCORE_AXES = {
    "accuracy": ("Accuracy", True),
    "r2": ("R²", False),
    "top1_agreement": ("Top-1 agreement", True),
    "output_r2": ("Output R² vs unpruned", False),
    "mean_score": ("Mean score over outputs", False),
}
LOSS_NAMES = {  # the loss a task's results carry, and which way is better where it is not a cross-entropy
    "classification": "Loss (cross-entropy)",
    "binary": "Loss (cross-entropy)",
    "regression": "MSE (lower is better)",
    "agreement": "Output MSE vs unpruned (lower is better)",
    "multi-output": "Summed loss over outputs (lower is better)",
}
CHANCE_TASKS = ("classification", "binary")  # where guessing has a level worth drawing


@dataclass(frozen=True)
class ScoreScale:
    """How a task's score is shown on an axis, in a table and a CSV column, the same in every chart
    (the window's and ``prune-viz sweep --plot``): the metric it is (``core.metrics.score_metric``),
    its name, whether it is a percentage, the loss beside it, and the chance level when there is one."""

    task: str
    metric: str  # accuracy, r2, top1_agreement, output_r2, mean_score: the CSV column's name
    name: str  # "Accuracy", "R²" ...
    percent: bool
    loss_name: str
    chance: float | None = None  # the score of guessing (1 / number of classes), as a fraction; None: none

    @property
    def axis(self) -> str:
        """'Accuracy %', 'R²', 'Top-1 agreement %' ..."""
        return f"{self.name} %" if self.percent else self.name

    def shown(self, value: float) -> float:
        """``value`` (a fraction) in the axis's units."""
        return value * 100.0 if self.percent else value

    def text(self, value: float) -> str:
        if value is None or math.isnan(value):
            return "-"
        return f"{value * 100:.2f}%" if self.percent else f"{value:.4f}"

    def column(self, value: float) -> str:
        """A table cell: 97.50 for a percentage column, 0.9120 otherwise."""
        if value is None or math.isnan(value):
            return "-"
        return f"{value * 100:.2f}" if self.percent else f"{value:.4f}"

    @property
    def loss_column(self) -> str:
        """The loss's short name for a table column: 'loss' for a cross-entropy, 'MSE (lower is better)' ..."""
        return (
            "loss"
            if self.loss_name.startswith("Loss (cross")
            else self.loss_name.replace("Output MSE vs unpruned", "output MSE")
        )

    @property
    def chance_text(self) -> str:
        return f"chance {self.shown(self.chance):.3g}%" if self.chance is not None else ""


def score_scale(task: str, metric: str, classes: int | None = None) -> ScoreScale:
    """The scale of ``metric`` (``core.metrics.score_metric``) for ``task``; ``classes``: how many
    classes the data has, for the chance line of a classifier (none for regression or agreement)."""
    name, percent = SCORE_AXES.get(metric, (metric, False))
    chance = 1.0 / classes if task in CHANCE_TASKS and classes and classes > 1 else None
    return ScoreScale(task, metric, name, percent, LOSS_NAMES.get(task, "Loss"), chance)


def result_scale(result, classes: int | None = None) -> ScoreScale:
    """The scale of an EvaluationResult's score; ``classes`` defaults to the number the result's class
    names or per-class accuracies give."""
    from prune_viz.core.metrics import score_metric

    if classes is None:
        classes = len(result.class_names or ()) or len(result.per_class_accuracy) or None
    return score_scale(result.task, score_metric(result.task, result.metrics), classes)


def describe_scaling(preprocessing: str, evidence: dict, requested: str = "auto") -> str:
    """The input scaling used and why, in one line: 'scaled to [0, 1] (x/255), chosen automatically:
    highest accuracy (ties, within chance of the best: lowest loss) on the first 1,000 test samples
    (scale 91.2% loss 0.31; raw 90.4% loss 2.4; ...)'."""
    from prune_viz.core.inputs import PREPROCESSING_LABELS

    text = PREPROCESSING_LABELS.get(preprocessing, preprocessing)
    if preprocessing == "none" and "reason" in evidence:
        return evidence["reason"]  # e.g. "table.csv is not images, so it is fed as it is": the label again adds nothing
    if requested != "auto" or not evidence or (preprocessing == "none" and "reason" not in evidence):
        return text
    if "reason" in evidence:
        return f"{text} ({evidence['reason']})"
    values = evidence.get("loss") or evidence.get("entropy") or {}
    accuracies = evidence.get("accuracy") or {}
    if accuracies:  # 'scale 91.2% loss 0.31; raw 90.0% loss 2.4'
        shown = "; ".join(
            f"{m} {_percent(accuracies.get(m))} loss {'-' if v is None else f'{v:.3g}'}" for m, v in values.items()
        )
    else:
        shown = ", ".join(f"{m} {v:.3g}" if v is not None else f"{m} -" for m, v in values.items())
    return f"{text}, chosen automatically: {evidence['chosen_by']} ({shown})"
