"""The spectrum of VGG-16's largest weight matrix (issue 29): its fc1 Dense kernel, 25088 x 4096, built
directly with Keras's initialiser for it (``keras.applications.VGG16(weights=None)`` would build the
other 134M weights too), against one NumPy SVD of the same matrix (singular values only): the floor.

``core.spectrum.matrix_spectrum`` is the whole of what the Spectrum page computes per tensor: the
eigenvalues, the power-law fit, the norms. With ``quick``, a 1024 x 256 matrix.

A convolution's spectrum is of its kernel positions (WeightWatcher's cut): VGG-16's largest convolution
kernel, 3x3x512x512, against one batched NumPy SVD of its nine 512 x 512 slices (3x3x64x64 with ``quick``).
"""

from __future__ import annotations

import time

import numpy as np

from prune_viz.bench.report import Figure, vs_floor
from prune_viz.core.tasks import TaskState

SECTION = "spectrum"
VGG16_FC1 = (25088, 4096)  # 7*7*512 inputs, 4096 units
QUICK_SHAPE = (1024, 256)
VGG16_CONV5 = (3, 3, 512, 512)  # block5's convolutions
QUICK_CONV = (3, 3, 64, 64)
TARGET = 1.0  # no slower than the one SVD


def vgg16_fc1(shape: tuple[int, int]) -> np.ndarray:
    """A float32 matrix of ``shape`` drawn as Keras's Dense initialiser (Glorot uniform) draws it."""
    limit = np.sqrt(6.0 / sum(shape))
    return np.random.default_rng(0).uniform(-limit, limit, shape).astype(np.float32)


def bench_spectrum(quick: bool, task: TaskState) -> tuple[list[Figure], dict]:
    from prune_viz.core.spectrum import matrix_spectrum

    dense, dense_details = _bench_matrix(quick, task.sub(0.0, 0.7), matrix_spectrum)
    conv, conv_details = _bench_conv(quick, task.sub(0.7, 1.0))
    return [dense, conv], {**dense_details, "conv": conv_details}


def _bench_conv(quick: bool, task: TaskState) -> tuple[Figure, dict]:
    from prune_viz.core.spectrum import KernelSlicing, sliced_spectrum

    shape = QUICK_CONV if quick else VGG16_CONV5
    label = "x".join(map(str, shape))
    task.progress(0.0, f"spectrum: building the {label} kernel")
    fan_in, fan_out = shape[0] * shape[1] * shape[2], shape[0] * shape[1] * shape[3]
    limit = np.sqrt(6.0 / (fan_in + fan_out))  # Glorot uniform, as Keras draws a Conv2D kernel
    kernel = np.random.default_rng(1).uniform(-limit, limit, shape).astype(np.float32)
    matrix = kernel.reshape(-1, shape[3])  # the matrix view: (kh*kw*in, filters)
    positions = shape[0] * shape[1]
    task.progress(0.2, f"spectrum of the {label} kernel, per kernel position")
    start = time.perf_counter()
    spectrum = sliced_spectrum("conv", matrix, KernelSlicing(positions, shape[2], (shape[2], shape[3])))
    ours = time.perf_counter() - start
    task.progress(0.6, f"NumPy SVD of the {positions} slices")
    start = time.perf_counter()
    singular = np.linalg.svd(kernel.reshape(positions, shape[2], shape[3]), compute_uv=False)
    floor = time.perf_counter() - start
    task.progress(1.0, "spectrum done")
    expected = np.sort(singular.ravel())[::-1]
    agreement = float(np.max(np.abs(spectrum.singular_values - expected)) / expected[0])
    name = f"{'VGG-16 conv5' if not quick else 'quick'} {label}: spectrum per kernel position"
    figure = vs_floor(
        f"spectrum_{label}",
        name,
        round(ours, 2),
        "s",
        round(floor, 3),
        f"one NumPy SVD of the {positions} slices, singular values only",
        TARGET,
    )
    details = {
        "shape": list(shape),
        "seconds": round(ours, 3),
        "svd_seconds": round(floor, 3),
        "alpha": spectrum.fit.alpha,
        "largest_singular_value_error": agreement,
    }
    return figure, details


def _bench_matrix(quick: bool, task: TaskState, matrix_spectrum) -> tuple[Figure, dict]:
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
    return figure, details
