"""Evaluation on the user's own data (issue 27): the metric that fits each model, mismatches said in
one sentence or as a warning, and the features that follow the chosen data (Session, sweeps, flips,
compare, Taylor scores, fine-tuning)."""

from __future__ import annotations

import numpy as np
import pytest

from prune_viz.core import evaluation
from prune_viz.core.compare import compare
from prune_viz.core.data import load_data
from prune_viz.core.evaluation import Evaluator
from prune_viz.core.finetune import finetune
from prune_viz.core.flips import run_flip_scan
from prune_viz.core.inputs import EvaluationUnavailable
from prune_viz.core.pruning import PruningConfig
from prune_viz.core.session import Session, open_model
from prune_viz.core.sweep import run_sweep


def _session(model, data, k: float = 0.0) -> Session:
    session = Session(data_path=str(data))
    session.set_model(open_model(model))
    session.configure(k=k)
    return session


@pytest.mark.parametrize("source", ["colours.npz", "colours-png", "colours-jpeg"])
def test_a_colour_classifier_on_its_data_in_each_format(own_data, source):
    session = _session(own_data / "colours.keras", own_data / source)
    record, baseline = session.evaluate()
    result = record.result
    assert result.task == "classification" and result.class_names == ("blue", "green", "red")
    assert result.accuracy >= 0.95 and result.score == result.accuracy and result.warnings == []
    assert result.confusion.shape == (3, 3) and result.confusion.sum() == 90
    assert result.scaling_evidence["chosen_by"].startswith("highest accuracy (ties")
    tried = {"scale", "raw", "l2", "signed", "standard", "image_standard", "caffe"}
    assert set(result.scaling_evidence["loss"]) == set(result.scaling_evidence["accuracy"]) == tried
    assert "Keras" not in record.data_description and record.data_description.startswith(source)
    pruned, _ = session.evaluate(PruningConfig(k=95.0, included=session.config.included))
    assert pruned.result.accuracy < result.accuracy  # pruning on this data changes the number


def test_streaming_large_data_gives_the_same_numbers(own_data, monkeypatch):
    opened = open_model(own_data / "colours.keras")
    data = load_data(own_data / "colours.npz", fit=opened.data_fit)
    whole = Evaluator(opened.loaded, data, "scale", batch_size=32)
    monkeypatch.setattr(evaluation, "MEMORY_BUDGET", 1)  # nothing fits twice: batches are scaled one by one
    streamed = Evaluator(opened.loaded, data, "scale", batch_size=32)
    assert streamed.streaming and not whole.streaming and streamed._input_batches is None
    assert streamed.run().metrics == whole.run().metrics


def test_tokens_are_cut_to_the_models_length(own_data):
    record, _ = _session(own_data / "tokens.keras", own_data / "tokens.npz").evaluate()
    assert record.result.task == "classification" and record.result.accuracy >= 0.9
    assert record.result.preprocessing == "none"


def test_binary_regression_and_two_heads(own_data):
    binary = _session(own_data / "table.keras", own_data / "table.csv").evaluate()[0].result
    assert binary.task == "binary" and binary.accuracy >= 0.9 and binary.metrics["roc_auc"] >= 0.95
    regression = _session(own_data / "regression.keras", own_data / "regression.npz").evaluate()[0].result
    assert regression.task == "regression" and np.isnan(regression.accuracy)
    assert regression.metrics["r2"] > 0.8 and regression.score == pytest.approx(regression.metrics["r2"], abs=1e-6)
    assert set(regression.metrics) >= {"mse", "mae", "r2"}
    heads = _session(own_data / "two_heads.keras", own_data / "two_heads.npz").evaluate()[0].result
    assert heads.task == "multi-output" and set(heads.metrics) == {"kind", "amount"}
    assert "accuracy" in heads.metrics["kind"] and "r2" in heads.metrics["amount"]


