"""prune-viz finetune, run as the user runs it, on real MNIST."""

from __future__ import annotations

import json

import numpy as np

from cli_helpers import run


def test_finetune_cli_keeps_masks_and_records_them(trained_mlp_path, capsys, mnist_dir, tmp_path):
    from prune_viz.core.io import load_model
    from prune_viz.core.pruning import PruningConfig
    from prune_viz.core.session import open_model

    out_path = tmp_path / "tuned.keras"
    code, out, err = run(
        capsys,
        "finetune",
        trained_mlp_path,
        "--method",
        "weight",
        "--k",
        "80",
        "--epochs",
        "1",
        "--data",
        mnist_dir,
        "--out",
        out_path,
        "--json",
    )
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
