"""``prune-viz compare``, as a user runs it."""

from __future__ import annotations

import json

from cli_helpers import assert_one_line_error, run


def test_compare_json_accuracies_equal_evaluates(trained_mlp_path, mnist_dir, capsys):
    code, out, _ = run(
        capsys,
        "compare",
        trained_mlp_path,
        "--a",
        "magnitude:weight:90",
        "--b",
        "magnitude:unit:50:global",
        "--data",
        mnist_dir,
        "--json",
    )
    assert code == 0
    report = json.loads(out)
    assert report["kind"] == "settings"
    for side, (method, k, scope) in (("a", ("weight", "90", "layer")), ("b", ("unit", "50", "global"))):
        code, out, _ = run(
            capsys,
            "evaluate",
            trained_mlp_path,
            "--method",
            method,
            "--k",
            k,
            "--scope",
            scope,
            "--data",
            mnist_dir,
            "--json",
        )
        assert code == 0
        evaluated = json.loads(out)
        assert report[side]["accuracy"] == evaluated["accuracy"]
        assert report[side]["per_class_accuracy"] == evaluated["per_class_accuracy"]
        assert report[side]["sparsity_per_layer"] == evaluated["sparsity_per_layer"]
        assert report[side]["model"] == evaluated["model"]
        assert (report[side]["method"], report[side]["k"], report[side]["scope"]) == (method, float(k), scope)
    assert report["a"]["spec"] == "magnitude:weight:90" and report["b"]["spec"] == "magnitude:unit:50:global"
    assert set(report["overlap"]) == {"hidden1", "hidden2", "output"}
    assert report["overlap"]["output"] == 1.0 and 0 < report["overlap"]["hidden1"] < 1
    assert report["differing"] and all(0 <= i < 10_000 for i in report["differing"])


def test_compare_text_names_both_sides_and_the_layers(trained_mlp_path, mnist_dir, capsys):
    code, out, _ = run(
        capsys,
        "compare",
        trained_mlp_path,
        trained_mlp_path,
        "--a",
        "magnitude:weight:50",
        "--b",
        "magnitude:weight:50",
        "--data",
        mnist_dir,
    )
    assert code == 0
    assert "A: mlp.keras, weight pruning, k=50%" in out and "B: mlp.keras" in out
    assert "hidden1" in out and "1.0000" in out
    assert "0 of 10,000 test images are predicted differently." in out


def test_a_bad_spec_is_one_line(trained_mlp_path, capsys):
    code, _, err = run(capsys, "compare", trained_mlp_path, "--a", "weight:90", "--b", "magnitude:weight:90")
    assert_one_line_error(code, err, "criterion:method:k[:scope]")


def test_checkpoints_of_another_architecture_are_refused_in_one_line(trained_mlp_path, mnist_dir, capsys, tmp_path):
    import keras

    model = keras.Sequential(
        [keras.Input((784,)), keras.layers.Dense(16, name="hidden1"), keras.layers.Dense(10, name="output")]
    )
    model.save(tmp_path / "small.keras")
    code, _, err = run(
        capsys,
        "compare",
        trained_mlp_path,
        tmp_path / "small.keras",
        "--a",
        "magnitude:weight:50",
        "--b",
        "magnitude:weight:50",
        "--data",
        mnist_dir,
    )
    assert_one_line_error(code, err, "mlp.keras and small.keras have different architectures")
