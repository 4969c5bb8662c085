"""Provenance and the full picture: derived models say where they came from, inspect lists every layer,
evaluate --json carries the confusion matrix."""

from __future__ import annotations

import hashlib
import json

import numpy as np

from cli_helpers import run


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_export_records_its_source_and_pruning_and_inspect_shows_them(trained_mlp_path, capsys, tmp_path):
    out_path = tmp_path / "unit50.keras"
    code, _, err = run(
        capsys,
        "export",
        trained_mlp_path,
        "--method",
        "unit",
        "--k",
        "50",
        "--scope",
        "global",
        "--out",
        out_path,
        "--no-report",
    )
    assert code == 0, err
    code, out, _ = run(capsys, "inspect", out_path, "--json")
    assert code == 0
    info = json.loads(out)
    derived = info["metadata"]["derived_from"]
    assert derived == {
        "source_model": "mlp.keras",
        "source_model_sha256": sha256(trained_mlp_path),
        "criterion": "magnitude",
        "method": "unit",
        "k": 50.0,
        "scope": "global",
        "unit_mode": "kernel",
        "included_layers": ["hidden1", "hidden2"],
    }
    code, out, _ = run(capsys, "inspect", out_path)
    assert (
        f"Derived from: mlp.keras (sha256 {sha256(trained_mlp_path)[:12]}\u2026), unit pruning, k=50%, "
        "global scope, magnitude criterion, unit mode kernel\n"
    ) in out
    code, out, _ = run(capsys, "inspect", trained_mlp_path)
    assert "Derived from" not in out  # trained, not derived


def test_finetune_records_epochs_and_learning_rate(trained_mlp_path, capsys, mnist_dir, tmp_path):
    out_path = tmp_path / "tuned.keras"
    code, _, err = run(
        capsys,
        "finetune",
        trained_mlp_path,
        "--method",
        "weight",
        "--k",
        "70",
        "--epochs",
        "1",
        "--learning-rate",
        "0.0003",
        "--data",
        mnist_dir,
        "--out",
        out_path,
    )
    assert code == 0, err
    code, out, _ = run(capsys, "inspect", out_path, "--json")
    derived = json.loads(out)["metadata"]["derived_from"]
    assert derived["source_model_sha256"] == sha256(trained_mlp_path)
    assert (derived["method"], derived["k"], derived["scope"], derived["criterion"]) == (
        "weight",
        70.0,
        "layer",
        "magnitude",
    )
    assert (derived["fine_tuned"], derived["epochs"], derived["learning_rate"]) == (True, 1, 0.0003)
    code, out, _ = run(capsys, "inspect", out_path)
    assert "weight pruning, k=70%, layerwise, magnitude criterion; fine-tuned 1 epoch at learning rate 0.0003" in out


def test_inspect_lists_every_layer_and_marks_the_prunable_ones(capsys, tmp_path):
    import keras

    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(8, 3, name="conv"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.Activation("relu", name="relu"),
            keras.layers.MaxPooling2D(name="pool"),
            keras.layers.Dropout(0.25, name="drop"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(10, name="output"),
        ]
    )
    path = tmp_path / "cnn.keras"
    model.save(path)
    code, out, _ = run(capsys, "inspect", path, "--json")
    assert code == 0
    rows = json.loads(out)["model_layers"]
    assert [(r["name"], r["kind"], r["prunable"]) for r in rows] == [
        ("conv", "Conv2D", True),
        ("bn", "BatchNormalization", False),
        ("relu", "Activation", False),
        ("pool", "MaxPooling2D", False),
        ("drop", "Dropout", False),
        ("flat", "Flatten", False),
        ("output", "Dense", True),
    ]
    assert [r["params"] for r in rows] == [80, 32, 0, 0, 0, 0, 13 * 13 * 8 * 10 + 10]
    assert rows[3]["output_shape"] == [13, 13, 8]
    code, out, _ = run(capsys, "inspect", path)
    section = out.split("all layers", 1)[1].split("\n\n", 1)[0]  # up to the prunable layers' table
    lines = {line.split()[0]: line for line in section.splitlines()[2:]}
    assert list(lines) == ["conv", "bn", "relu", "pool", "drop", "flat", "output"]
    assert "BatchNormalization" in lines["bn"] and lines["bn"].rstrip().endswith("-")
    assert "Dropout" in lines["drop"] and "MaxPooling2D" in lines["pool"] and "Activation" in lines["relu"]
    assert lines["conv"].rstrip().endswith("yes")


def test_evaluate_json_carries_the_confusion_matrix(trained_mlp_path, mnist_dir, capsys):
    code, out, _ = run(
        capsys, "evaluate", trained_mlp_path, "--method", "weight", "--k", "60", "--data", mnist_dir, "--json"
    )
    assert code == 0
    report = json.loads(out)
    confusion = np.array(report["confusion"])
    assert confusion.shape == (10, 10)
    assert confusion.sum() == report["total"] == 10_000
    assert np.trace(confusion) == report["correct"]
    per_class = np.diag(confusion) / confusion.sum(axis=1)
    assert np.allclose(per_class, report["per_class_accuracy"], atol=1e-6)