def test_without_labels_agreement_with_the_unpruned_model(own_data):
    session = _session(own_data / "colours.keras", own_data / "colours-unlabelled.npz")
    unpruned, _ = session.evaluate()
    assert unpruned.result.task == "agreement" and unpruned.result.agreement["top1_agreement"] == 1.0
    assert unpruned.result.agreement["mean_kl"] == pytest.approx(0, abs=1e-6)
    pruned, _ = session.evaluate(PruningConfig(k=90.0, included=session.config.included))
    assert pruned.result.agreement["top1_agreement"] < 1.0 and pruned.result.agreement["mean_kl"] > 0
    generator = _session(own_data / "generator.keras", own_data / "latent.npz")
    pruned, baseline = generator.evaluate(PruningConfig(k=60.0, included=generator.config.included))
    assert baseline.result.metrics["rmse"] == 0 and pruned.result.metrics["rmse"] > 0
    assert "top1_agreement" not in pruned.result.metrics  # an 8x8 image is not class scores
    assert (
        pruned.result.score == pytest.approx(pruned.result.metrics["output_r2"], abs=1e-6) and pruned.result.score < 1
    )


def test_mismatches_are_one_sentence(own_data, tmp_path):
    session = _session(own_data / "colours.keras", own_data / "table.csv")
    with pytest.raises(EvaluationUnavailable) as raised:
        session.evaluate()
    assert str(raised.value) == (
        "This model takes 32x32x3 colour images; table.csv's are rows of 4 numbers, so it cannot be "
        "evaluated on them. Pruning and inspecting its weights still work."
    )
    assert session.evaluation_problem == str(raised.value)  # known once the data was read
    x = load_data(own_data / "colours.npz").x
    np.savez(tmp_path / "five.npz", x=x, y=np.arange(90) % 5)
    session = _session(own_data / "colours.keras", tmp_path / "five.npz")
    with pytest.raises(EvaluationUnavailable, match="has 3 outputs but five.npz has 5 classes"):
        session.evaluate()


def test_data_that_feeds_but_looks_wrong_is_a_warning(own_data, tmp_path):
    data = load_data(own_data / "colours.npz")
    np.savez(tmp_path / "shuffled.npz", x_test=data.x, y_test=(data.y + 1) % 3)  # every label wrong
    result = _session(own_data / "colours.keras", tmp_path / "shuffled.npz").evaluate()[0].result
    assert len(result.warnings) == 1 and "near chance" in result.warnings[0] and "shuffled.npz" in result.warnings[0]


def test_sweeps_flips_and_compare_follow_the_data(own_data):
    session = _session(own_data / "colours.keras", own_data / "colours-png")
    points = run_sweep(session, ("weight",), (0, 90))
    assert [p.data for p in points] == ["colours-png/"] * 2 and points[0].score >= 0.95
    scan = run_flip_scan(session, ks=(0.0, 50.0, 95.0))
    assert scan.class_names == ("blue", "green", "red") and scan.predicted.shape == (3, 90)
    assert scan.per_digit_accuracy().shape == (3, 3) and scan.confusion(0).shape == (3, 3)
    unlabelled = _session(own_data / "colours.keras", own_data / "colours-unlabelled.npz")
    scan = run_flip_scan(unlabelled, ks=(0.0, 95.0))
    assert scan.against == "unpruned" and scan.accuracy()[0] == 1.0
    opened = session.model
    data = session.data
    config = PruningConfig(k=50.0, included=opened.default_included)
    both = compare(opened, config, opened, config.with_k(90.0), data)
    assert both.as_dict()["data"].startswith("colours-png/") and both.images.shape == (90, 32, 32, 3)


def test_taylor_and_fine_tuning_use_the_training_split(own_data):
    session = _session(own_data / "colours.keras", own_data / "colours.npz")
    taylor = session.taylor()
    assert taylor.images == 300 and "colours.npz" in taylor.source
    opened = session.model
    config = PruningConfig(k=70.0, included=opened.default_included)
    tuned = finetune(opened, config, session.load_data(need_training=True), epochs=1, preprocessing="scale")
    assert tuned.fit.train_images == 270 and tuned.metadata["fine_tune"]["data"].startswith("colours.npz")
    jpeg = _session(own_data / "colours.keras", own_data / "colours-jpeg")  # no train/ folder
    with pytest.raises(Exception, match="has only a test set"):
        jpeg.taylor()
