"""A VGG-shaped CNN (VGG-16's 224x224x3 input, its 13 3x3 Conv2D layers in five pooled blocks and its
3 Dense layers, only narrower): it opens, every slider mode prunes it as asked, and restore gives back
every weight exactly. MNIST cannot feed it: evaluating says why in one sentence, before any data is read."""

from __future__ import annotations

import numpy as np
import pytest

from prune_viz.core.inputs import EvaluationUnavailable, cannot_feed_mnist
from prune_viz.core.pruning import count_to_prune
from prune_viz.core.session import Session, open_model

pytestmark = pytest.mark.keras_floor

WHY = cannot_feed_mnist([224, 224, 3])  # its exact words: tests/core/test_evaluation.py


@pytest.fixture(scope="module")
def opened_vgg(vgg_shaped_path):
    return open_model(vgg_shaped_path)


def _weights(opened) -> list[np.ndarray]:
    return [np.array(w.numpy()) for w in opened.loaded.keras_model.weights]


def test_every_conv_and_dense_layer_is_prunable(opened_vgg):
    layers = opened_vgg.layers
    assert [layer.kind for layer in layers] == ["Conv2D"] * 13 + ["Dense"] * 3
    assert layers[0].shape == (3, 3, 3, 4) and layers[1].shape == (3, 3, 4, 4)
    assert layers[13].shape == (7 * 7 * 8, 32)  # five 2x2 pools take 224 down to 7
    assert [layer.name for layer in layers if layer.is_output] == ["predictions"]
    assert opened_vgg.default_included == frozenset(layer.name for layer in layers[:-1])
    assert opened_vgg.evaluation_problem == WHY


@pytest.mark.parametrize(
    "method,scope,unit_mode",
    [
        ("weight", "layer", "kernel"),
        ("weight", "global", "kernel"),
        ("unit", "layer", "kernel"),
        ("unit", "global", "kernel"),
        ("unit", "global", "remove"),
    ],
)
def test_every_slider_mode_prunes_as_asked_and_restores_exactly(opened_vgg, method, scope, unit_mode):
    model = opened_vgg.loaded.keras_model
    x = np.random.default_rng(0).random((2, 224, 224, 3), dtype=np.float32)
    outputs_before = model(x).numpy()
    weights_before = _weights(opened_vgg)
    session = Session()
    session.set_model(opened_vgg)
    pruner = opened_vgg.pruner
    pruner.apply(session.configure(method=method, scope=scope, unit_mode=unit_mode, k=50.0))
    included = [layer for layer in opened_vgg.layers if layer.name in opened_vgg.default_included]
    kernels = {layer.name: np.array(layer.variable.numpy()) for layer in opened_vgg.layers}
    output = opened_vgg.layers[-1]
    assert np.array_equal(kernels[output.name], output.original)  # excluded by default: untouched
    if method == "weight":
        zeros = {layer.name: int(np.count_nonzero(kernels[layer.name] == 0)) for layer in included}
        if scope == "layer":
            assert zeros == {layer.name: count_to_prune(layer.size, 50.0) for layer in included}
        else:
            assert sum(zeros.values()) == count_to_prune(sum(layer.size for layer in included), 50.0)
        pruned = np.concatenate([np.abs(layer.original[kernels[layer.name] == 0]) for layer in included])
        kept = np.concatenate([np.abs(layer.original[kernels[layer.name] != 0]) for layer in included])
        if scope == "global":  # the smallest |w| of all the included kernels together
            assert pruned.max() <= kept.min()
        else:
            for layer in included:
                original = np.abs(layer.original)
                assert original[kernels[layer.name] == 0].max() <= original[kernels[layer.name] != 0].min()
    else:
        dead, norms_dead, norms_kept = {}, [], []
        for layer in included:
            matrix = layer.as_matrix(kernels[layer.name])
            gone = ~matrix.any(axis=0)  # a pruned unit (a conv filter, a Dense column) is all zero
            kept_columns = matrix[:, ~gone]
            assert np.array_equal(kept_columns, layer.as_matrix(layer.original)[:, ~gone])
            dead[layer.name] = int(gone.sum())
            norms = np.linalg.norm(layer.as_matrix(layer.original), axis=0)
            norms_dead.append(norms[gone])
            norms_kept.append(norms[~gone])
        if scope == "layer":
            assert dead == {layer.name: count_to_prune(layer.units, 50.0) for layer in included}
        else:
            assert sum(dead.values()) == count_to_prune(sum(layer.units for layer in included), 50.0)
            assert np.concatenate(norms_dead).max() <= np.concatenate(norms_kept).min()
        if unit_mode == "remove":  # the pruned filters' biases go too
            conv = included[0]
            bias = np.array(model.get_layer(conv.name).bias.numpy())
            gone = ~conv.as_matrix(kernels[conv.name]).any(axis=0)
            assert gone.any() and np.all(bias[gone] == 0)
    pruner.restore()
    for before, after in zip(weights_before, _weights(opened_vgg), strict=True):
        assert np.array_equal(before, after)
    assert np.array_equal(model(x).numpy(), outputs_before)


def test_evaluating_says_why_before_looking_for_data(opened_vgg, tmp_path):
    session = Session()  # the default MNIST: the shape is said before the bundled test set is read
    session.set_model(opened_vgg)
    session.configure(k=30.0)
    assert session.evaluation_problem == WHY
    with pytest.raises(EvaluationUnavailable) as raised:
        session.evaluate()
    assert str(raised.value) == WHY
    assert session.result.included_sparsity() == pytest.approx(0.3, abs=0.01)  # pruning still works


def test_size_and_speed_gives_sizes_and_says_why_there_is_no_latency(opened_vgg, mnist):
    from prune_viz.core.export import size_and_speed
    from prune_viz.core.pruning import PruningConfig

    report = size_and_speed(
        opened_vgg, PruningConfig("weight", 50.0, "layer", opened_vgg.default_included), mnist, repeats=1
    )
    assert report.latency_note == WHY
    assert report.rows and all(row.bytes > 0 and row.latency_seconds is None for row in report.rows)
    assert report.test_images == 0
