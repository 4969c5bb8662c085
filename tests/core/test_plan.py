"""Typed pruning plans: the mask a plan states is the rule's mask, on any strided window, and it
is exactly what the Pruner writes into the TensorFlow variables."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import tensorflow as tf  # imported before hypothesis runs: the import raises the recursion limit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from hypothesis_profiles import examples as scaled

from prune_viz.core import kernel_writer, magnitudes, planner, pruning, row_blocks
from prune_viz.core.layers import PrunableLayer
from prune_viz.core.plan import UnitPlan, WeightPlan
from prune_viz.core.pruning import Pruner, PruningConfig, count_to_prune
from prune_viz.core.shared_buffers import aligned_copy

# few distinct magnitudes, so that ties (also across layers and across the sign) are everywhere
TIED_VALUES = [0.0, -0.0, 0.25, -0.25, 0.5, -0.5, 0.75, 1.0, -1.0, 1.5, 2.0]
NAN_VALUES = TIED_VALUES + [float("nan")]
KS = st.one_of(
    st.sampled_from([0.0, 100.0, 50.0, 12.5, 99.9, 0.1]), st.integers(0, 100).map(float), st.floats(0.0, 100.0)
)


def hypothesis_settings(examples: int) -> settings:
    return settings(
        max_examples=scaled(examples),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def tied_arrays(shape, values=TIED_VALUES):
    return hnp.arrays(np.float32, shape, elements=st.sampled_from(values).map(np.float32))


def matrix_of(kernel: np.ndarray) -> np.ndarray:
    return kernel.reshape(-1, kernel.shape[-1])


def rule_masks(kernels: list[np.ndarray], method: str, k: float, scope: str) -> list[np.ndarray]:
    """The (fan_in, units) keep-masks by the documented rule, from first principles: a stable
    argsort of |w| (or of the unit L2 norms) over each layer, or over all of them for global
    scope, and the first round(n*k/100) pruned. NaN sorts last in numpy as in the rule."""
    matrices = [matrix_of(kernel) for kernel in kernels]
    groups = [matrices] if scope == "global" else [[m] for m in matrices]
    masks = []
    for group in groups:
        if method == "weight":
            scores = np.concatenate([np.abs(m).ravel() for m in group])
        else:  # exact in float64 here: the values are multiples of 1/4
            scores = np.concatenate([np.sqrt((m.astype(np.float64) ** 2).sum(axis=0)) for m in group])
        pruned = np.zeros(len(scores), bool)
        pruned[np.argsort(scores, kind="stable")[: count_to_prune(len(scores), k)]] = True
        start = 0
        for m in group:
            count = m.size if method == "weight" else m.shape[1]
            kept = ~pruned[start : start + count]
            start += count
            masks.append(kept.reshape(m.shape) if method == "weight" else np.broadcast_to(kept, m.shape))
    return masks


def windows(shape: tuple[int, int]):
    """Strided windows rows r0:r1:rstep, cols c0:c1:cstep (bounds may be None or past the end)."""

    def axis(n):
        bound = st.one_of(st.none(), st.integers(0, n + 2))
        return st.builds(slice, bound, bound, st.one_of(st.none(), st.integers(1, 5)))

    return st.tuples(axis(shape[0]), axis(shape[1]))


def pruner_of(kernels: list[np.ndarray], names: list[str]) -> Pruner:
    """A fresh Pruner of Dense (2-D) and Conv2D (4-D) ``kernels`` named ``names``."""
    return Pruner(
        [
            PrunableLayer(name, "Dense" if kernel.ndim == 2 else "Conv2D", tf.Variable(kernel), aligned_copy(kernel))
            for name, kernel in zip(names, kernels)
        ]
    )


def check_plans_against_the_rule(data, kernels, method, scope, ks):
    names = [f"layer{i}" for i in range(len(kernels))]
    pruner = pruner_of(kernels, names)
    layers = pruner.layers
    for k in ks:
        result = pruner.prune(PruningConfig(method, k, scope, frozenset(names)))
        expected = rule_masks(kernels, method, k, scope)
        pruner.apply(result)
        for layer, rule in zip(layers, expected):
            where = f"{method} {scope} k={k} {layer.name} {layer.shape}"
            plan = result.plans[layer.name]
            assert isinstance(plan, WeightPlan if method == "weight" else UnitPlan), where
            matrix = layer.as_matrix(layer.original)
            full = plan.kept(matrix)
            np.testing.assert_array_equal(full, rule, err_msg=where)
            for _ in range(3):
                rows, cols = data.draw(windows(matrix.shape))
                window = plan.kept(matrix, rows, cols)
                np.testing.assert_array_equal(window, full[rows, cols], err_msg=f"{where} [{rows}, {cols}]")
            # what the pruner wrote: zeros where pruned, the original bits where kept
            written = layer.as_matrix(layer.variable.numpy())
            assert np.all(written[~rule] == 0), where
            np.testing.assert_array_equal(written.view(np.uint32)[rule], matrix.view(np.uint32)[rule], err_msg=where)
            np.testing.assert_array_equal(layer.as_matrix(result.masks[layer.name].numpy()), rule, err_msg=where)
            stats = result.layer(layer.name)
            assert plan.pruned == stats.pruned == int((~rule).sum()), where
            assert stats.pruned_units == int((~rule).all(axis=0).sum()), where
            assert stats.zeros == int(np.count_nonzero(written == 0)), where
    pruner.restore()
    for layer in layers:
        assert layer.variable.numpy().tobytes() == layer.original.tobytes()


@st.composite
def small_kernels(draw, values=TIED_VALUES):
    """A Dense-shaped and a Conv2D-shaped kernel, small enough for the eager (numpy) writes."""
    dense = draw(tied_arrays((draw(st.integers(1, 20)), draw(st.integers(1, 8))), values))
    conv_shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(1, 5)))
    return [dense, draw(tied_arrays(conv_shape, values))]


@pytest.mark.slow
@hypothesis_settings(60)
@given(
    data=st.data(),
    kernels=small_kernels(),
    method=st.sampled_from(["weight", "unit"]),
    scope=st.sampled_from(["layer", "global"]),
    ks=st.lists(KS, min_size=1, max_size=4),
)
def test_small_layers_prune_by_the_plan(data, kernels, method, scope, ks):
    check_plans_against_the_rule(data, kernels, method, scope, ks)


@hypothesis_settings(25)
@given(
    data=st.data(),
    kernels=small_kernels(NAN_VALUES),
    method=st.sampled_from(["weight", "unit"]),
    scope=st.sampled_from(["layer", "global"]),
    ks=st.lists(KS, min_size=1, max_size=3),
)
def test_nan_weights_sort_last(data, kernels, method, scope, ks):
    check_plans_against_the_rule(data, kernels, method, scope, ks)


@pytest.mark.slow
@hypothesis_settings(20)
@given(
    data=st.data(),
    big=tied_arrays((40, 12)),
    other=tied_arrays((30, 7)),
    method=st.sampled_from(["weight", "unit"]),
    scope=st.sampled_from(["layer", "global"]),
    ks=st.lists(KS, min_size=1, max_size=3),
)
def test_blocked_layers_are_written_by_the_fused_kernels_as_the_plan_says(data, big, other, method, scope, ks):
    """With a tiny block size both layers count as big: they are written row block by row block
    through the XLA kernels fed the plan's threshold, cut and kept units, from thresholds read
    bucket by bucket."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kernel_writer, "BLOCK_ELEMENTS", 96)
        patch.setattr(row_blocks, "BLOCK_ELEMENTS", 96)
        patch.setattr(magnitudes, "SORTED_WHOLE", 0)  # and their order is read bucket by bucket
        assert big.size > kernel_writer.BLOCK_ELEMENTS and other.size > kernel_writer.BLOCK_ELEMENTS
        check_plans_against_the_rule(data, [big, other], method, scope, ks)


