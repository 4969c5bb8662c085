"""prune-viz budget and --layer-k, run as the user runs them, on real MNIST."""

from __future__ import annotations

import json

import pytest

from cli_helpers import assert_one_line_error, csv_rows, run

pytestmark = pytest.mark.slow


def test_budget_json_reaches_the_target_and_its_accuracy_is_what_evaluate_measures(
    trained_mlp_path, capsys, mnist_dir, tmp_path
):
    data = ["--data", mnist_dir, "--preprocess", "scale"]
    code, out, err = run(
        capsys,
        "budget",
        trained_mlp_path,
        "--target",
        "0.9",
        "--scan-ks",
        "0",
        "50",
        "80",
        "90",
        "95",
        "99",
        *data,
        "--json",
    )
    assert code == 0, err
    found = json.loads(out)
    assert set(found) >= {"layer_k", "sparsity", "accuracy", "uniform_accuracy", "chosen", "why"}
    # chosen on MNIST's training subset, reported on its test set
    assert found["chosen_on"] == "the MNIST 5,000-image training subset"
    assert found["reported_on"] == "the test set (10,000 samples)"
    assert found["chosen"] in ("allocated", "blend", "uniform") and found["why"].endswith(".")
    if found["chosen"] == "uniform":
        assert found["accuracy"] == found["uniform_accuracy"] and set(found["layer_k"].values()) == {90.0}
    else:  # what is offered beat one k where it was chosen
        assert found["choice_accuracy"] > found["choice_uniform_accuracy"]
    assert abs(found["sparsity"] - 0.9) < 0.005
    layer_k = found["layer_k"]
    assert isinstance(layer_k, dict) and layer_k
    options = [f"--layer-k={name}={k}" for name, k in layer_k.items()]
    code, out, err = run(capsys, "evaluate", trained_mlp_path, "--k", "90", *options, *data, "--json")
    assert code == 0, err
    evaluated = json.loads(out)
    assert evaluated["accuracy"] == pytest.approx(found["accuracy"])
    assert evaluated["layer_k"] == pytest.approx(layer_k)
    code, out, _ = run(capsys, "evaluate", trained_mlp_path, "--k", "90", *data, "--json")
    assert json.loads(out)["accuracy"] == pytest.approx(found["uniform_accuracy"])


def test_budget_at_several_targets_writes_csv_and_plot(trained_mlp_path, capsys, mnist_dir, tmp_path):
    out_csv, out_png = tmp_path / "b.csv", tmp_path / "b.png"
    code, out, err = run(
        capsys,
        "budget",
        trained_mlp_path,
        "--target",
        "50%",
        "0.8",
        "--scan-ks",
        "50",
        "80",
        "95",
        "--data",
        mnist_dir,
        "--csv",
        out_csv,
        "--plot",
        out_png,
    )
    assert code == 0, err
    rows = csv_rows(out_csv)
    assert [float(r["target"]) for r in rows] == [0.5, 0.8]
    assert all(abs(float(r["allocated_sparsity"]) - float(r["target"])) < 0.005 for r in rows)
    assert json.loads(rows[0]["layer_k"])
    assert {r["chosen_on"] for r in rows} == {"the MNIST 5,000-image training subset"}
    assert out_png.stat().st_size > 10_000
    assert "uniform" in out and "allocated" in out


def test_layer_k_prunes_exactly_that_layer_at_its_k(trained_mlp_path, capsys):
    code, out, err = run(capsys, "evaluate", trained_mlp_path, "--k", "20", "--layer-k", "hidden2=75", "--json")
    assert code == 0, err
    per_layer = json.loads(out)["sparsity_per_layer"]
    assert per_layer["hidden2"] == pytest.approx(0.75, abs=0.001)
    assert per_layer["hidden1"] == pytest.approx(0.2, abs=0.001)


def test_bad_layer_k_is_one_line(trained_mlp_path, capsys):
    code, _, err = run(capsys, "evaluate", trained_mlp_path, "--layer-k", "nope=50")
    assert_one_line_error(code, err, "nope", "no prunable layer")
    code, _, err = run(capsys, "evaluate", trained_mlp_path, "--layer-k", "hidden1=150")
    assert_one_line_error(code, err, "--layer-k")
    code, _, err = run(capsys, "budget", trained_mlp_path, "--target", "150")
    assert_one_line_error(code, err, "--target")
