"""Dragging the k slider for a long time must not grow memory: 5,000 configure() calls on a
LeNet-300-100-sized model, RSS measured after a warm-up."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

WARM_UP = 200
CHANGES = 5_000
ALLOWED_GROWTH_MB = 50


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    pytest.skip("no /proc/self/status VmRSS on this system")


@pytest.fixture(scope="module")
def lenet_path(tmp_path_factory) -> Path:
    import keras

    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(300, activation="relu", name="fc1"),
            keras.layers.Dense(100, activation="relu", name="fc2"),
            keras.layers.Dense(10, activation="softmax", name="out"),
        ]
    )
    path = tmp_path_factory.mktemp("memory") / "lenet-300-100.keras"
    model.save(path)
    return path


def _k_sequence(count: int, offset: int = 0):
    """Slider-like k values: sweeps up and down with fine steps, never the same config twice in a row."""
    for i in range(offset, offset + count):
        yield (i * 0.37) % 100.0


def _pruning_results() -> list:
    from prune_viz.core.pruning import PruneResult

    return [obj for obj in gc.get_objects() if isinstance(obj, PruneResult)]


def test_rss_stays_flat_over_5000_k_changes(lenet_path):
    from prune_viz.core.session import Session, open_model

    # results that tests run earlier in this process still hold are not this session's to release
    earlier = {id(result): weakref.ref(result) for result in _pruning_results()}
    session = Session()
    session.set_model(open_model(lenet_path))
    everything = {layer.name for layer in session.model.layers}
    seen = []

    def show(result) -> None:  # like the heatmap: keep the latest result and read its biggest kernel
        seen[:] = [result]
        result.kernels["fc1"].numpy()

    session.pruning_changed.connect(show)

    def drag(count: int, offset: int) -> None:
        for step, k in enumerate(_k_sequence(count, offset)):
            method = "unit" if (step // 250) % 2 else "weight"
            scope = "global" if (step // 500) % 2 else "layer"
            session.configure(k=k, method=method, scope=scope, included=everything)

    drag(WARM_UP, 0)
    gc.collect()
    before = rss_mb()
    drag(CHANGES, WARM_UP)
    gc.collect()
    after = rss_mb()
    print(
        f"RSS after {WARM_UP} warm-up changes: {before:.1f} MB; after {CHANGES} more: {after:.1f} MB "
        f"(growth {after - before:+.1f} MB)"
    )
    assert session.result.config.k == pytest.approx(list(_k_sequence(1, WARM_UP + CHANGES - 1))[0])
    assert len(seen) == 1 and seen[0] is session.result
    assert after - before < ALLOWED_GROWTH_MB
    alive = [result for result in _pruning_results() if (ref := earlier.get(id(result))) is None or ref() is not result]
    assert len(alive) <= 2, f"{len(alive)} pruning results are still alive; old ones should be released"


# Runs in a fresh process: the peak memory (VmHWM over the RSS before the load) of loading argv[1],
# over the bytes of its weights.
_LOAD_PEAK = r"""
import sys
from pathlib import Path
import numpy as np
import tensorflow
from prune_viz.core.io import load_model

def status(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024

before = status("VmRSS")
Path("/proc/self/clear_refs").write_text("5")
model = load_model(sys.argv[1]).keras_model
weights = sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize for w in model.weights)
print((status("VmHWM") - before) / weights)
"""


def test_loading_an_archive_holds_its_weights_at_most_twice(tmp_path):
    """Keras's own loader holds a big kernel three or more times at once (array, tensor, variable);
    ours twice at most (the buffer h5py reads into, TensorFlow's copy of it), plus what building the
    model and TensorFlow allocate besides (about 0.1x for this 128 MiB kernel)."""
    import os
    import subprocess
    import sys

    import keras

    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux /proc to reset the peak RSS")
    path = tmp_path / "wide.keras"
    keras.Sequential(
        [keras.Input((8192,)), keras.layers.Dense(4096, name="wide"), keras.layers.Dense(10, name="out")]
    ).save(path)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]), TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run(
        [sys.executable, "-c", _LOAD_PEAK, str(path)], capture_output=True, text=True, env=env, check=True
    ).stdout
    assert float(out.split()[-1]) < 2.5  # Keras's load_weights here: 3.1x
