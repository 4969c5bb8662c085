"""prune-viz export, run as the user runs it, on real MNIST."""

from __future__ import annotations

import json
import os

from cli_helpers import assert_one_line_error, run


def test_export_dense_and_compact_with_size_report(trained_mlp_path, capsys, mnist_dir, tmp_path):
    dense, compact = tmp_path / "dense.keras", tmp_path / "compact.keras"
    code, out, err = run(
        capsys,
        "export",
        trained_mlp_path,
        "--method",
        "unit",
        "--k",
        "50",
        "--out",
        dense,
        "--data",
        mnist_dir,
        "--repeats",
        "2",
    )
    assert code == 0, err
    for fragment in ("dense .keras", "gzip", "CSR", "compacted .keras", "Dead units:", "Compaction:", "ms"):
        assert fragment in out
    code, out, err = run(
        capsys,
        "export",
        trained_mlp_path,
        "--method",
        "unit",
        "--k",
        "50",
        "--out",
        compact,
        "--compact",
        "--json",
        "--data",
        mnist_dir,
        "--repeats",
        "1",
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["compacted"] is True and report["bytes"] == compact.stat().st_size < dense.stat().st_size
    assert report["report"]["max_output_difference"] < 1e-5
    assert [layer["units_after"] for layer in report["report"]["compaction"]["layers"]] == [32, 16, 10]
    # refused: existing output, and the input file itself even with --force
    code, _, err = run(capsys, "export", trained_mlp_path, "--k", "50", "--out", dense, "--no-report")
    assert_one_line_error(code, err, "already exists", "--force")
    code, _, err = run(capsys, "export", trained_mlp_path, "--k", "50", "--out", trained_mlp_path, "--force")
    assert_one_line_error(code, err, "opened model")
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
    code, _, err = run(
        capsys, "export", path, "--method", "unit", "--k", "50", "--compact", "--out", tmp_path / "c.keras"
    )
    assert_one_line_error(code, err, "straight chains")
    assert not (tmp_path / "c.keras").exists()


def test_export_refuses_a_hard_link_to_the_input_model(trained_mlp_path, capsys, tmp_path):
    link = tmp_path / "same-inode.keras"
    os.link(trained_mlp_path, link)
    before = trained_mlp_path.read_bytes()
    code, _, err = run(capsys, "export", trained_mlp_path, "--k", "50", "--out", link, "--force", "--no-report")
    assert_one_line_error(code, err, "opened model")
    assert trained_mlp_path.read_bytes() == before
