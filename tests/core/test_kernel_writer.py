"""Writing pruned kernels into the model and putting the originals back: ``Pruner.applied``."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import prune_viz
from prune_viz.core import compare
from prune_viz.core import io as core_io
from prune_viz.core.evaluation import Evaluator
from prune_viz.core.export import export_pruned
from prune_viz.core.layers import PrunableLayer
from prune_viz.core.pruning import Pruner, PruningConfig
from prune_viz.core.session import Session, open_model
from prune_viz.core.shared_buffers import aligned_copy


class BodyFailed(Exception):
    pass


def small_pruner() -> tuple[Pruner, list]:
    import tensorflow as tf

    rng = np.random.default_rng(5)
    kernels = [rng.normal(size=(30, 8)).astype(np.float32), rng.normal(size=(8, 4)).astype(np.float32)]
    layers = [
        PrunableLayer(f"dense{i}", "Dense", tf.Variable(kernel), aligned_copy(kernel))
        for i, kernel in enumerate(kernels)
    ]
    return Pruner(layers), kernels


def written(pruner: Pruner) -> list[np.ndarray]:
    return [layer.variable.numpy() for layer in pruner.layers]


def test_applied_writes_the_result_for_the_body_and_the_originals_after():
    pruner, kernels = small_pruner()
    result = pruner.prune(PruningConfig("weight", 60, "global", frozenset({"dense0", "dense1"})))
    with pruner.applied(result) as inside:
        assert inside is result
        for got, name in zip(written(pruner), ["dense0", "dense1"]):
            np.testing.assert_array_equal(got, result.kernels[name].numpy())
            assert np.count_nonzero(got == 0) > 0
    for got, kernel in zip(written(pruner), kernels):
        assert got.tobytes() == kernel.tobytes()


def test_applied_restores_the_originals_even_when_the_body_raises():
    pruner, kernels = small_pruner()
    result = pruner.prune(PruningConfig("unit", 50, "layer", frozenset({"dense0", "dense1"})))
    with pytest.raises(BodyFailed), pruner.applied(result):
        assert not np.array_equal(written(pruner)[0], kernels[0])
        raise BodyFailed
    for got, kernel in zip(written(pruner), kernels):
        assert got.tobytes() == kernel.tobytes()


def test_no_code_writes_pruned_kernels_but_through_applied():
    """Every "apply, then restore in finally" is ``Pruner.applied`` (bench/ times bare writes on purpose)."""
    package = Path(prune_viz.__file__).parent
    writers = {"core/kernel_writer.py", "core/pruning.py"}
    found = [
        f"{path.relative_to(package)}:{n}"
        for path in package.rglob("*.py")
        if path.relative_to(package).parts[0] != "bench" and str(path.relative_to(package)) not in writers
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\.apply\(", line)
    ]
    assert found == []


# -- the sites: the model is back to its originals after a failing body -------------------------
@pytest.fixture()
def opened(trained_mlp_path):
    return open_model(trained_mlp_path)


def weights_of(opened) -> list[bytes]:
    return [w.tobytes() for w in opened.loaded.keras_model.get_weights()]


def fail_when_pruned(opened, monkeypatch):
    """Evaluator.run raises while the model holds pruned kernels (it runs as usual on the originals)."""
    run = Evaluator.run
    originals = weights_of(opened)

    def run_or_fail(evaluator, *args, **kwargs):
        if weights_of(opened) != originals:
            raise BodyFailed
        return run(evaluator, *args, **kwargs)

    monkeypatch.setattr(Evaluator, "run", run_or_fail)
    return originals


def test_session_evaluate_restores_when_the_evaluation_raises(opened, mnist_dir, monkeypatch):
    session = Session(data_path=str(mnist_dir), preprocessing="scale")
    session.set_model(opened)
    originals = fail_when_pruned(opened, monkeypatch)
    with pytest.raises(BodyFailed):
        session.evaluate(PruningConfig("weight", 70, "layer", opened.default_included))
    assert weights_of(opened) == originals


def test_compare_restores_when_the_evaluation_raises(opened, mnist, monkeypatch):
    originals = fail_when_pruned(opened, monkeypatch)
    config = PruningConfig("unit", 40, "layer", opened.default_included)
    with pytest.raises(BodyFailed):
        compare.compare(opened, config, opened, config.with_k(60), mnist, preprocessing="scale")
    assert weights_of(opened) == originals


def test_export_restores_when_saving_raises(opened, tmp_path, monkeypatch):
    originals = weights_of(opened)

    def save_fails(*_args, **_kwargs):
        assert weights_of(opened) != originals  # saved while the pruned kernels are written
        raise BodyFailed

    monkeypatch.setattr(core_io, "save_keras_with_metadata", save_fails)
    with pytest.raises(BodyFailed):
        export_pruned(opened, PruningConfig("weight", 50, "layer", opened.default_included), tmp_path / "out.keras")
    assert weights_of(opened) == originals
