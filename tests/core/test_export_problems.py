"""Why an export cannot work is known before any dialog opens (core.export.compaction_problem)."""

from __future__ import annotations

import pytest

from prune_viz.core.export import compaction_problem, export_problem
from prune_viz.core.session import open_model

pytestmark = pytest.mark.keras_floor


def _opened(model, tmp_path, name="model.keras"):
    model.save(tmp_path / name)
    return open_model(tmp_path / name)


def test_a_layer_compaction_cannot_see_through_refuses_it_and_batch_normalization_does_not(tmp_path):
    import keras

    def chain(middle):
        return keras.Sequential(
            [keras.Input((28, 28, 1)), keras.layers.Conv2D(4, 3, name="conv"), middle, keras.layers.Flatten()]
            + [keras.layers.Dense(10, name="out")]
        )

    opened = _opened(chain(keras.layers.LayerNormalization(name="norm")), tmp_path)
    assert export_problem(opened) is None  # zeros in place still work
    problem = compaction_problem(opened, "unit")
    assert problem is not None and "LayerNormalization" in problem and "(norm)" in problem and "conv" in problem
    # a BatchNormalization maps a dead channel's constant to a constant: its channel goes too
    assert (
        compaction_problem(_opened(chain(keras.layers.BatchNormalization(name="bn")), tmp_path, "bn.keras"), "unit")
        is None
    )


def test_a_plain_chain_compacts_only_under_unit_pruning(trained_mlp_path):
    opened = open_model(trained_mlp_path)
    assert compaction_problem(opened, "unit") is None
    assert "unit pruning" in compaction_problem(opened, "weight")


def test_a_savedmodel_cannot_be_written_back_as_keras(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, name="out")])
    model.export(str(tmp_path / "saved"), verbose=False)
    opened = open_model(tmp_path / "saved")
    for problem in (export_problem(opened), compaction_problem(opened, "unit")):
        assert "SavedModel" in problem and ".keras" in problem
