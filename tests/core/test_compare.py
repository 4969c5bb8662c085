"""Comparing two prunings: with itself, swapped, and two checkpoints before and after fine-tuning."""

from __future__ import annotations

import numpy as np
import pytest

from prune_viz.core.compare import CompareError, compare, matching_layers, parse_spec, spec_of
from prune_viz.core.pruning import PruningConfig, PruningError
from prune_viz.core.session import open_model


@pytest.fixture(scope="module")
def opened(trained_mlp_path):
    return open_model(trained_mlp_path)


def config(opened, method, k, scope="layer"):
    return PruningConfig(method, k, scope, opened.default_included)


def test_parse_spec_reads_every_part_and_defaults_to_layer_scope():
    assert parse_spec("magnitude:weight:90") == ("magnitude", "weight", 90.0, "layer")
    assert parse_spec("random:unit:50:global") == ("random", "unit", 50.0, "global")
    assert spec_of(PruningConfig("unit", 50, "global", criterion="random")) == "random:unit:50:global"


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("weight:90", "criterion:method:k[:scope]"),
        ("magnitude:weight:90:layer:x", "criterion:method:k[:scope]"),
        ("size:weight:90", "criterion"),
        ("magnitude:channel:90", "method"),
        ("magnitude:weight:190", "k must be from 0 to 100"),
        ("magnitude:weight:ninety", "k must be a number"),
        ("magnitude:weight:90:everywhere", "scope"),
    ],
)
def test_parse_spec_refuses_in_one_sentence(text, fragment):
    with pytest.raises(PruningError) as info:
        parse_spec(text)
    message = str(info.value)
    assert fragment in message and "\n" not in message and message.endswith(".")


@pytest.mark.keras_floor
def test_a_setting_compared_with_itself_overlaps_fully_and_predicts_the_same(opened, mnist):
    same = config(opened, "weight", 80)
    result = compare(opened, same, opened, same, mnist, preprocessing="scale")
    assert result.overlap == {layer.name: 1.0 for layer in opened.layers}
    assert len(result.differing) == 0
    assert result.a.evaluation.accuracy == result.b.evaluation.accuracy
    assert not result.difference("hidden1").any()  # no disagreement anywhere


@pytest.mark.keras_floor
def test_swapping_the_sides_mirrors_the_comparison(opened, mnist):
    weight, unit = config(opened, "weight", 90), config(opened, "unit", 60)
    ab = compare(opened, weight, opened, unit, mnist, preprocessing="scale")
    ba = compare(opened, unit, opened, weight, mnist, preprocessing="scale")
    assert ab.overlap == ba.overlap
    assert ab.overlap["hidden1"] < 1.0 and ab.overlap["output"] == 1.0  # the output layer is not pruned
    assert np.array_equal(ab.differing, ba.differing) and len(ab.differing) > 0
    assert ab.a.evaluation.accuracy == ba.b.evaluation.accuracy
    assert ab.b.evaluation.accuracy == ba.a.evaluation.accuracy
    assert [(x.sparsity_a, x.sparsity_b) for x in ab.layers] == [(x.sparsity_b, x.sparsity_a) for x in ba.layers]
    # the differing images are exactly those whose predictions differ
    assert np.array_equal(ab.differing, np.flatnonzero(ab.a.evaluation.predicted != ab.b.evaluation.predicted))
    # the disagreement view: +1 kept by A only, -1 kept by B only
    diff = ab.difference("hidden1")
    assert np.array_equal(diff == 1, ab.a.kept("hidden1") & ~ab.b.kept("hidden1"))
    assert np.array_equal(diff == -1, ab.b.kept("hidden1") & ~ab.a.kept("hidden1"))


@pytest.mark.keras_floor
def test_jaccard_counts_the_kept_sets(opened, mnist):
    weight, unit = config(opened, "weight", 50), config(opened, "unit", 50)
    result = compare(opened, weight, opened, unit, mnist, preprocessing="scale")
    a, b = result.a.kept("hidden2"), result.b.kept("hidden2")
    assert result.overlap["hidden2"] == pytest.approx((a & b).sum() / (a | b).sum())


@pytest.mark.keras_floor
def test_the_models_are_left_unpruned(opened, mnist):
    before = [w.copy() for w in opened.loaded.keras_model.get_weights()]
    compare(opened, config(opened, "weight", 90), opened, config(opened, "unit", 90), mnist, preprocessing="scale")
    for got, want in zip(opened.loaded.keras_model.get_weights(), before):
        assert got.tobytes() == want.tobytes()


def test_before_and_after_fine_tuning_weights_change_only_where_the_masks_keep_them(opened, mnist, tmp_path):
    from prune_viz.core.finetune import finetune
    from prune_viz.core.io import save_keras_with_metadata

    pruned = config(opened, "weight", 90)
    tuned = finetune(opened, pruned, mnist, epochs=1, learning_rate=1e-3, seed=1, preprocessing="scale")
    path = save_keras_with_metadata(tuned.model, tmp_path / "tuned.keras", tuned.metadata)
    after = open_model(path)
    result = compare(opened, pruned, after, config(after, "weight", 0), mnist, preprocessing="scale")
    assert not result.same_model
    for name in ("hidden1", "hidden2"):
        delta = result.difference(name)
        kept = result.a.kept(name)
        assert np.count_nonzero(delta[~kept]) == 0, name
        assert np.count_nonzero(delta[kept]) > 0.5 * kept.sum(), name
        assert result.b.sparsity(name) == pytest.approx(0.9, abs=1e-3)
    # the output layer was not pruned, but fine-tuning trained all of it
    assert np.count_nonzero(result.difference("output")) > 0
    assert result.b.evaluation.accuracy == pytest.approx(tuned.accuracy_after)


@pytest.mark.keras_floor
def test_checkpoints_of_different_architectures_are_refused(opened, tmp_path):
    import keras

    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(48, name="hidden1"),
            keras.layers.Dense(32, name="hidden2"),
            keras.layers.Dense(10, name="output"),
        ]
    )
    model.save(tmp_path / "other.keras")
    other = open_model(tmp_path / "other.keras")
    with pytest.raises(CompareError, match=r"layer hidden1 is 784x64 in one and 784x48 in the other\.$"):
        matching_layers(opened, other)
