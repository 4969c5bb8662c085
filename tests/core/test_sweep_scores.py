"""A sweep follows the task's score (issue 27 item 4): each point says which metric its score is and how
many classes the data has, the score's scale names the axis and draws chance only for a classifier,
and the CSV names the score's column after its metric. Real sweeps on the models and data of
tests/own_data.py and on the trained MLP with real MNIST."""

from __future__ import annotations

import math

import pytest

from prune_viz.core.metric_words import describe_scaling, result_scale, score_scale
from prune_viz.core.metrics import score, score_metric
from prune_viz.core.session import Session, open_model
from prune_viz.core.sweep import csv_table, run_sweep, summarise, summary_csv_table


def _sweep(model, data, ks=(0, 90)):
    session = Session(data_path=str(data))
    session.set_model(open_model(model))
    return session, run_sweep(session, ("weight",), ks)


def test_each_task_names_the_metric_its_score_is():
    assert score_metric("classification", {"accuracy": 0.9}) == "accuracy"
    assert score_metric("binary", {"accuracy": 0.9, "roc_auc": 0.95}) == "accuracy"
    assert score_metric("regression", {"r2": 0.8, "mse": 0.1}) == "r2"
    assert score_metric("agreement", {"top1_agreement": 0.7, "output_r2": 0.2}) == "top1_agreement"
    assert score_metric("agreement", {"output_r2": 0.2, "rmse": 0.3}) == "output_r2"  # outputs that are not classes
    assert score_metric("multi-output", {"kind": {}, "amount": {}}) == "mean_score"
    assert score("agreement", {"output_r2": 0.25}) == 0.25 and score("regression", {"r2": 0.5}) == 0.5


def test_the_scale_names_the_axis_and_draws_chance_only_for_a_classifier():
    accuracy = score_scale("classification", "accuracy", 3)
    assert (accuracy.axis, accuracy.chance, accuracy.chance_text) == ("Accuracy %", 1 / 3, "chance 33.3%")
    assert accuracy.shown(0.5) == 50.0 and accuracy.loss_column == "loss"
    assert score_scale("binary", "accuracy", 2).chance == 0.5
    r2 = score_scale("regression", "r2", None)
    assert (r2.axis, r2.percent, r2.chance, r2.loss_column) == ("R²", False, None, "MSE (lower is better)")
    assert r2.shown(0.5) == 0.5 and r2.text(0.91234) == "0.9123"
    agreement = score_scale("agreement", "top1_agreement", 10)  # ten classes, but no labels: no chance
    assert (agreement.axis, agreement.chance) == ("Top-1 agreement %", None)
    assert score_scale("agreement", "output_r2").axis == "Output R² vs unpruned"


def test_a_regression_sweep_carries_r2_and_its_csv_column_is_r2(own_data):
    _session, points = _sweep(own_data / "regression.keras", own_data / "regression.npz")
    assert [(p.task, p.score_metric) for p in points] == [("regression", "r2")] * 2
    assert all(math.isnan(p.accuracy) for p in points) and points[0].score > 0.8
    fields, rows = csv_table(points)
    assert "r2" in fields and "accuracy" not in fields and "score" not in fields
    assert fields.index("r2") == 10  # where accuracy stands for a classifier
    assert [row["r2"] for row in rows] == [p.score for p in points]
    fields, rows = summary_csv_table(summarise(points))
    assert {"r2_mean", "r2_std"} <= set(fields) and "accuracy_mean" not in fields
    assert rows[0]["r2_mean"] == points[0].score


def test_an_unlabelled_sweep_carries_top1_agreement(own_data):
    _session, points = _sweep(own_data / "colours.keras", own_data / "colours-unlabelled.npz")
    assert [p.score_metric for p in points] == ["top1_agreement"] * 2 and points[0].score == 1.0
    fields, rows = csv_table(points)
    assert "top1_agreement" in fields and rows[0]["top1_agreement"] == 1.0


def test_a_classifier_keeps_its_accuracy_column_and_knows_its_classes(own_data, trained_mlp_path, mnist_dir):
    session, points = _sweep(own_data / "colours.keras", own_data / "colours.npz")
    assert [(p.score_metric, p.classes) for p in points] == [("accuracy", 3)] * 2
    assert points[0].score == points[0].accuracy > 0.9
    record, _ = session.evaluate()
    assert result_scale(record.result).chance == pytest.approx(1 / 3)
    _session, points = _sweep(trained_mlp_path, mnist_dir, ks=(0,))
    fields, rows = csv_table(points)
    assert points[0].classes == 10 and "accuracy" in fields and rows[0]["accuracy"] == points[0].accuracy


def test_the_input_line_says_a_non_image_reason_once():
    evidence = {"reason": "table.csv is not images, so it is fed as it is"}
    assert describe_scaling("none", evidence) == "table.csv is not images, so it is fed as it is"
    reason = "no labels and no class scores to judge by: the most common scaling"
    assert describe_scaling("scale", {"reason": reason}) == f"scaled to [0, 1] (x/255) ({reason})"  # images: both
