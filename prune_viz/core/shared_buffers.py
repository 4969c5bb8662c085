"""NumPy buffers that TensorFlow reads without copying them.

``tf.constant`` of a NumPy array copies it (twice for big arrays); DLPack shares
it, when the buffer is aligned as TensorFlow wants. Arrays made here are aligned,
so the pruner can hand row blocks of the originals to TensorFlow as they are.
"""

from __future__ import annotations

import numpy as np

TF_ALIGNMENT = 64  # bytes: TensorFlow's widest (AVX-512) alignment


def aligned_empty(shape: tuple[int, ...], dtype) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts on a TF_ALIGNMENT boundary."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(size + TF_ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % TF_ALIGNMENT
    return raw[start : start + size].view(dtype).reshape(shape)


def can_share(array: np.ndarray) -> bool:
    """True when TensorFlow can use ``array``'s buffer as it is."""
    return (
        array.size > 0
        and array.flags.c_contiguous
        and array.dtype.kind in "fiu"
        and array.ctypes.data % TF_ALIGNMENT == 0
    )


def tensor_view(array: np.ndarray):
    """``array`` as a tf.Tensor sharing its buffer where possible (else a copy). The tensor is
    read-only to TensorFlow: the array must not change while the tensor is in use."""
    import tensorflow as tf

    if can_share(array):
        try:
            return tf.experimental.dlpack.from_dlpack(array.__dlpack__())
        except (BufferError, TypeError, ValueError):  # e.g. a read-only array NumPy will not export
            pass
    return tf.constant(array)


def aligned_copy(array: np.ndarray) -> np.ndarray:
    """A copy of ``array`` in an aligned buffer."""
    out = aligned_empty(array.shape, array.dtype)
    np.copyto(out, array)
    return out
