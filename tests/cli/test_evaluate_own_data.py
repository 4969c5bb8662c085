"""``prune-viz evaluate/sweep/flips --data`` with every source of issue 27: a path of each format or a
Keras data set name (read from a fake Keras cache); --json gives task, metrics, warnings, data, and
agreement without labels."""

from __future__ import annotations

import json

import pytest

from cli_helpers import assert_one_line_error, run


def _evaluate(capsys, model, data, *more):
    code, out, err = run(capsys, "evaluate", model, "--data", data, "--json", *more)
    assert code == 0, err
    return json.loads(out)


@pytest.mark.parametrize("source", ["colours.npz", "colours-png", "colours-jpeg"])
def test_images_in_each_format(capsys, own_data, source):
    out = _evaluate(capsys, own_data / "colours.keras", own_data / source)
    assert out["task"] == "classification" and out["accuracy"] >= 0.95 and out["warnings"] == []
    assert out["metrics"]["accuracy"] == pytest.approx(out["accuracy"], abs=1e-6)
    assert out["class_names"] == ["blue", "green", "red"] and len(out["confusion"]) == 3
    assert out["data"]["test_samples"] == 90 and out["data"]["sample_shape"] == [32, 32, 3]
    assert out["data"]["source"] == str(own_data / source) and "agreement" not in out
    assert out["preprocessing_evidence"]["chosen_by"].startswith("highest accuracy (ties")


def test_tables_tokens_and_no_labels(capsys, own_data):
    table = _evaluate(capsys, own_data / "table.keras", own_data / "table.csv")
    assert table["task"] == "binary" and table["metrics"]["roc_auc"] > 0.95 and table["accuracy"] > 0.9
    tokens = _evaluate(capsys, own_data / "tokens.keras", own_data / "tokens.npz")
    assert tokens["task"] == "classification" and tokens["accuracy"] > 0.9 and tokens["data"]["kind"] == "tokens"
    regression = _evaluate(capsys, own_data / "regression.keras", own_data / "regression.npz")
    assert regression["task"] == "regression" and regression["accuracy"] is None and regression["metrics"]["r2"] > 0.8
    free = _evaluate(capsys, own_data / "colours.keras", own_data / "colours-unlabelled.npz", "--k", "90")
    assert free["task"] == "agreement" and free["agreement"]["top1_agreement"] < 1 and free["accuracy"] is None
    assert free["unpruned_metrics"]["top1_agreement"] == 1.0 and free["data"]["labels"] is False


def test_keras_data_sets_by_name(capsys, own_data, conv_bn_cnn_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(own_data / "keras_home"))
    cifar = _evaluate(capsys, own_data / "colours.keras", "cifar10")
    assert cifar["data"]["name"] == "CIFAR-10" and cifar["class_names"][0] == "airplane"
    imdb = _evaluate(capsys, own_data / "tokens.keras", "imdb")
    assert imdb["data"]["name"] == "IMDB reviews" and imdb["class_names"] == ["negative", "positive"]
    fashion = _evaluate(capsys, conv_bn_cnn_path, "fashion_mnist")  # an untrained 28x28x1 CNN: near chance
    assert fashion["class_names"][0] == "T-shirt/top" and any("near chance" in w for w in fashion["warnings"])
    code, out, err = run(capsys, "evaluate", own_data / "colours.keras", "--data", "fashion_mnist")
    assert_one_line_error(code, err, "This model takes 32x32x3 colour images; Fashion-MNIST's are 28x28 grey images")


def test_text_output_names_the_data_the_scaling_and_the_classes(capsys, own_data):
    code, out, _ = run(capsys, "evaluate", own_data / "colours.keras", "--data", own_data / "colours-png", "--k", "50")
    assert code == 0
    assert "Test data:    colours-png/: 90 test images (32x32x3), 3 classes (blue, green, red)" in out
    assert "resized from 40x40 to 32x32" in out and "chosen automatically: highest accuracy" in out
    assert "Per class:    blue:" in out and "(unpruned 100.00%" in out


def test_sweep_and_flips_read_the_same_data(capsys, own_data, tmp_path):
    code, out, err = run(
        capsys, "sweep", own_data / "colours.keras", "--data", own_data / "colours.npz", "--ks", "0", "90",
        "--methods", "weight", "--json", "--csv", tmp_path / "s.csv",
    )  # fmt: skip
    assert code == 0, err
    points = json.loads(out)["points"]
    assert [p["data"] for p in points] == ["colours.npz"] * 2 and points[0]["score"] >= 0.95
    code, out, err = run(capsys, "flips", own_data / "colours.keras", "--data", own_data / "colours-png", "--json")
    assert code == 0, err
    scan = json.loads(out)
    assert scan["class_names"] == ["blue", "green", "red"] and set(scan["per_digit_accuracy"]) == {"0", "1", "2"}


def test_a_regression_sweep_follows_its_score(capsys, own_data):
    argv = ["sweep", own_data / "regression.keras", "--data", own_data / "regression.npz", "--ks", "0", "90"]
    code, out, err = run(capsys, *argv, "--methods", "weight")
    assert code == 0, err
    header, first, last = out.splitlines()[2:5]
    assert header.split()[5] == "R²" and float(first.split()[3]) > float(last.split()[3])
