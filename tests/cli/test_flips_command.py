"""``prune-viz flips``: the JSON shape of the issue, the CSV, and agreement with the core scan."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cli_helpers import assert_one_line_error, csv_rows, run


@pytest.mark.slow
def test_flips_json_and_csv(capsys, trained_mlp_path, mnist_dir, mnist, tmp_path):
    out = tmp_path / "flips.csv"
    code, stdout, _ = run(
        capsys,
        "flips",
        trained_mlp_path,
        "--method",
        "unit",
        "--scope",
        "global",
        "--data",
        mnist_dir,
        "--csv",
        out,
        "--json",
    )
    assert code == 0
    data = json.loads(stdout)
    assert data["method"] == "unit" and data["scope"] == "global"
    assert data["ks"] == [float(k) for k in range(101)]
    breaking = data["breaking_k"]
    assert len(breaking) == len(mnist.y_test)
    assert all(b is None or (b in data["ks"]) for b in breaking)
    assert sorted(data["per_digit_accuracy"]) == [str(d) for d in range(10)]
    per_digit = np.array([data["per_digit_accuracy"][str(d)] for d in range(10)])  # (10, 101)
    assert per_digit.shape == (10, 101)
    # the numbers mean what they say: accuracy at k from the breaking points alone
    labels = mnist.y_test
    values = np.array([np.inf if b is None else b for b in breaking])
    for i in (0, 50, 100):
        k = data["ks"][i]
        right = values > k
        overall = right.mean()
        assert data["accuracy"][i] >= overall - 1e-6  # unbroken images are right; a broken one may recover
        if i == 0:
            assert overall == data["accuracy"][0]
            for d in range(10):
                assert per_digit[d, 0] == round(float(right[labels == d].mean()), 6)
    assert data["accuracy"][0] > 0.85 and data["accuracy"][-1] < 0.2  # unit pruning at 100% leaves nothing
    rows = csv_rows(out)
    assert len(rows) == len(labels)
    assert [int(r["label"]) for r in rows[:20]] == labels[:20].tolist()
    assert [None if r["breaking_k"] == "" else float(r["breaking_k"]) for r in rows] == breaking


@pytest.mark.slow
def test_flips_text_and_errors(capsys, trained_mlp_path, mnist_dir, tmp_path):
    code, stdout, _ = run(capsys, "flips", trained_mlp_path, "--data", mnist_dir)
    assert code == 0
    assert "never break" in stdout and "Accuracy % per digit" in stdout
    code, _, err = run(capsys, "flips", trained_mlp_path, "--data", mnist_dir, "--csv", tmp_path / "x.txt")
    assert_one_line_error(code, err, "x.txt should end in .csv")


@pytest.mark.slow
def test_flips_say_which_criterion_and_unit_mode_they_used(capsys, trained_mlp_path, mnist_dir):
    runs = {}
    for seed in (3, 3, 4):
        code, stdout, _ = run(
            capsys,
            "flips",
            trained_mlp_path,
            "--method",
            "unit",
            "--criterion",
            "random",
            "--seed",
            seed,
            "--unit-mode",
            "remove",
            "--data",
            mnist_dir,
            "--json",
        )
        assert code == 0
        data = json.loads(stdout)
        assert (data["criterion"], data["unit_mode"], data["seed"]) == ("random", "remove", seed)
        runs.setdefault(seed, []).append(data["breaking_k"])
    assert runs[3][0] == runs[3][1]  # the same seed, the same scan
    assert runs[3][0] != runs[4][0]  # another seed prunes other units