@pytest.mark.parametrize("method", ["weight", "unit"])
@pytest.mark.parametrize("scope", ["layer", "global"])
def test_k0_keeps_everything_and_k100_prunes_everything(method, scope):
    rng = np.random.default_rng(3)
    kernels = [
        (rng.integers(-3, 4, size=(9, 5)) / 2).astype(np.float32),
        (rng.integers(-3, 4, size=(5, 4)) / 2).astype(np.float32),
    ]
    layers = [PrunableLayer(f"l{i}", "Dense", tf.Variable(k), k.copy()) for i, k in enumerate(kernels)]
    pruner = Pruner(layers)
    included = frozenset({"l0", "l1"})
    scores = {
        layer.name: np.abs(k) if method == "weight" else np.sqrt((k.astype(np.float64) ** 2).sum(axis=0))
        for layer, k in zip(layers, kernels)
    }

    def largest(name):  # the threshold at k=100: the largest |w| or unit norm, over all layers for global scope
        return float(max(s.max() for s in scores.values()) if scope == "global" else scores[name].max())

    nothing = pruner.prune(PruningConfig(method, 0, scope, included))
    everything = pruner.prune(PruningConfig(method, 100, scope, included))
    for layer, kernel in zip(layers, kernels):
        none_pruned, all_pruned = nothing.plans[layer.name], everything.plans[layer.name]
        assert none_pruned.threshold is None and none_pruned.pruned == 0
        assert none_pruned.kept(kernel).all() and none_pruned.kept(kernel, slice(1, None, 2)).all()
        assert all_pruned.pruned == kernel.size and not all_pruned.kept(kernel).any()
        assert all_pruned.threshold == largest(layer.name)
        pruner.apply(everything)
        assert not layer.variable.numpy().any()
    pruner.restore()


