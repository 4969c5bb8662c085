"""Exporting a model opened from its weights only: the pruned weights the Pruner writes into its stored
variables go into a copy of its file, which its own code loads; what needs the whole model says why not."""

from __future__ import annotations

import numpy as np
import pytest

from prune_viz.core.export import (
    ExportError,
    compaction_problem,
    export_problem,
    export_pruned,
    export_stored_weights,
    model_problem,
    pruned_stored_arrays,
    size_and_speed,
)
from prune_viz.core.io import variable_copy
from prune_viz.core.layers import PrunableLayer
from prune_viz.core.pruning import Pruner, PruningConfig
from prune_viz.core.session import OpenedModel, open_model

pytestmark = pytest.mark.slow  # the checkpoints are saved by processes of their own


def with_prunable_kernels(opened) -> tuple[OpenedModel, dict]:
    """``opened`` with a Pruner over its 2-D stored weights as Dense kernels (the stand-in for the lead's
    mapping of stored layers to prunable tensors), and {prunable name: (layer path, weight name)}."""
    layers, where = [], {}
    for stored_layer in opened.loaded.stored_layers:
        for stored in stored_layer.variables:
            if len(stored.shape) == 2:
                name = f"{stored_layer.path}/{stored.name}"
                inner = getattr(stored.variable, "value", None)  # a Keras Variable's tf.Variable
                variable = inner if hasattr(inner, "assign") else stored.variable
                layers.append(PrunableLayer(name, "Dense", variable, variable_copy(stored.variable)))
                where[name] = stored
    return OpenedModel(opened.loaded, layers, Pruner(layers), opened.total_parameters, opened.other_zeros), where


def test_export_writes_the_pruned_weights_into_a_copy(weights_only_models, tmp_path):
    opened, where = with_prunable_kernels(open_model(weights_only_models.path("custom.h5")))
    assert {"emb/embeddings", "pool/wq", "pool/wv", "head/kernel"} <= set(where)
    originals = {stored: np.array(stored.variable.numpy()) for stored in opened.loaded.stored_variables}
    config = PruningConfig(k=50, included=frozenset(where))
    result = opened.pruner.prune(config)
    masked = {name: np.asarray(kernel.numpy()) for name, kernel in result.kernels.items()}
    exported = export_pruned(opened, config, tmp_path / "pruned.h5")
    assert exported.path.stat().st_size == exported.bytes and not exported.compacted
    for stored, values in originals.items():  # the opened model keeps its weights
        np.testing.assert_array_equal(stored.variable.numpy(), values)
    found = weights_only_models.load_as_their_code_does([exported.path])[exported.path]
    saved = weights_only_models.saved_weights("custom.h5")
    for name, kernel in masked.items():  # named in custom.h5 as in the code's model
        assert np.count_nonzero(kernel == 0) >= kernel.size // 2 - 1
        np.testing.assert_array_equal(found[name], kernel, err_msg=name)
    for key, values in saved.items():  # every weight not pruned is as saved
        if key not in masked:
            np.testing.assert_array_equal(found[key], values, err_msg=key)


def test_export_takes_arrays_by_stored_variable_or_dataset(weights_only_models, tmp_path):
    opened = open_model(weights_only_models.path("custom.keras"))
    head = next(layer for layer in opened.loaded.stored_layers if layer.path == "head")
    kernel, bias = head.variables
    arrays = {kernel: np.zeros(kernel.shape, np.float32), bias.dataset: np.full(bias.shape, 3.0, np.float32)}
    path = export_stored_weights(opened, arrays, tmp_path / "head.keras")
    found = weights_only_models.load_as_their_code_does([path])[path]
    np.testing.assert_array_equal(found["head/kernel"], 0)
    np.testing.assert_array_equal(found["head/bias"], 3.0)
    # with no pruning at all the copy carries every weight as stored
    same = pruned_stored_arrays(opened, opened.pruner.prune(PruningConfig(k=0)))
    assert all(np.array_equal(values, stored.variable.numpy()) for stored, values in same.items())


@pytest.mark.keras_floor
def test_what_needs_the_model_says_why_not(weights_only_models, tmp_path):
    opened = open_model(weights_only_models.path("k2-lambda.h5"))
    assert export_problem(opened) is None
    why = model_problem(opened)
    assert why.startswith("k2-lambda.h5 was opened from its weights only") and "File > Export" in why
    assert compaction_problem(opened, "unit") == why
    with pytest.raises(ExportError, match="weights only"):
        export_pruned(opened, PruningConfig(method="unit", k=50), tmp_path / "c.h5", compact=True)
    with pytest.raises(ExportError, match="weights only"):
        size_and_speed(opened, PruningConfig(k=50))
    assert not (tmp_path / "c.h5").exists()
