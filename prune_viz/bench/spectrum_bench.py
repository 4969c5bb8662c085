"""The spectrum of VGG-16's largest weight matrix (issue 29): its fc1 Dense kernel, 25088 x 4096, built
directly with Keras's initialiser for it (``keras.applications.VGG16(weights=None)`` would build the
other 134M weights too), against one NumPy SVD of the same matrix (singular values only): the floor.

``core.spectrum.matrix_spectrum`` is the whole of what the Spectrum page computes per tensor: the
eigenvalues, the power-law fit, the norms. With ``quick``, a 2048 x 512 matrix.
"""

from __future__ import annotations

import time

import numpy as np

from prune_viz.bench.report import Figure, vs_floor
from prune_viz.core.tasks import TaskState

SECTION = "spectrum"
VGG16_FC1 = (25088, 4096)  # 7*7*512 inputs, 4096 units
QUICK_SHAPE = (2048, 512)
TARGET = 1.0  # no slower than the one SVD


def vgg16_fc1(shape: tuple[int, int]) -> np.ndarray:
    """A float32 matrix of ``shape`` drawn as Keras's Dense initialiser (Glorot uniform) draws it."""
    limit = np.sqrt(6.0 / sum(shape))
    return np.random.default_rng(0).uniform(-limit, limit, shape).astype(np.float32)


def bench_spectrum(quick: bool, task: TaskState) -> tuple[list[Figure], dict]:
    from prune_viz.core.spectrum import matrix_spectrum

    shape = QUICK_SHAPE if quick else VGG16_FC1
    label = "x".join(map(str, shape))
    task.progress(0.0, f"spectrum: building the {label} matrix")
    matrix = vgg16_fc1(shape)
    task.progress(0.1, f"spectrum of the {label} matrix")
    start = time.perf_counter()
    spectrum = matrix_spectrum("fc1", matrix)
    ours = time.perf_counter() - start
    task.progress(0.5, f"NumPy SVD of the {label} matrix")
    start = time.perf_counter()
    singular = np.linalg.svd(matrix, compute_uv=False)
    floor = time.perf_counter() - start
    task.progress(1.0, "spectrum done")
    agreement = float(np.max(np.abs(spectrum.singular_values - singular)) / singular[0])
    name = f"{'VGG-16 fc1' if not quick else 'quick'} {label}: spectrum (eigenvalues, power-law fit, norms)"
    figure = vs_floor(
        f"spectrum_{label}", name, round(ours, 2), "s", round(floor, 2), "one NumPy SVD, singular values only", TARGET
    )
    details = {
        "shape": list(shape),
        "seconds": round(ours, 3),
        "svd_seconds": round(floor, 3),
        "alpha": spectrum.fit.alpha,
        "largest_singular_value_error": agreement,  # relative to the largest, against the SVD's
    }
    return [figure], details
