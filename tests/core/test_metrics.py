"""The metric that fits the model (issue 27): each task's numbers against a direct computation."""

from __future__ import annotations

import numpy as np
import pytest

from prune_viz.core.metrics import (
    LabelMismatch,
    agreement,
    binary,
    classification,
    head_task,
    public,
    regression,
    roc_auc,
    score,
)


def test_the_task_is_read_from_the_outputs_and_the_labels():
    softmax = np.full((4, 3), 1 / 3)
    assert head_task("out", softmax, np.array([0, 1, 2, 0]), "d").task == "classification"
    assert head_task("out", softmax, np.eye(3)[[0, 1, 2, 0]], "d").task == "classification"  # one-hot
    assert head_task("out", softmax, None, "d").task == "agreement"
    sigmoid = np.array([[0.2], [0.9], [0.4], [0.7]])
    assert head_task("out", sigmoid, np.array([0, 1, 0, 1]), "d").task == "binary"
    assert head_task("out", sigmoid, np.array([0.5, 2.5, -1.0, 3.0]), "d").task == "regression"
    assert head_task("out", np.zeros((4, 2)), np.zeros((4, 2)) + 0.3, "d").task == "regression"
    image = head_task("out", np.random.default_rng(0).random((4, 64)), None, "d", class_scores=False)
    assert image.task == "agreement" and not image.class_scores
    with pytest.raises(LabelMismatch, match="labels are 5 per sample"):
        head_task("out", softmax, np.zeros((4, 5)), "d")


def test_classification_top5_only_past_ten_classes():
    rng = np.random.default_rng(1)
    scores, labels = rng.normal(size=(200, 12)), rng.integers(0, 12, 200)
    found = classification(scores, labels, probabilities=False)
    top5 = np.argsort(-scores, axis=1)[:, :5]
    assert found["top5_accuracy"] == pytest.approx(np.mean([labels[i] in top5[i] for i in range(200)]))
    assert found["accuracy"] == pytest.approx(np.mean(scores.argmax(axis=1) == labels))
    assert found["confusion"].shape == (12, 12) and found["confusion"].sum() == 200
    assert "top5_accuracy" not in classification(scores[:, :10], labels % 10, probabilities=False)


def test_roc_auc_is_the_share_of_ordered_pairs():
    rng = np.random.default_rng(2)
    p = np.round(rng.random(300), 2)  # ties count a half
    y = (rng.random(300) < p).astype(int)
    pos, neg = p[y == 1], p[y == 0]
    pairs = (pos[:, None] > neg[None, :]).mean() + 0.5 * (pos[:, None] == neg[None, :]).mean()
    assert roc_auc(p, y) == pytest.approx(pairs)
    found = binary(p[:, None], y, probabilities=True)
    assert found["accuracy"] == pytest.approx(np.mean((p > 0.5) == y)) and found["roc_auc"] == pytest.approx(pairs)
    logits = np.log(np.clip(p, 1e-6, 1 - 1e-6) / np.clip(1 - p, 1e-6, 1))
    assert binary(logits[:, None], y, probabilities=False)["roc_auc"] == pytest.approx(pairs)


def test_regression_and_agreement():
    rng = np.random.default_rng(3)
    y = rng.normal(size=(100, 1))
    out = y + 0.1 * rng.normal(size=(100, 1))
    found = regression(out, y[:, 0])
    assert found["mse"] == pytest.approx(np.mean((out - y) ** 2))
    assert found["r2"] == pytest.approx(1 - found["mse"] / np.var(y))
    assert score("regression", found) == found["r2"]
    reference = rng.dirichlet(np.ones(4), 50)
    same = agreement(reference, reference, probabilities=True)
    assert same["top1_agreement"] == 1.0 and same["mean_kl"] == pytest.approx(0, abs=1e-9) and same["rmse"] == 0
    other = agreement(reference[::-1], reference, probabilities=True)
    assert other["top1_agreement"] < 1 and other["mean_kl"] > 0
    images = agreement(rng.normal(size=(20, 64)), rng.normal(size=(20, 64)), False, class_scores=False)
    assert "top1_agreement" not in images and score("agreement", images) == images["output_r2"]
    assert public({"correct": np.int64(3), "r2": np.nan, "x": np.zeros(2)}) == {"correct": 3, "r2": None}
