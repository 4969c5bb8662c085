"""``prune-viz spectrum``: each tensor's alpha, xmin, KS distance, spectral norm and stable rank, as JSON or
a table, pruned at k beside the original; a weights-only checkpoint needs no data."""

from __future__ import annotations

import json

import pytest

from prune_viz.core.pruning import PruningConfig
from prune_viz.core.session import open_model
from prune_viz.core.spectrum import VIEW_MATRIX, VIEW_PER_POSITION, layer_spectrum
from prune_viz.resources import demo_model_path

from cli_helpers import run

FIELDS = {"name", "alpha", "xmin", "ks_distance", "spectral_norm", "stable_rank"}


def test_json_has_each_layers_spectrum(capsys):
    code, out, err = run(capsys, "spectrum", demo_model_path(), "--json")
    assert code == 0, err
    info = json.loads(out)
    opened = open_model(demo_model_path())
    assert [row["name"] for row in info["layers"]] == [layer.name for layer in opened.layers]
    for row, layer in zip(info["layers"], opened.layers):
        assert FIELDS <= row.keys()
        assert row["alpha"] == pytest.approx(layer_spectrum(layer).fit.alpha, abs=1e-4)
        assert "original" not in row  # k = 0: nothing pruned


def test_pruned_at_k_beside_the_original(capsys):
    code, out, err = run(capsys, "spectrum", demo_model_path(), "--method", "unit", "--k", "50", "--json")
    assert code == 0, err
    rows = {row["name"]: row for row in json.loads(out)["layers"]}
    opened = open_model(demo_model_path())
    result = opened.pruner.prune(PruningConfig(method="unit", k=50.0, included=opened.default_included))
    fc1 = opened.layers[0]
    assert rows["fc1"]["alpha"] == pytest.approx(layer_spectrum(fc1, result.plans["fc1"]).fit.alpha, abs=1e-4)
    assert rows["fc1"]["rank_loss"] == 150 and rows["fc1"]["original"]["rank_loss"] == 0
    assert rows["output"]["alpha"] == rows["output"]["original"]["alpha"]  # excluded by default
    code, out, err = run(capsys, "spectrum", demo_model_path(), "--k", "50")
    assert code == 0, err
    assert "fc1" in out and "alpha" in out and "output*" in out  # output: fewer than 50 eigenvalues


def test_each_row_says_its_view(letters_cnn_path, capsys):
    """A convolution's numbers are of its kernel positions (3x3 positions of 1 x 4), a Dense kernel's of its
    matrix; the table says so too."""
    code, out, err = run(capsys, "spectrum", letters_cnn_path, "--json")
    assert code == 0, err
    rows = {row["name"]: row for row in json.loads(out)["layers"]}
    assert rows["conv"]["view"] == VIEW_PER_POSITION == "per kernel position (kh*kw slices of in x out)"
    assert rows["conv"]["matrix"] == [9, 4] and rows["conv"]["slices"] == 9 and rows["conv"]["slice"] == [1, 4]
    assert rows["conv"]["eigenvalues"] == 9  # one per position: each 1 x 4 slice has rank 1
    assert rows["hidden"]["view"] == rows["letters"]["view"] == VIEW_MATRIX
    assert rows["hidden"]["slices"] == 1 and rows["hidden"]["slice"] == rows["hidden"]["matrix"] == [676, 16]
    code, out, err = run(capsys, "spectrum", letters_cnn_path)
    assert code == 0, err
    assert "9 x (1 x 4)" in out and "676 x 16" in out and "kernel positions, as WeightWatcher" in out


@pytest.mark.slow
def test_a_weights_only_checkpoint(weights_only_models, capsys):
    code, out, err = run(capsys, "spectrum", weights_only_models.path("custom.keras"), "--json")
    assert code == 0, err
    layers = json.loads(out)["layers"]
    assert layers and all(FIELDS <= row.keys() for row in layers)
    assert any(row["alpha"] is not None for row in layers)
