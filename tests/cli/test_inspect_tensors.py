"""`prune-viz inspect MODEL --json` on models of new layer kinds: mode, parameter counts, every tensor
with its unit definition, and each tensor's sparsity when pruning options are given."""

from __future__ import annotations

import json

import numpy as np
import pytest

from prune_viz.cli import main

pytestmark = pytest.mark.keras_floor


def test_inspect_json_lists_every_tensor_with_its_unit(text_model_path, capsys):
    assert main(["inspect", str(text_model_path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["mode"] == "model"
    assert info["parameters"] == 200 * 16 + (16 * 48 + 12 * 48 + 48) + 4 * 12 + (12 * 2 + 2)
    assert info["prunable_parameters"] == 200 * 16 + 16 * 48 + 12 * 48 + 12 * 2
    assert info["share_shown"] == 1.0
    assert info["left_out"] == [{"layer": "norm", "why": "a normalisation layer: never pruned itself"}]
    rows = {row["name"]: row for row in info["tensors"]}
    assert list(rows) == ["embedding", "lstm/kernel", "lstm/recurrent_kernel", "head"]
    assert rows["lstm/recurrent_kernel"] == {
        "layer": "lstm",
        "name": "lstm/recurrent_kernel",
        "kind": "LSTM recurrent kernel",
        "shape": [12, 48],
        "units": 12,
        "unit_definition": "one hidden unit: its gate columns in both kernels and its row of the recurrent kernel",
    }
    assert rows["embedding"]["units"] == 16 and "embedding dimension" in rows["embedding"]["unit_definition"]
    assert all("sparsity" not in row for row in rows.values())  # no pruning asked for


def test_inspect_json_with_pruning_options_gives_each_tensors_sparsity(text_model_path, capsys):
    argv = ["inspect", str(text_model_path), "--json", "--method", "unit", "--k", "50", "--unit-mode", "remove"]
    assert main(argv) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)["tensors"]}
    assert rows["embedding"]["sparsity"] == 0.5  # 8 of 16 dimensions
    assert rows["lstm/kernel"]["sparsity"] == 0.5  # 6 of 12 hidden units: their 24 of 48 gate columns
    assert rows["lstm/recurrent_kernel"]["sparsity"] == 0.75  # their columns and their rows: 1 - 6*24/(12*48)
    assert rows["head"]["sparsity"] == 0.0  # the output layer is excluded by default
    assert main(["inspect", str(text_model_path), "--method", "weight", "--k", "25"]) == 0
    text = capsys.readouterr().out
    assert "one hidden unit: its gate columns" in text and "Left out:     norm" in text
    assert np.isclose(float(text.split("embedding")[-1].split("%")[0].split()[-1]), 25.0)
