"""Which filters each convolution kind holds (views/filter_data.py): a filter is what one output unit sees,
pruned cells come from the plan, and 3D kernels and Dense layers hold none to draw."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from prune_viz.core.io import LoadedModel
from prune_viz.core.layers import find_prunable_layers, model_parameter_count
from prune_viz.core.pruning import Pruner, PruningConfig
from prune_viz.core.session import OpenedModel
from prune_viz.gui.views.colours import DIVERGING, PRUNED_RGB, rgb32
from prune_viz.gui.views.filter_data import (
    GAP,
    arrangement,
    default_mode,
    filter_picture,
    filter_tensors,
    filters_of,
    unit_of_filters,
    why_no_filters,
)


@pytest.fixture(scope="module")
def opened_kinds():
    import keras

    keras.utils.set_random_seed(2)
    x = keras.Input((16, 16, 3))
    y = keras.layers.Conv2D(5, 3, name="conv")(x)
    y = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, name="depthwise")(y)
    y = keras.layers.Conv2DTranspose(4, 3, name="transpose")(y)
    y = keras.layers.SeparableConv2D(6, 3, name="separable")(y)
    y = keras.layers.Reshape((-1, 6))(y)
    y = keras.layers.Conv1D(7, 5, name="conv1d")(y)
    y = keras.layers.GlobalAveragePooling1D()(y)
    model = keras.Model(x, keras.layers.Dense(3, name="out")(y))
    loaded = LoadedModel(path=Path("kinds.keras"), format="test", keras_model=model)
    layers = find_prunable_layers(loaded)
    return OpenedModel(loaded, layers, Pruner(layers), model_parameter_count(loaded), 0)


def tensor(opened, name):
    return next(t for t in opened.layers if t.name == name)


def test_each_kind_gives_its_filters_as_units_see_them(opened_kinds):
    names = [t.name for t in filter_tensors(opened_kinds)]
    assert names == ["conv", "depthwise", "transpose", "separable/depthwise_kernel", "conv1d"]
    conv, depthwise, transpose = (tensor(opened_kinds, n) for n in ("conv", "depthwise", "transpose"))
    assert filters_of(conv, conv.original).shape == (5, 3, 3, 3)
    np.testing.assert_array_equal(filters_of(conv, conv.original)[4], conv.original[..., 4])
    assert filters_of(depthwise, depthwise.original).shape == (10, 3, 3, 1)  # 5 channels x multiplier 2
    np.testing.assert_array_equal(filters_of(depthwise, depthwise.original)[3, ..., 0], depthwise.original[:, :, 1, 1])
    assert unit_of_filters(depthwise).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    # a transposed kernel is (kh, kw, filters, in): output filter j is its [:, :, j, :]
    np.testing.assert_array_equal(filters_of(transpose, transpose.original)[2], transpose.original[:, :, 2, :])
    conv1d = tensor(opened_kinds, "conv1d")
    assert filters_of(conv1d, conv1d.original).shape == (7, 1, 5, 6)  # one row of pixels
    assert unit_of_filters(tensor(opened_kinds, "separable/depthwise_kernel")).tolist() == [-1] * 4
    assert [default_mode(tensor(opened_kinds, n)) for n in ("conv", "depthwise", "conv1d")] == [
        "colour",
        "channel",
        "norm",
    ]
    assert arrangement("Conv3D", 5) is None and arrangement("Dense", 2) is None


def test_unit_pruning_greys_the_pruned_filters_whole(opened_kinds):
    config = PruningConfig(method="unit", k=60.0, included=frozenset({"transpose"}))
    result = opened_kinds.pruner.prune(config)
    picture = filter_picture(opened_kinds, "transpose", result, "norm", 0, DIVERGING, (255, 255, 255))
    kept_units = result.plans["transpose"].kept_units
    np.testing.assert_array_equal(picture.pruned, ~kept_units)
    grey = rgb32(PRUNED_RGB)
    for j in range(picture.count):
        inside = picture.tiles[j, :-GAP, :-GAP]
        assert (inside == grey).all() == (not kept_units[j])
    assert picture.describe(int(np.flatnonzero(~kept_units)[0])).endswith("- pruned")


def test_a_dense_model_says_why_it_has_no_filters(trained_mlp_path):
    from prune_viz.core.session import open_model

    opened = open_model(trained_mlp_path)
    assert filter_tensors(opened) == []
    assert "no convolution layers" in why_no_filters(opened)
