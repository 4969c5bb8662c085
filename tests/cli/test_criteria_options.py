"""--criterion, --unit-mode and --seed on evaluate, sweep and export, run as a user runs them."""

from __future__ import annotations

import json

import numpy as np

from cli_helpers import csv_rows, run


def test_evaluate_says_which_criterion_seed_and_unit_mode_it_used(trained_mlp_path, capsys, mnist_dir):
    accuracies = {}
    for seed in (0, 0, 1):
        code, out, err = run(
            capsys,
            "evaluate",
            trained_mlp_path,
            "--method",
            "unit",
            "--k",
            "50",
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
        assert code == 0, err
        data = json.loads(out)
        assert (data["criterion"], data["seed"], data["unit_mode"], data["method"]) == (
            "random",
            seed,
            "remove",
            "unit",
        )
        accuracies.setdefault(seed, []).append(data["accuracy"])
    assert accuracies[0][0] == accuracies[0][1]  # reproducible by seed
    assert accuracies[0][0] != accuracies[1][0]
    code, out, err = run(
        capsys,
        "evaluate",
        trained_mlp_path,
        "--method",
        "unit",
        "--k",
        "50",
        "--unit-mode",
        "remove",
        "--data",
        mnist_dir,
    )
    assert code == 0, err
    assert "units removed with bias and BN channel" in out
    code, _, err = run(capsys, "evaluate", trained_mlp_path, "--criterion", "biggest", "--data", mnist_dir)
    assert code == 2 and "biggest" in err


def test_sweep_compares_criteria_in_one_csv(trained_mlp_path, capsys, mnist_dir, tmp_path):
    out_csv = tmp_path / "criteria.csv"
    code, out, err = run(
        capsys,
        "sweep",
        trained_mlp_path,
        "--criteria",
        "magnitude",
        "random",
        "lamp",
        "taylor",
        "--methods",
        "weight",
        "unit",
        "--ks",
        "0",
        "80",
        "--scope",
        "global",
        "--unit-mode",
        "remove",
        "--data",
        mnist_dir,
        "--csv",
        out_csv,
        "--plot",
        tmp_path / "c.png",
    )
    assert code == 0, err
    assert "Taylor scores from 1,000 training images of" in err
    rows = csv_rows(out_csv)
    assert len(rows) == 4 * 2 * 2
    assert [(r["criterion"], r["method"]) for r in rows[::2]] == [
        (c, m) for c in ("magnitude", "random", "lamp", "taylor") for m in ("weight", "unit")
    ]
    assert {r["unit_mode"] for r in rows if r["method"] == "unit"} == {"remove"}
    assert {r["unit_mode"] for r in rows if r["method"] == "weight"} == {""}
    at_80 = {(r["criterion"], r["method"]): float(r["accuracy"]) for r in rows if float(r["k"]) == 80}
    assert at_80["magnitude", "weight"] > at_80["random", "weight"]  # random is the baseline it should be
    assert "lamp scores" in out and "units removed with bias and BN channel" in out


def test_export_compacts_a_conv_batch_norm_chain(tmp_path, capsys, mnist_dir):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(8, 3, name="conv"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.ReLU(),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(10, name="out"),
        ]
    )
    source = tmp_path / "cnn.keras"
    model.save(source)
    out = tmp_path / "cnn-compact.keras"
    code, stdout, err = run(
        capsys,
        "export",
        source,
        "--method",
        "unit",
        "--k",
        "50",
        "--unit-mode",
        "remove",
        "--compact",
        "--out",
        out,
        "--no-report",
        "--json",
    )
    assert code == 0, err
    data = json.loads(stdout)
    assert data["compacted"] and data["unit_mode"] == "remove" and data["criterion"] == "magnitude"
    compact = keras.saving.load_model(out)
    assert compact.get_layer("conv").kernel.shape[-1] == 4 and compact.get_layer("bn").gamma.shape == (4,)
    x = np.random.default_rng(0).normal(size=(4, 28, 28, 1)).astype(np.float32)
    assert compact(x).shape == (4, 10)
    code, _, err = run(
        capsys,
        "export",
        source,
        "--criterion",
        "taylor",
        "--k",
        "50",
        "--out",
        tmp_path / "t.keras",
        "--no-report",
        "--data",
        tmp_path,
    )
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_criterion_help_says_layerwise_lamp_is_magnitude_and_what_unit_lamp_is(capsys):
    for command in ("evaluate", "sweep", "export"):
        code, out, _err = run(capsys, command, "--help")
        assert code == 0
        text = " ".join(out.split())  # argparse wraps the help
        assert "LAMP with layerwise scope prunes exactly what magnitude prunes" in text, command
        assert "Unit LAMP here is the unit's L2 norm / √fan-in" in text, command
