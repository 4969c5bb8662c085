"""The scores a Pruner ranks by: ``Pruner.scores_version`` changes whenever scores are replaced or forgotten."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from prune_viz.core.criteria import TaylorScores
from prune_viz.core.layers import PrunableLayer
from prune_viz.core.pruning import Pruner, PruningConfig
from prune_viz.core.shared_buffers import aligned_copy

NAMES = ("hidden", "out")


@pytest.fixture()
def pruner() -> Pruner:
    rng = np.random.default_rng(8)
    kernels = [rng.normal(size=(20, 6)).astype(np.float32), rng.normal(size=(6, 3)).astype(np.float32)]
    return Pruner(
        [
            PrunableLayer(name, "Dense", tf.Variable(kernel), aligned_copy(kernel))
            for name, kernel in zip(NAMES, kernels)
        ]
    )


def taylor_of(pruner: Pruner, offset: float) -> TaylorScores:
    return TaylorScores({layer.name: np.abs(layer.original) + offset for layer in pruner.layers}, 1, "made up")


def test_the_version_holds_while_the_same_scores_are_read(pruner):
    version = pruner.scores_version
    for criterion in ("magnitude", "lamp", "random"):
        for k in (10, 50, 90):
            for method in ("weight", "unit"):
                pruner.prune(PruningConfig(method, k, "layer", frozenset(NAMES), criterion=criterion))
    pruner.scores("hidden", PruningConfig(criterion="lamp"))
    assert pruner.scores_version == version


def test_new_taylor_scores_change_the_version_and_what_is_read(pruner):
    config = PruningConfig("weight", 50, "layer", frozenset(NAMES), criterion="taylor")
    pruner.set_taylor_scores(taylor_of(pruner, 1.0))
    first = pruner.scores_version
    low = pruner.scores("hidden", config).value_at(0)
    pruner.set_taylor_scores(taylor_of(pruner, 5.0))
    assert pruner.scores_version != first
    assert pruner.scores("hidden", config).value_at(0) == pytest.approx(low + 4.0)


def test_another_random_seed_changes_the_version(pruner):
    seed1 = PruningConfig("unit", 50, "layer", frozenset(NAMES), criterion="random", seed=1)
    pruner.prune(seed1)
    version = pruner.scores_version
    pruner.prune(seed1.with_k(20))
    assert pruner.scores_version == version
    pruner.prune(PruningConfig("unit", 50, "layer", frozenset(NAMES), criterion="random", seed=2))
    assert pruner.scores_version != version  # seed 1's scores were forgotten
