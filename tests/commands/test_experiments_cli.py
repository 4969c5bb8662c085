"""prune-viz train | sweep | export | finetune, run as the user runs them, on real MNIST."""

from __future__ import annotations

import csv
import json
import shutil

import numpy as np
import pytest

from prune_viz import cli


def run(capsys, *argv):
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("prune-viz"), err
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture(scope="module")
def trained_file(tmp_path_factory, mnist_dir):
    path = tmp_path_factory.mktemp("cli") / "lenet.keras"
    assert cli.main(["train", "--arch", "lenet-300-100", "--epochs", "1", "--seed", "5", "--data", str(mnist_dir),
                     "--batch-size", "64", "--out", str(path)]) == 0
    return path


def test_train_writes_an_honestly_labelled_model(trained_file, capsys, mnist_dir):
    from prune_viz.core.model_io import load_model

    meta = load_model(trained_file).metadata
    assert meta["trained_on"] == "MNIST 5,000-image training subset"
    assert meta["arch"] == "lenet-300-100" and meta["seed"] == 5 and meta["epochs"] == 1
    assert meta["test_accuracy"] > 0.8
    code, out, err = run(capsys, "inspect", trained_file)
    assert code == 0 and "Trained on:   MNIST 5,000-image training subset" in out


def test_train_refuses_to_overwrite_without_force(trained_file, capsys, mnist_dir):
    before = trained_file.read_bytes()
    code, out, err = run(capsys, "train", "--arch", "lenet-300-100", "--epochs", "1", "--data", mnist_dir,
                         "--out", trained_file)
    assert_one_line_error(code, err, "already exists", "--force")
    assert trained_file.read_bytes() == before


def test_train_errors_are_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "train", "--arch", "lenet-300-100", "--data", tmp_path / "nowhere",
                       "--out", tmp_path / "m.keras")
    assert_one_line_error(code, err, "does not exist")
    code, _, err = run(capsys, "train", "--arch", "vgg", "--out", tmp_path / "m.keras")
    assert_one_line_error(code, err, "invalid choice")
    code, _, err = run(capsys, "train", "--arch", "fc-1000", "--epochs", "0", "--out", tmp_path / "m.keras")
    assert_one_line_error(code, err, "at least 1")
    assert not (tmp_path / "m.keras").exists()


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_sweep_over_two_models_writes_every_point_summary_and_plot(trained_file, capsys, mnist_dir, tmp_path):
    (tmp_path / "a").mkdir()
    second = tmp_path / "a" / "lenet.keras"  # same file name as the first: rows say the path instead
    shutil.copy(trained_file, second)
    out_csv, out_png = tmp_path / "sweep.csv", tmp_path / "sweep.png"
    ks = ["0", "50", "90", "99"]
    code, out, err = run(capsys, "sweep", trained_file, second, "--methods", "weight", "unit", "--ks", *ks,
                         "--scope", "layer", "global", "--data", mnist_dir, "--preprocess", "scale",
                         "--csv", out_csv, "--plot", out_png)
    assert code == 0, err
    rows = _rows(out_csv)
    assert len(rows) == 2 * 2 * 2 * len(ks)  # models x methods x scopes x ks
    assert set(rows[0]) >= {"model", "seed", "method", "scope", "layer", "k", "sparsity_included",
                            "sparsity_all", "accuracy", "loss", "seconds"}
    assert {r["model"] for r in rows} == {str(trained_file), str(second)}
    for model in (str(trained_file), str(second)):
        for method in ("weight", "unit"):
            for scope in ("layer", "global"):
                curve = [r for r in rows if (r["model"], r["method"], r["scope"]) == (model, method, scope)]
                assert [float(r["k"]) for r in curve] == [float(k) for k in ks]
                sparsity = [float(r["sparsity_included"]) for r in curve]
                assert sparsity == sorted(sparsity)
                assert all(r["seed"] == "5" for r in curve)
    summary = _rows(tmp_path / "sweep.summary.csv")
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

    code, _, err = run(capsys, "sweep", trained_file, "--ks", "0", "--data", mnist_dir, "--csv", out_csv)
    assert_one_line_error(code, err, "already exists", "--force")


def test_sweep_refuses_to_average_different_architectures(trained_file, trained_mlp_path, capsys, mnist_dir):
    code, _, err = run(capsys, "sweep", trained_file, trained_mlp_path, "--ks", "0", "--data", mnist_dir)
    assert_one_line_error(code, err, "different prunable layers")