def test_weight_plan_states_threshold_and_cut():
    """Eight weights of |w| 0.5; pruning 5 of 10 prunes the zero and then the first 4 of the 0.5s
    in flat order: the cut is the flat index just after the 4th."""
    kernel = np.array([[0.5, -0.5, 2.0, 0.5, 0.5], [0.0, 0.5, -0.5, 0.5, 0.5]], np.float32)
    pruner = Pruner([PrunableLayer("w", "Dense", tf.Variable(kernel), kernel.copy())])
    plan = pruner.prune(PruningConfig("weight", 50, "layer", {"w"})).plans["w"]
    assert plan == WeightPlan((2, 5), 5, 0.5, 5)  # the 0.5s at flat 0, 1, 3, 4 go; those from 6 on stay
    assert not plan.prunes_every_tie and plan.cut_cell == (1, 0)
    np.testing.assert_array_equal(
        plan.kept(kernel), [[False, False, True, False, False], [False, True, True, True, True]]
    )
    np.testing.assert_array_equal(
        plan.kept(kernel, slice(None, None, 1), slice(3, None)), [[False, False], [True, True]]
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.cut = 0
    with pytest.raises(ValueError):
        plan.kept(kernel.T)


def test_unit_plan_is_immutable_and_needs_no_weights():
    plan = UnitPlan((3, 4), np.array([True, False, True, False]), 0.7)
    assert plan.pruned_units == 2 and plan.pruned == 6
    with pytest.raises(ValueError):
        plan.kept_units[0] = False
    np.testing.assert_array_equal(plan.kept(rows=slice(0, 2), cols=slice(None, None, 2)), np.ones((2, 2), bool))
    np.testing.assert_array_equal(plan.kept()[:, 1], [False] * 3)
    with pytest.raises(ValueError):
        UnitPlan((3, 4), np.ones(3, bool), None)


@hypothesis_settings(15)
@given(
    big=tied_arrays((40, 12), NAN_VALUES),
    other=tied_arrays((30, 7)),
    scope=st.sampled_from(["layer", "global"]),
    criterion=st.sampled_from(["magnitude", "lamp"]),
    start=st.integers(0, 100),
    ks=st.lists(st.integers(0, 100), min_size=1, max_size=5),
)
def test_plans_computed_ahead_are_the_rules_and_need_no_bucket_read(big, other, scope, criterion, start, ks):
    """warm_up computes every whole-percent k's plans (with ties, NaNs, across layers) ahead: a
    step then reads no bucket, and its plans and counts are those a fresh pruner computes."""
    names = ["big", "other"]
    kernels = [big, other]
    config = PruningConfig("weight", start, scope, frozenset(names), criterion=criterion)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(magnitudes, "SORTED_WHOLE", 0)  # thresholds are bucket reads, as in a big layer
        warmed = pruner_of(kernels, names)
        warmed.prune(config)  # the settings on screen: their scores are sorted on this thread
        assert warmed.needs_warm_up(config)
        assert warmed.warm_up(config) == len(pruning.SLIDER_KS)
        fresh = pruner_of(kernels, names)
        patch.setattr(magnitudes.MagnitudeOrder, "_read", lambda *_: pytest.fail("a step read a bucket"))
        for k in ks:
            result = warmed.prune(config.with_k(k))
            patch.undo()
            expected = fresh.prune(config.with_k(k))
            patch.setattr(magnitudes.MagnitudeOrder, "_read", lambda *_: pytest.fail("a step read a bucket"))
            assert repr(result.plans) == repr(expected.plans), k  # repr: a NaN threshold equals itself
            assert result.layers == expected.layers, k
            if criterion == "magnitude":
                for name, rule in zip(names, rule_masks(kernels, "weight", k, scope)):
                    np.testing.assert_array_equal(
                        result.plans[name].kept(warmed.layers[names.index(name)].original), rule
                    )


def test_a_warm_up_reads_the_groups_of_several_ks_in_one_pass(monkeypatch):
    """A group read is a pass over the layer's weights: the warm-up reads the groups of a run of
    neighbouring ks in one pass, instead of a pass per k, and its plans are the rules."""
    monkeypatch.setattr(magnitudes, "SORTED_WHOLE", 0)
    kernel = np.random.default_rng(4).normal(size=(300, 200)).astype(np.float32)
    pruner = Pruner([PrunableLayer("big", "Dense", tf.Variable(kernel), aligned_copy(kernel))])
    reads = []
    read = magnitudes.MagnitudeOrder._read
    monkeypatch.setattr(
        magnitudes.MagnitudeOrder, "_read", lambda order, groups: reads.append(groups) or read(order, groups)
    )
    for scope in ("layer", "global"):
        config = PruningConfig("weight", 40, scope, frozenset({"big"}))
        pruner.prune(config)
        reads.clear()
        assert pruner.warm_up(config) == len(pruning.SLIDER_KS)
        groups = {g for batch in reads for g in batch}
        assert len(groups) >= 90  # nearly every k's threshold lies in a group of its own ...
        assert len(reads) <= len(groups) / 3, scope  # ... read several to a pass
        for k in (0, 13, 40, 77, 100):
            np.testing.assert_array_equal(
                pruner.prune(config.with_k(k)).plans["big"].kept(kernel), rule_masks([kernel], "weight", k, scope)[0]
            )


def test_warm_up_takes_the_ks_nearest_to_the_slider_first_in_runs():
    runs = planner.runs_from(37.5)
    assert runs[:3] == [[38, 39, 40, 41], [37, 36, 35, 34], [42, 43, 44, 45]]
    assert sorted(k for run in runs for k in run) == list(pruning.SLIDER_KS)
    assert planner.runs_from(100)[:2] == [[100], [99, 98, 97, 96]]


def test_warm_up_stops_at_scores_the_settings_have_moved_away_from(monkeypatch):
    """A warm-up of a random seed the user has left stops without computing that seed's scores
    again (which would forget the current seed's): the current seed's steps still compute none."""
    rng = np.random.default_rng(1)
    kernel = rng.normal(size=(50, 20)).astype(np.float32)
    pruner = Pruner([PrunableLayer("only", "Dense", tf.Variable(kernel), aligned_copy(kernel))])
    monkeypatch.setattr(magnitudes, "SORTED_WHOLE", 0)
    left = PruningConfig("weight", 30, "layer", frozenset({"only"}), criterion="random", seed=1)
    current = left.__class__(**{**dataclasses.asdict(left), "seed": 2, "included": frozenset({"only"})})
    pruner.prune(left)
    pruner.prune(current)  # the seed spin box moved on: seed 1's scores are forgotten
    assert pruner.warm_up(left) == 0
    from prune_viz.core import criteria

    monkeypatch.setattr(criteria, "random_scores", lambda *_: pytest.fail("scores computed again"))
    assert pruner.warm_up(current) == len(pruning.SLIDER_KS)
    assert pruner.prune(current.with_k(77)).plans["only"].pruned == count_to_prune(kernel.size, 77)


def test_small_weight_layers_need_no_warm_up():
    rng = np.random.default_rng(2)
    kernel = rng.normal(size=(50, 20)).astype(np.float32)
    pruner = Pruner([PrunableLayer("only", "Dense", tf.Variable(kernel), aligned_copy(kernel))])
    weight = PruningConfig("weight", 10, "layer", frozenset({"only"}))
    pruner.prune(weight)
    assert not pruner.needs_warm_up(weight)  # sorted whole when opened: a step is lookups already
    assert pruner.warm_up(weight) == 0
    assert not pruner.needs_warm_up(weight.__class__("weight", 10, "layer", frozenset({"another model's"})))


def test_a_step_reads_weights_only_for_weight_pruning_of_a_layer_not_sorted_whole(monkeypatch):
    """The step cost the window asks before a slider step: a unit step is a few NumPy calls (it
    gains from a warm-up but never waits for one), a weight step reads a pass over a big layer's
    weights until its order is sorted whole."""
    kernel = np.random.default_rng(6).normal(size=(60, 40)).astype(np.float32)
    unit = PruningConfig("unit", 30, "layer", frozenset({"only"}))
    weight = PruningConfig("weight", 30, "global", frozenset({"only"}))
    small = Pruner([PrunableLayer("only", "Dense", tf.Variable(kernel), aligned_copy(kernel))])
    small.prune(weight)
    assert small.needs_warm_up(unit) and not small.step_reads_weights(unit)
    assert not small.step_reads_weights(weight)  # sorted whole when opened
    monkeypatch.setattr(magnitudes, "SORTED_WHOLE", 0)
    big = Pruner([PrunableLayer("only", "Dense", tf.Variable(kernel), aligned_copy(kernel))])
    assert big.step_reads_weights(weight) and big.needs_warm_up(weight)
    assert not big.step_reads_weights(unit)
    assert not big.step_reads_weights(weight.__class__("weight", 10, "layer", frozenset({"another model's"})))


@pytest.mark.parametrize("scope", ["layer", "global"])
def test_unit_plans_computed_ahead_are_the_rules_and_a_step_computes_none(monkeypatch, scope):
    rng = np.random.default_rng(3)
    kernels = [rng.normal(size=(40, 9)).astype(np.float32), rng.normal(size=(3, 3, 2, 7)).astype(np.float32)]
    names = ["dense", "conv"]
    config = PruningConfig("unit", 30, scope, frozenset(names))
    warmed = pruner_of(kernels, names)
    warmed.prune(config)
    assert warmed.needs_warm_up(config)
    assert warmed.warm_up(config) == len(pruning.SLIDER_KS)
    fresh = pruner_of(kernels, names)
    computed = planner.Planner._unit_plan_counted
    for k in (0, 1, 29, 64, 100):
        monkeypatch.setattr(planner.Planner, "_unit_plan_counted", lambda *_: pytest.fail("a step computed a plan"))
        result = warmed.prune(config.with_k(k))
        monkeypatch.setattr(planner.Planner, "_unit_plan_counted", computed)
        expected = fresh.prune(config.with_k(k))
        assert repr(result.plans) == repr(expected.plans), k
        assert result.layers == expected.layers, k
        for name, rule in zip(names, rule_masks(kernels, "unit", k, scope)):
            np.testing.assert_array_equal(result.plans[name].kept(), rule)


def test_a_unit_warm_up_stops_at_scores_the_settings_have_moved_away_from(monkeypatch):
    """As for weight pruning: a warm-up of a random seed the user has left computes no scores
    (which would forget the current seed's), for either scope."""
    kernel = np.random.default_rng(6).normal(size=(30, 10)).astype(np.float32)
    pruner = Pruner([PrunableLayer("only", "Dense", tf.Variable(kernel), aligned_copy(kernel))])
    from prune_viz.core import criteria

    for scope in ("layer", "global"):
        left = PruningConfig("unit", 30, scope, frozenset({"only"}), criterion="random", seed=1)
        current = dataclasses.replace(left, seed=2)
        pruner.prune(left)
        pruner.prune(current)  # seed 1's scores are forgotten
        with monkeypatch.context() as patch:
            patch.setattr(criteria, "random_unit_scores", lambda *_: pytest.fail("scores computed again"))
            assert pruner.warm_up(left) == 0, scope
            assert pruner.warm_up(current) == len(pruning.SLIDER_KS), scope
        assert pruner.prune(current.with_k(77)).plans["only"].pruned_units == count_to_prune(10, 77)


@pytest.mark.parametrize("scope", ["layer", "global"])
def test_unit_plans_computed_ahead_are_kept_until_their_scores_change(scope):
    """Unit plans and their counts computed ahead (a warm-up, a prepared step) are kept: a step to that
    k hands out the same ones; one computed by the configuring thread is not kept; scores computed again
    (another random seed) are never answered from the old ones."""
    rng = np.random.default_rng(5)
    kernels = [rng.normal(size=(30, 12)).astype(np.float32), rng.normal(size=(2, 2, 3, 6)).astype(np.float32)]
    names = ["dense", "conv"]
    warmed = pruner_of(kernels, names)
    config = PruningConfig("unit", 40, scope, frozenset(names), criterion="random", seed=1)
    stepped = warmed.prune(config)
    assert all(warmed.prune(config).plans[name] is not stepped.plans[name] for name in names)
    assert warmed.prepare_step(config)
    first = warmed.prune(config)
    again = warmed.prune(config)
    for name in names:
        assert again.plans[name] is first.plans[name]
        assert again.layer(name) is first.layer(name)
    for seed in (2, 1):  # seed 1's scores are forgotten while seed 2's are used, then made again
        reseeded = dataclasses.replace(config, seed=seed)
        result, expected = warmed.prune(reseeded), pruner_of(kernels, names).prune(reseeded)
        assert repr(result.plans) == repr(expected.plans), seed
        assert result.layers == expected.layers, seed
    assert all(result.plans[name] is not first.plans[name] for name in names)


def test_a_step_prepared_ahead_is_lookups_and_a_stale_one_computes_no_scores(monkeypatch):
    monkeypatch.setattr(magnitudes, "SORTED_WHOLE", 0)
    kernel = np.random.default_rng(7).normal(size=(60, 25)).astype(np.float32)
    pruner = pruner_of([kernel], ["big"])
    config = PruningConfig("weight", 20, "layer", frozenset({"big"}), criterion="random", seed=1)
    pruner.prune(config)
    assert pruner.prepare_step(config.with_k(63))
    read = magnitudes.MagnitudeOrder._read
    monkeypatch.setattr(magnitudes.MagnitudeOrder, "_read", lambda *_: pytest.fail("a prepared step read a group"))
    plan = pruner.prune(config.with_k(63)).plans["big"]
    assert plan.pruned == count_to_prune(kernel.size, 63)
    monkeypatch.setattr(magnitudes.MagnitudeOrder, "_read", read)
    pruner.prune(dataclasses.replace(config, seed=2))  # seed 1's scores are forgotten
    from prune_viz.core import criteria

    monkeypatch.setattr(criteria, "random_scores", lambda *_: pytest.fail("scores computed ahead"))
    assert not pruner.prepare_step(config.with_k(64))
