"""Aligned NumPy buffers reach TensorFlow without a copy; anything else is copied."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from prune_viz.core.shared_buffers import TF_ALIGNMENT, aligned_copy, aligned_empty, can_share, tensor_view

pytestmark = pytest.mark.keras_floor


def test_aligned_buffers_are_shared_with_tensorflow():
    array = aligned_copy(np.arange(64 * 33, dtype=np.float32).reshape(64, 33))
    assert array.ctypes.data % TF_ALIGNMENT == 0 and can_share(array)
    tensor = tensor_view(array)
    array[3, 4] = -1.0  # the tensor reads the same memory: it sees the change
    assert tensor.numpy()[3, 4] == -1.0


def test_other_buffers_are_copied():
    array = aligned_empty((10, 17), np.float32)
    array[:] = 1.0
    unaligned = array.reshape(-1)[1:]  # 4 bytes past an aligned start
    assert not can_share(unaligned) and not can_share(array[:, ::2]) and not can_share(np.array(["a"]))
    tensor = tensor_view(unaligned)
    unaligned[0] = 5.0
    assert tensor.numpy()[0] == 1.0
    np.testing.assert_array_equal(tensor_view(array[:, ::2]).numpy(), array[:, ::2])


def test_writing_a_restored_variable_never_touches_the_original():
    """Restoring may hand a variable a tensor that shares the numpy original; TensorFlow must copy
    before any in-place write (training, scatters), so the original stays as opened."""
    from prune_viz.core.layers import PrunableLayer
    from prune_viz.core.pruning import Pruner, PruningConfig

    kernel = aligned_copy(np.random.default_rng(0).normal(size=(64, 48)).astype(np.float32))
    layer = PrunableLayer("dense", "Dense", tf.Variable(kernel), kernel)
    opened = kernel.copy()
    pruner = Pruner([layer])
    pruner.apply(pruner.prune(PruningConfig("weight", 50, "layer", {"dense"})))
    pruner.restore()
    layer.variable.assign_add(tf.ones_like(layer.variable))
    layer.variable.scatter_nd_update([[0, 0]], [123.0])
    np.testing.assert_array_equal(layer.original, opened)
    pruner.restore()
    np.testing.assert_array_equal(layer.variable.numpy(), opened)