def test_sweep_per_layer_and_json(trained_mlp_path, capsys, mnist_dir, tmp_path):
    code, out, err = run(capsys, "sweep", trained_mlp_path, "--methods", "unit", "--ks", "0", "50", "--per-layer",
                         "--data", mnist_dir, "--json", "--csv", tmp_path / "s.csv", "--plot", tmp_path / "s.png")
    assert code == 0, err
    data = json.loads(out)
    assert data["complete"] is True
    assert [(p["layer"], p["k"]) for p in data["points"]] == [("hidden1", 0), ("hidden1", 50),
                                                              ("hidden2", 0), ("hidden2", 50)]
    assert [r["layer"] for r in _rows(tmp_path / "s.csv")] == ["hidden1", "hidden1", "hidden2", "hidden2"]
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
    code, out, err = run(capsys, "sweep", trained_mlp_path, "--methods", "weight", "--ks", "0", "50", "90", "99",
                         "--data", mnist_dir, "--csv", out_csv)
    assert code == 130
    assert "interrupted after 2 of 4 points" in err and str(out_csv) in err
    assert [float(r["k"]) for r in _rows(out_csv)] == [0.0, 50.0]


def test_export_dense_and_compact_with_size_report(trained_mlp_path, capsys, mnist_dir, tmp_path):
    dense, compact = tmp_path / "dense.keras", tmp_path / "compact.keras"
    code, out, err = run(capsys, "export", trained_mlp_path, "--method", "unit", "--k", "50", "--out", dense,
                         "--data", mnist_dir, "--repeats", "2")
    assert code == 0, err
    for fragment in ("dense .keras", "gzip", "CSR", "compacted .keras", "Dead units:", "Compaction:", "ms"):
        assert fragment in out
    code, out, err = run(capsys, "export", trained_mlp_path, "--method", "unit", "--k", "50", "--out", compact,
                         "--compact", "--json", "--data", mnist_dir, "--repeats", "1")
    assert code == 0, err
    report = json.loads(out)
    assert report["compacted"] is True and report["bytes"] == compact.stat().st_size < dense.stat().st_size
    assert report["report"]["max_output_difference"] < 1e-5
    assert [layer["units_after"] for layer in report["report"]["compaction"]["layers"]] == [32, 16, 10]
    # refused: existing output, and the input file itself even with --force
    code, _, err = run(capsys, "export", trained_mlp_path, "--k", "50", "--out", dense, "--no-report")
    assert_one_line_error(code, err, "already exists", "--force")
    code, _, err = run(capsys, "export", trained_mlp_path, "--k", "50", "--out", trained_mlp_path, "--force")
    assert_one_line_error(code, err, "input model")
    code, _, err = run(capsys, "export", trained_mlp_path, "--k", "150", "--out", tmp_path / "x.keras")
    assert_one_line_error(code, err, "k must be")


def test_export_compact_says_when_the_architecture_cannot_be(tmp_path, capsys, mnist_dir):
    import keras

    inputs = keras.Input((784,))
    a = keras.layers.Dense(8, activation="relu", name="a")(inputs)
    b = keras.layers.Dense(8, activation="relu", name="b")(a)
    out = keras.layers.Dense(10, activation="softmax", name="out")(keras.layers.Concatenate()([a, b]))
    path = tmp_path / "branchy.keras"
    keras.Model(inputs, out).save(path)
    code, _, err = run(capsys, "export", path, "--method", "unit", "--k", "50", "--compact",
                       "--out", tmp_path / "c.keras")
    assert_one_line_error(code, err, "straight chains")
    assert not (tmp_path / "c.keras").exists()


def test_finetune_cli_keeps_masks_and_records_them(trained_mlp_path, capsys, mnist_dir, tmp_path):
    from prune_viz.core.model_io import load_model
    from prune_viz.core.pruning import PruningConfig
    from prune_viz.core.session import open_model

    out_path = tmp_path / "tuned.keras"
    code, out, err = run(capsys, "finetune", trained_mlp_path, "--method", "weight", "--k", "80", "--epochs", "1",
                         "--data", mnist_dir, "--out", out_path, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["accuracy_after"] > data["accuracy_before"]
    tuned = load_model(out_path)
    original = open_model(trained_mlp_path)
    masks = original.pruner.prune(PruningConfig("weight", 80, "layer", original.default_included)).masks
    for layer in tuned.keras_model.layers:
        if layer.name in masks:
            assert np.all(np.asarray(layer.kernel.numpy())[~np.asarray(masks[layer.name].numpy())] == 0)
    assert tuned.metadata["fine_tune"]["trained_on"] == "MNIST 5,000-image training subset"
    assert tuned.metadata["pruning"]["k"] == 80
