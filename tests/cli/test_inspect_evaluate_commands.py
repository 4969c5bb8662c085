"""The inspect and evaluate commands, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from prune_viz.cli import main
from prune_viz.core.pruning import PruningConfig
from prune_viz.core.session import Session, open_model


def test_inspect_lists_layers(trained_mlp_path, capsys):
    assert main(["inspect", str(trained_mlp_path)]) == 0
    out = capsys.readouterr().out
    assert "Keras 3 archive" in out
    assert "hidden1" in out and "784x64" in out and "50,176" in out
    assert "output layer, excluded by default" in out
    assert "MNIST 5,000-image training subset" in out


def test_evaluate_json_matches_the_core(trained_mlp_path, mnist_dir, capsys):
    code = main(
        [
            "evaluate",
            str(trained_mlp_path),
            "--data",
            str(mnist_dir),
            "--method",
            "unit",
            "--k",
            "50",
            "--scope",
            "global",
            "--preprocess",
            "scale",
            "--json",
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    session = Session(data_path=str(mnist_dir), preprocessing="scale")
    session.set_model(open_model(trained_mlp_path))
    record, baseline = session.evaluate(PruningConfig("unit", 50, "global", {"hidden1", "hidden2"}))
    assert report["accuracy"] == record.result.accuracy
    assert report["unpruned_accuracy"] == baseline.result.accuracy
    assert report["sparsity_included"] == pytest.approx(record.sparsity, abs=1e-6)
    assert set(report["sparsity_per_layer"]) == {"hidden1", "hidden2", "output"}
    assert report["sparsity_per_layer"]["output"] == 0
    assert report["preprocessing"] == "scale" and report["total"] == 10_000


@pytest.mark.slow
@pytest.mark.parametrize(
    "args,needle",
    [
        (["evaluate", "{model}", "--k", "150"], "k must be from 0 to 100"),
        (["evaluate", "{model}", "--k", "lots"], "k must be a number"),
        (["inspect", "/nonexistent/model.keras"], "does not exist"),
        (["evaluate", "{model}", "--data", "/nonexistent/mnist"], "does not exist"),
    ],
)
def test_user_errors_exit_2_with_one_line(trained_mlp_path, args, needle):
    argv = [a.format(model=trained_mlp_path) for a in args]
    proc = subprocess.run([sys.executable, "-m", "prune_viz", *argv], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert needle in lines[0] and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_a_reader_closing_the_pipe_early_is_not_an_error(trained_mlp_path):
    # as in `prune-viz inspect M | head -1` once head has gone: every write meets a closed pipe
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "prune_viz", "inspect", str(trained_mlp_path)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=300,
        )
    finally:
        os.close(write_end)
    assert proc.returncode == 141
    assert proc.stderr == ""


CUT_OFF = "conv1: every unit is pruned; the model cannot pass anything through it."


def test_evaluate_names_a_layer_pruned_away_in_text_and_json(conv_bn_cnn_path, mnist_dir, capsys):
    argv = ["evaluate", str(conv_bn_cnn_path), "--data", str(mnist_dir), "--method", "unit", "--scope", "global"]
    assert main([*argv, "--k", "50"]) == 0
    text = capsys.readouterr().out
    assert f"Warning:      {CUT_OFF}" in text
    per_layer = text.split("Per layer:\n")[1].splitlines()[:3]
    assert per_layer[0].split() == ["conv1", "100.00%", "zero,", "8", "/", "8", "units", "pruned"]
    assert per_layer[1].split()[:2] == ["conv2", "25.00%"]
    assert per_layer[2].endswith("(not pruned: output layer, excluded by default)")

    # the model is untrained: after the layer cut off, the data warning says its accuracy is near chance
    assert main([*argv, "--k", "50", "--json"]) == 0
    warnings = json.loads(capsys.readouterr().out)["warnings"]
    assert warnings[0] == CUT_OFF and len(warnings) == 2 and "near chance" in warnings[1]
    assert main([*argv, "--k", "25", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["warnings"] == warnings[1:]
    assert main([*argv, "--k", "25"]) == 0
    assert CUT_OFF not in capsys.readouterr().out


def _data_help(capsys, command: str) -> str:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    return help_text.split("--data SOURCE the data:", 1)[1].split(" --", 1)[0]


def test_evaluate_help_names_the_data_evaluate_then_uses(trained_mlp_path, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("PRUNE_VIZ_MNIST", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "no-keras-cache"))
    said = _data_help(capsys, "evaluate")
    assert said.endswith("then the MNIST test set bundled with prune-viz)") and "download" not in said
    assert main(["evaluate", str(trained_mlp_path), "--k", "50", "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["data_source"] == said["data"]["source"] == "MNIST test set bundled with prune-viz"
    for training in ("finetune", "train"):  # they read the training images, which the bundled set lacks
        assert "then a download" in _data_help(capsys, training)
