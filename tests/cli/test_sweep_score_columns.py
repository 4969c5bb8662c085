"""``prune-viz sweep`` on a model that is not a classifier (issue 27): the CSV names the score's column
after its metric (r2, top1_agreement), the summary over models its mean and std, the table prints the
score under its name, and a classifier keeps its accuracy column."""

from __future__ import annotations

import shutil

from cli_helpers import csv_rows, run


def test_a_regression_sweep_over_two_models_writes_r2_columns(capsys, own_data, tmp_path):
    (tmp_path / "b").mkdir()
    second = tmp_path / "b" / "regression.keras"
    shutil.copy(own_data / "regression.keras", second)
    code, out, err = run(
        capsys, "sweep", own_data / "regression.keras", second, "--data", own_data / "regression.npz",
        "--ks", "0", "90", "--methods", "weight", "--csv", tmp_path / "s.csv", "--plot", tmp_path / "s.png",
    )  # fmt: skip
    assert code == 0, err
    rows = csv_rows(tmp_path / "s.csv")
    assert "r2" in rows[0] and "accuracy" not in rows[0] and "score" not in rows[0]
    assert all(r["task"] == "regression" for r in rows) and float(rows[0]["r2"]) > 0.8
    summary = csv_rows(tmp_path / "s.summary.csv")
    assert float(summary[0]["r2_mean"]) == float(rows[0]["r2"]) and float(summary[0]["r2_std"]) == 0.0
    header = next(line for line in out.splitlines() if line.strip().startswith("k %"))
    assert "R²" in header and "MSE" in header and "accuracy" not in header
    assert (tmp_path / "s.png").stat().st_size > 10_000


def test_an_unlabelled_sweep_writes_top1_agreement(capsys, own_data, tmp_path):
    code, out, err = run(
        capsys, "sweep", own_data / "colours.keras", "--data", own_data / "colours-unlabelled.npz",
        "--ks", "0", "90", "--methods", "weight", "--csv", tmp_path / "s.csv",
    )  # fmt: skip
    assert code == 0, err
    rows = csv_rows(tmp_path / "s.csv")
    assert float(rows[0]["top1_agreement"]) == 1.0 and float(rows[1]["top1_agreement"]) < 1.0
    assert "Top-1 agreement %" in out and "100.00" in out
