"""A model with a 224x224x3 input (a narrow VGG-16 look-alike): every command that needs MNIST exits 2
with the core's one sentence on why; the commands that only read or prune the weights still work."""

from __future__ import annotations

import json

import pytest

from prune_viz.core.inputs import cannot_feed_mnist

from cli_helpers import assert_one_line_error, run

WHY = cannot_feed_mnist([224, 224, 3])


@pytest.mark.parametrize(
    "command",
    [
        ["evaluate"],
        ["evaluate", "--k", "50", "--method", "unit"],
        ["sweep", "--ks", "50"],
        ["flips"],
    ],
)
def test_commands_that_need_mnist_say_why_and_exit_2(capsys, vgg_shaped_path, mnist_dir, command):
    code, out, err = run(capsys, command[0], vgg_shaped_path, *command[1:], "--data", mnist_dir)
    assert_one_line_error(code, err)
    assert err.strip() == f"prune-viz: error: {WHY}"
    assert "Accuracy" not in out


def test_missing_data_is_said_since_other_data_may_fit(capsys, vgg_shaped_path, tmp_path):
    """Without --data the model's shape is said before MNIST is read; a --data that is not there is said
    as such: an image folder at 224x224 would fit this model (issue 27)."""
    code, _, err = run(capsys, "evaluate", vgg_shaped_path)
    assert_one_line_error(code, err, WHY)
    code, _, err = run(capsys, "evaluate", vgg_shaped_path, "--data", tmp_path / "no-mnist-here")
    assert_one_line_error(code, err, "no-mnist-here does not exist")


def test_inspecting_and_exporting_it_still_work(capsys, vgg_shaped_path, mnist_dir, tmp_path):
    code, out, _ = run(capsys, "inspect", vgg_shaped_path, "--json")
    assert code == 0
    assert [layer["kind"] for layer in json.loads(out)["layers"]] == ["Conv2D"] * 13 + ["Dense"] * 3
    pruned = tmp_path / "vgg-pruned.keras"
    code, out, _ = run(
        capsys, "export", vgg_shaped_path, "--k", "50", "--out", pruned, "--repeats", "1", "--json", "--data", mnist_dir
    )
    assert code == 0 and pruned.is_file()
    exported = json.loads(out)
    assert exported["sparsity_included"] == pytest.approx(0.5, abs=0.01)
    assert exported["report"]["latency_note"] == WHY  # sizes, and why there is no latency on MNIST
