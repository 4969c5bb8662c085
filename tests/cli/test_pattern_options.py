"""--method nm --nm N:M and --method block --block RxC, run as a user runs them (issue 28)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cli_helpers import assert_one_line_error, run


def test_evaluate_nm_reports_each_tensor_valid_and_the_accuracy(trained_mlp_path, capsys, mnist_dir):
    code, out, err = run(
        capsys, "evaluate", trained_mlp_path, "--method", "nm", "--nm", "2:4", "--data", mnist_dir, "--json"
    )
    assert code == 0, err
    got = json.loads(out)
    assert got["method"] == "nm" and got["nm"] == "2:4"
    assert got["valid_nm"] == {"hidden1": True, "hidden2": True}
    assert got["sparsity_per_layer"]["hidden1"] == 0.5 and got["sparsity_per_layer"]["output"] == 0.0
    assert got["pattern_notes"][0] == "Valid 2:4: 2 of 2 pruned tensors"
    assert got["accuracy"] != got["unpruned_accuracy"]  # pruned: the reference pass is the unpruned weights
    code, out, err = run(capsys, "evaluate", trained_mlp_path, "--method", "nm", "--nm", "1:8", "--data", mnist_dir)
    assert code == 0, err
    assert "1:8 (N:M) pruning" in out and "87.50% of the pruned layers" in out and "Valid 1:8" in out


def test_evaluate_block_prunes_k_percent_of_the_blocks(trained_mlp_path, capsys, mnist_dir):
    code, out, err = run(
        capsys,
        "evaluate",
        trained_mlp_path,
        "--method",
        "block",
        "--block",
        "4x4",
        "--k",
        "50",
        "--data",
        mnist_dir,
        "--json",
    )
    assert code == 0, err
    got = json.loads(out)
    assert got["block"] == "4x4" and got["k"] == 50
    assert got["sparsity_per_layer"]["hidden1"] == 0.5  # 196 x 16 blocks of 4x4, half of them
    assert "valid_nm" not in got and got["pattern_notes"] == []


@pytest.mark.parametrize(
    "argv,words",
    [
        (("--method", "nm", "--nm", "4:4"), "0 < N < M"),
        (("--method", "nm", "--nm", "two:four"), "written like 2:4"),
        (("--method", "block", "--block", "4by4", "--k", "50"), "written like 4x4"),
        (("--method", "block", "--block", "0x8", "--k", "50"), "from 1 to"),
    ],
)
def test_bad_patterns_are_one_line_errors(trained_mlp_path, capsys, argv, words):
    code, _out, err = run(capsys, "evaluate", trained_mlp_path, *argv)
    assert_one_line_error(code, err, words)


def test_sweeps_refuse_nm_which_has_no_k(trained_mlp_path, capsys, mnist_dir):
    code, _out, err = run(capsys, "sweep", trained_mlp_path, "--methods", "nm", "--data", mnist_dir)
    assert_one_line_error(code, err, "nm")


def test_flips_of_nm_are_the_images_it_breaks_and_fixes(trained_mlp_path, capsys, mnist_dir, mnist, tmp_path):
    from cli_helpers import csv_rows

    out = tmp_path / "nm.csv"
    argv = ("flips", trained_mlp_path, "--method", "nm", "--nm", "2:4", "--data", mnist_dir)
    code, stdout, err = run(capsys, *argv, "--json", "--csv", out)
    assert code == 0, err
    data = json.loads(stdout)
    assert data["method"] == "nm" and data["nm"] == "2:4" and data["points"] == ["unpruned", "2:4"]
    rows = csv_rows(out)
    assert len(rows) == len(mnist.y_test) and [int(r["label"]) for r in rows[:50]] == mnist.y_test[:50].tolist()
    broken = [int(r["image"]) for r in rows if r["change"] == "broken"]
    assert broken == data["broken"] and len(broken) == data["counts"]["broken"] > 0
    for r in rows[:200]:  # each row's answers say its change
        right, right_under = r["unpruned"] == r["label"], r["pruned"] == r["label"]
        assert r["change"] == {(1, 0): "broken", (0, 1): "fixed", (0, 0): "wrong", (1, 1): "never"}[right, right_under]
    unpruned, under = data["accuracy"]
    assert under == round(np.mean([r["pruned"] == r["label"] for r in rows]), 6) and unpruned != under

    code, stdout, err = run(capsys, *argv, "--csv", out)
    assert_one_line_error(code, err, "exists")  # the CSV is not replaced without --force
    code, stdout, err = run(capsys, *argv)
    assert code == 0, err
    assert f"Right -> wrong under 2:4: {len(broken):,}" in stdout
    first = broken[0]
    label, pruned = rows[first]["label"], rows[first]["pruned"]
    assert f"Broken: #{first} {label} -> {pruned}" in stdout
    assert f"Accuracy {unpruned * 100:.2f}% unpruned, {under * 100:.2f}% under 2:4" in stdout


def test_export_nm_keeps_the_pattern_records_it_and_sizes_packed_storage(trained_mlp_path, capsys, mnist_dir, tmp_path):
    from prune_viz.core.patterns import is_valid_nm

    out_path = tmp_path / "nm.keras"
    code, out, err = run(
        capsys,
        "export",
        trained_mlp_path,
        "--method",
        "nm",
        "--nm",
        "2:4",
        "--out",
        out_path,
        "--data",
        mnist_dir,
        "--repeats",
        "1",
        "--json",
    )
    assert code == 0, err
    got = json.loads(out)
    rows = {row["name"]: row for row in got["report"]["formats"]}
    packed = [name for name in rows if name.startswith("packed 2:4")]
    assert packed, got
    assert rows[packed[0]]["bytes"] < rows["CSR arrays (kernels) + dense other weights"]["bytes"]
    import keras

    model = keras.saving.load_model(out_path)
    for name in ("hidden1", "hidden2"):
        kernel = np.asarray(model.get_layer(name).kernel.numpy())
        assert is_valid_nm(kernel, 2, 4)
    code, out, _ = run(capsys, "inspect", out_path, "--json")
    derived = json.loads(out)["metadata"]["derived_from"]
    assert derived["nm"] == "2:4" and derived["method"] == "nm"


def test_compare_takes_pattern_methods_in_its_specs(trained_mlp_path, capsys, mnist_dir):
    code, out, err = run(
        capsys,
        "compare",
        trained_mlp_path,
        "--a",
        "magnitude:nm2-4:0",
        "--b",
        "magnitude:block1x8:50",
        "--data",
        mnist_dir,
        "--json",
    )
    assert code == 0, err
    got = json.loads(out)
    specs = json.dumps(got)
    assert "magnitude:nm2-4:0" in specs and "magnitude:block1x8:50" in specs
    code, _out, err = run(capsys, "compare", trained_mlp_path, "--a", "magnitude:nm4-4:0", "--b", "magnitude:weight:50")
    assert_one_line_error(code, err, "0 < N < M")
