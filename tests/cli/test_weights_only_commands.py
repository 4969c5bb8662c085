"""The commands on checkpoints whose model Keras cannot rebuild: they open from their weights, evaluate
says why it cannot run, export writes a copy of the file, and --custom-objects / --allow-lambda rebuild
the whole model."""

from __future__ import annotations

import json

import pytest

from cli_helpers import assert_one_line_error, run

slow = pytest.mark.slow  # the checkpoints are saved by processes of their own, once per run


@slow
def test_inspect_lists_the_stored_layers(weights_only_models, capsys):
    code, out, err = run(capsys, "inspect", weights_only_models.path("custom.keras"))
    assert code == 0, err
    assert "Format:       Keras 3 archive (.keras), weights only" in out
    assert "Warning:      opened from its weights only because its custom classes TransformerBlock and" in out
    assert "block/multi_head_attention           MultiHeadAttention     query/kernel 16x2x8" in out
    code, out, err = run(capsys, "inspect", "--json", weights_only_models.path("k2-lambda.h5"))
    info = json.loads(out)
    assert info["weights_only"] is True and "TFOpLambda" in info["notes"][0]
    layers = {layer["path"]: layer for layer in info["stored_layers"]}
    assert layers["bi"]["rebuilt"] and layers["bi"]["weights"][0] == {
        "name": "forward_gru/gru_cell/kernel",
        "shape": [8, 12],
    }
    assert layers["tf.nn.relu"] == {"path": "tf.nn.relu", "class_name": "TFOpLambda", "rebuilt": False, "weights": []}


@slow
def test_evaluate_says_why_it_cannot_run(weights_only_models, capsys, mnist_dir):
    code, _, err = run(capsys, "evaluate", weights_only_models.path("k2-lambda.h5"), "--data", mnist_dir)
    assert_one_line_error(
        code,
        err,
        "k2-lambda.h5 was opened from its weights only because its Keras 2 TFOpLambda layers",
        "so it cannot be run or evaluated.",
        "Pruning and inspecting its weights still work.",
    )


@slow
def test_export_writes_a_copy_of_the_file(weights_only_models, capsys, tmp_path):
    source = weights_only_models.path("custom.h5")
    out = tmp_path / "pruned.h5"
    code, text, err = run(capsys, "export", source, "--k", "30", "--out", out, "--json")
    assert code == 0, err
    report = json.loads(text)
    assert report["weights_only"] is True and report["out"] == str(out) and report["bytes"] == out.stat().st_size
    assert "weights only" in report["no_report"] and report["report"] is None
    found = weights_only_models.load_as_their_code_does([out])[out]
    assert sorted(found) == sorted(weights_only_models.saved_weights("custom.h5"))
    code, _, err = run(capsys, "export", source, "--out", tmp_path / "pruned.keras")
    assert_one_line_error(code, err, "pruned.keras should end in .h5", "opened from its weights only")
    code, _, err = run(capsys, "export", source, "--method", "unit", "--compact", "--out", tmp_path / "c.keras")
    assert_one_line_error(code, err, "custom.h5 was opened from its weights only")
    code, _, err = run(capsys, "export", source, "--out", tmp_path / "model.txt")
    assert_one_line_error(code, err, "model.txt should end in .keras")


@slow
def test_custom_objects_and_allow_lambda_rebuild_the_model(weights_only_models, capsys, keras_registry_kept):
    code, out, err = run(
        capsys, "inspect", weights_only_models.path("custom.h5"), "--custom-objects", weights_only_models.custom_objects
    )
    assert code == 0, err
    assert "Format:       HDF5 (Keras 3" in out and "weights only" not in out and "Warning" not in out
    assert "block                        TransformerBlock" in out
    code, out, err = run(capsys, "inspect", weights_only_models.path("lambda.keras"), "--allow-lambda")
    assert code == 0, err
    assert "weights only" not in out and "double                       Lambda" in out
    code, _, err = run(capsys, "inspect", weights_only_models.path("custom.h5"), "--custom-objects", "nowhere.py")
    assert_one_line_error(code, err, "The custom objects file nowhere.py does not exist.")


def test_every_command_that_opens_a_model_takes_the_options(capsys):
    from prune_viz.cli.window import build_parser as window_parser

    for command in ("inspect", "evaluate", "compare", "sweep", "flips", "export", "finetune"):
        code, out, _ = run(capsys, command, "--help")
        assert code == 0 and "--custom-objects FILE.py" in out and "--allow-lambda" in out, command
    args = window_parser().parse_args(["m.keras", "--custom-objects", "mine.py"])
    assert (args.custom_objects, args.allow_lambda) == ("mine.py", False)
