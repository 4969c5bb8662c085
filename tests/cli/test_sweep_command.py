"""prune-viz sweep, run as the user runs it, on real MNIST."""

from __future__ import annotations

import json
import shutil

from cli_helpers import assert_one_line_error, csv_rows, run


def test_sweep_over_two_models_writes_every_point_summary_and_plot(trained_mlp_path, capsys, mnist_dir, tmp_path):
    from prune_viz.core.io import load_model, save_keras_with_metadata

    # the trained MLP as if prune-viz had trained it with seed 5, twice
    loaded = load_model(trained_mlp_path)
    first = save_keras_with_metadata(loaded.keras_model, tmp_path / "mlp.keras", {**loaded.metadata, "seed": 5})
    (tmp_path / "a").mkdir()
    second = tmp_path / "a" / "mlp.keras"  # same file name as the first: rows say the path instead
    shutil.copy(first, second)
    out_csv, out_png = tmp_path / "sweep.csv", tmp_path / "sweep.png"
    ks = ["0", "50", "90", "99"]
    code, out, err = run(
        capsys,
        "sweep",
        first,
        second,
        "--methods",
        "weight",
        "unit",
        "--ks",
        *ks,
        "--scope",
        "layer",
        "global",
        "--data",
        mnist_dir,
        "--preprocess",
        "scale",
        "--csv",
        out_csv,
        "--plot",
        out_png,
    )
    assert code == 0, err
    rows = csv_rows(out_csv)
    assert len(rows) == 2 * 2 * 2 * len(ks)  # models x methods x scopes x ks
    assert set(rows[0]) >= {
        "model",
        "seed",
        "method",
        "scope",
        "layer",
        "k",
        "sparsity_included",
        "sparsity_all",
        "accuracy",
        "loss",
        "seconds",
    }
    assert {r["model"] for r in rows} == {str(first), str(second)}
    for model in (str(first), str(second)):
        for method in ("weight", "unit"):
            for scope in ("layer", "global"):
                curve = [r for r in rows if (r["model"], r["method"], r["scope"]) == (model, method, scope)]
                assert [float(r["k"]) for r in curve] == [float(k) for k in ks]
                sparsity = [float(r["sparsity_included"]) for r in curve]
                assert sparsity == sorted(sparsity)
                assert all(r["seed"] == "5" for r in curve)
    summary = csv_rows(tmp_path / "sweep.summary.csv")
    assert len(summary) == 2 * 2 * len(ks) and all(r["models"] == "2" for r in summary)
    assert all(float(r["accuracy_std"]) == 0.0 for r in summary)  # the same weights twice
    assert "mean ± std over 2 models" in out
    png = out_png.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    from PySide6.QtGui import QImage

    image = QImage(str(out_png))
    assert image.width() == 1200 and image.height() > 300
    # the curves are drawn in colour on a white background
    colours = {image.pixelColor(x, y).name() for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert "#ffffff" in colours and len(colours) > 10

    code, _, err = run(capsys, "sweep", first, "--ks", "0", "--data", mnist_dir, "--csv", out_csv)
    assert_one_line_error(code, err, "already exists", "--force")


def test_sweep_refuses_to_average_different_architectures(trained_mlp_path, capsys, mnist_dir, tmp_path):
    from prune_viz.core.architectures import build_model

    lenet = tmp_path / "lenet.keras"
    build_model("lenet-300-100").save(lenet)
    code, _, err = run(capsys, "sweep", lenet, trained_mlp_path, "--ks", "0", "--data", mnist_dir)
    assert_one_line_error(code, err, "different prunable layers")


def test_sweep_per_layer_and_json(trained_mlp_path, capsys, mnist_dir, tmp_path):
    code, out, err = run(
        capsys,
        "sweep",
        trained_mlp_path,
        "--methods",
        "unit",
        "--ks",
        "0",
        "50",
        "--per-layer",
        "--data",
        mnist_dir,
        "--json",
        "--csv",
        tmp_path / "s.csv",
        "--plot",
        tmp_path / "s.png",
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["complete"] is True
    assert [(p["layer"], p["k"]) for p in data["points"]] == [
        ("hidden1", 0),
        ("hidden1", 50),
        ("hidden2", 0),
        ("hidden2", 50),
    ]
    assert [r["layer"] for r in csv_rows(tmp_path / "s.csv")] == ["hidden1", "hidden1", "hidden2", "hidden2"]
    assert (tmp_path / "s.png").stat().st_size > 10_000


def test_ctrl_c_during_a_sweep_keeps_the_points_done(trained_mlp_path, capsys, mnist_dir, tmp_path, monkeypatch):
    from prune_viz.core.session import Session

    real = Session.evaluate
    calls = {"n": 0}

    def interrupted_on_the_third(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Session, "evaluate", interrupted_on_the_third)
    out_csv = tmp_path / "partial.csv"
    code, out, err = run(
        capsys,
        "sweep",
        trained_mlp_path,
        "--methods",
        "weight",
        "--ks",
        "0",
        "50",
        "90",
        "99",
        "--data",
        mnist_dir,
        "--csv",
        out_csv,
    )
    assert code == 130
    assert "interrupted after 2 of 4 points" in err and str(out_csv) in err
    assert [float(r["k"]) for r in csv_rows(out_csv)] == [0.0, 50.0]
