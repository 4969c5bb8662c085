"""Plans become kernels: masks and pruned kernels built lazily, written into the model and restored.

Big kernels are written in row blocks straight from the numpy originals, so that no full-size
temporary exists; a block's mask and select are one fused XLA kernel (eager TF ops where XLA is
missing). Restoring writes the originals back bit for bit.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import contextmanager

import numpy as np

from prune_viz.core.layers import PrunableLayer
from prune_viz.core.plan import BlockPlan, LayerPlan, NMPlan, UnitPlan
from prune_viz.core.row_blocks import BLOCK_ELEMENTS, write_rows
from prune_viz.core.shared_buffers import tensor_view

FUSED_FROM = 1 << 20  # kernels of this many weights and more are written by XLA kernels, smaller ones by eager ops


class KernelWriter:
    """Owns the original kernels of a model's prunable layers and writes pruned ones over them."""

    def __init__(self, layers: list[PrunableLayer]):
        import tensorflow as tf

        self._tf = tf
        self.layers = list(layers)
        self.by_name = {layer.name: layer for layer in self.layers}
        # big kernels are read from layer.original block by block; the others as tensors that share
        # layer.original's buffer where it is aligned (TensorFlow copies before it writes into a
        # buffer it shares, and these tensors are never written)
        self._originals = {layer.name: tensor_view(layer.original) for layer in self.layers if not self._blocked(layer)}
        self._fused: dict | None = None  # the XLA block kernels once used, {} when XLA failed

    @staticmethod
    def _blocked(layer: PrunableLayer) -> bool:
        return layer.size > BLOCK_ELEMENTS and len(layer.shape) == 2 and layer.rows == layer.shape[0] > 1

    # -- masks and kernels ----------------------------------------------------------------------
    def lazy(self, plans: dict[str, LayerPlan]) -> tuple[Mapping, Mapping]:
        """The masks (included layers) and kernels (every layer) of ``plans``, built on access."""
        masks = LazyMasks(self, plans)
        return masks, LazyKernels(self, masks)

    def mask(self, name: str, plan: LayerPlan):
        """The plan's keep-mask of the whole kernel, as a bool tensor of the kernel's shape."""
        layer = self.by_name[name]
        return self._tf.constant(plan.kept(layer.as_matrix(layer.original)).reshape(layer.shape))

    def kernel(self, name: str, mask):
        original = self.original(name)
        return original if mask is None else self._tf.where(mask, original, self._tf.zeros((), original.dtype))

    def original(self, name: str):
        """The original kernel as a TF tensor (a view of the numpy original where it is aligned)."""
        if name in self._originals:
            return self._originals[name]
        return tensor_view(self.by_name[name].original)

    # -- writing the model ----------------------------------------------------------------------
    def apply(self, result) -> None:
        """Write ``result``'s kernels into the model's variables (only from the one TF job thread)."""
        ours = isinstance(result.kernels, LazyKernels) and result.kernels.writer is self
        for layer in self.layers:
            plan = result.plans.get(layer.name) if ours else None
            if ours and self._blocked(layer):
                self._write_blocks(layer, plan)
            elif plan is not None:  # XLA compiles once per shape: worth it for big kernels only
                matrix = self._tf.reshape(self.original(layer.name), (layer.rows, layer.columns))
                value = self._block_value(layer, plan, 0, matrix, fuse=layer.size >= FUSED_FROM)
                layer.variable.assign(self._tf.reshape(value, layer.shape))
            else:
                layer.variable.assign(result.kernels[layer.name])
            removed = result.removed_units(layer.name)
            for vector in layer.unit_vectors:
                vector.variable.assign(
                    vector.original if removed is None or not removed.any() else vector_values(vector, removed)
                )

    def restore(self) -> None:
        """Put the original kernels, biases and BatchNormalization parameters back, bit for bit."""
        for layer in self.layers:
            if self._blocked(layer):
                self._write_blocks(layer, None)
            else:
                layer.variable.assign(self._originals[layer.name])
            for vector in layer.unit_vectors:
                vector.variable.assign(vector.original)

    @contextmanager
    def applied(self, result):
        """``result``'s kernels in the model for the body; the originals put back after it, even
        when it (or the writing) raises."""
        try:
            self.apply(result)
            yield result
        finally:
            self.restore()

    def _write_blocks(self, layer: PrunableLayer, plan: LayerPlan | None) -> None:
        """Write the pruned kernel row block by row block, straight from the numpy originals;
        the mask and the select are one fused XLA kernel per block."""
        original = layer.original
        self._fused_kernels()  # made once, before the threads that use them
        write_rows(
            layer.variable,
            original.shape,
            lambda r0, r1: self._block_value(layer, plan, r0, tensor_view(original[r0:r1])),
        )

    def _block_value(self, layer: PrunableLayer, plan: LayerPlan, r0: int, rows, fuse: bool = True):
        """The pruned values of matrix rows r0:r0+len(rows), given the original ``rows``: the block
        ops fed the plan's numbers, as fused XLA kernels (``fuse``) or eager TF ops."""
        if plan is None or plan.pruned == 0:
            return rows
        if plan.pruned == layer.size:
            return np.zeros(tuple(rows.shape), layer.original.dtype)
        if fuse and self._fused_kernels():
            try:
                return self._select(layer, plan, r0, rows, self._fused)
            except self._tf.errors.OpError:  # no XLA in this TensorFlow build: the same ops, unfused
                self._fused = {}
        return self._select(layer, plan, r0, rows, _eager_block_ops())

    @staticmethod
    def _select(layer: PrunableLayer, plan: LayerPlan, r0: int, rows, ops: dict):
        if isinstance(plan, (NMPlan, BlockPlan)):  # a pattern: the plan's mask of these rows
            window = slice(r0, r0 + len(rows))
            return np.where(plan.kept(rows=window), np.asarray(rows), layer.original.dtype.type(0))
        if isinstance(plan, UnitPlan):
            if plan.mapped:  # units that are not plain columns: the plan's mask of these rows
                window = slice(r0, r0 + len(rows))
                return np.where(plan.kept(rows=window), np.asarray(rows), layer.original.dtype.type(0))
            return ops["unit"](rows, plan.kept_units)
        if plan.scores is not None or np.isnan(plan.threshold):  # scores that are not |w|, or the cut
            # among NaN weights: the plan's mask, in numpy
            window = slice(r0, r0 + len(rows))
            matrix = layer.as_matrix(layer.original)
            return np.where(plan.kept(matrix, rows=window), matrix[window], layer.original.dtype.type(0))
        threshold = np.float32(plan.threshold)
        if plan.prunes_every_tie:
            return ops["above"](rows, threshold)
        cut_row, cut_col = plan.cut_cell
        return ops["cut"](rows, threshold, np.int32(r0), np.int32(cut_row), np.int32(cut_col))

    def _fused_kernels(self) -> dict:
        """The XLA block kernels ({} once XLA has failed here)."""
        if self._fused is None:
            self._fused = _xla_block_kernels()
        return self._fused


def vector_values(vector, removed: np.ndarray) -> np.ndarray:
    """A unit vector (bias, BN gamma or beta) with the removed units' entries zeroed."""
    return np.where(vector.removed_entries(removed), vector.original.dtype.type(0), vector.original)


def _block_ops() -> dict:
    """Pruned values of a block of matrix rows from a plan's numbers, as TF ops (run eagerly, or
    compiled by ``_xla_block_kernels``): ``above`` prunes |w| <= t, ``cut`` prunes |w| < t and the
    |w| == t before the cut cell, ``unit`` prunes the columns not kept. NaN weights are kept."""
    import tensorflow as tf

    def above(block, t):  # three passes when run eagerly: the zero is a broadcast scalar
        return tf.where(tf.abs(block) <= t, tf.zeros((), block.dtype), block)

    def cut(block, t, r0, cut_row, cut_col):
        magnitude = tf.abs(block)
        rows = r0 + tf.range(tf.shape(block)[0])[:, None]
        cols = tf.range(tf.shape(block)[1])[None, :]
        before_cut = tf.logical_or(rows < cut_row, tf.logical_and(rows == cut_row, cols < cut_col))
        pruned = tf.logical_or(magnitude < t, tf.logical_and(magnitude == t, before_cut))
        return tf.where(pruned, tf.zeros((), block.dtype), block)

    def unit(block, kept):
        return tf.where(kept[None, :], block, tf.zeros((), block.dtype))

    return {"above": above, "cut": cut, "unit": unit}


_EAGER_OPS: dict = {}
_XLA_KERNELS: dict = {}


def _eager_block_ops() -> dict:
    if not _EAGER_OPS:
        _EAGER_OPS.update(_block_ops())
    return _EAGER_OPS


def _xla_block_kernels() -> dict:
    """Module-wide XLA-compiled block kernels (one trace per block shape, shared by all pruners).
    No AutoGraph: there is no Python control flow, and its conversion cache mixed these up."""
    if not _XLA_KERNELS:
        import tensorflow as tf

        _XLA_KERNELS.update(
            {name: tf.function(op, jit_compile=True, autograph=False) for name, op in _block_ops().items()}
        )
    return _XLA_KERNELS


class LazyMasks(Mapping):
    """name -> bool tensor (True = kept) for the included layers, built on first access."""

    def __init__(self, writer: KernelWriter, plans: dict[str, LayerPlan]):
        self.writer = writer
        self._plans = plans
        self._built: dict = {}

    def __getitem__(self, name):
        if name not in self._plans:
            raise KeyError(name)
        if name not in self._built:
            self._built[name] = self.writer.mask(name, self._plans[name])
        return self._built[name]

    def __contains__(self, name):
        return name in self._plans

    def __iter__(self):
        return iter(self._plans)

    def __len__(self):
        return len(self._plans)


class LazyKernels(Mapping):
    """name -> pruned kernel tensor for every prunable layer, built on each access (not kept)."""

    def __init__(self, writer: KernelWriter, masks: LazyMasks):
        self.writer = writer
        self._masks = masks

    def __getitem__(self, name):
        if name not in self.writer.by_name:
            raise KeyError(name)
        return self.writer.kernel(name, self._masks.get(name))

    def __contains__(self, name):
        return name in self.writer.by_name

    def __iter__(self):
        return iter(self.writer.by_name)

    def __len__(self):
        return len(self.writer.by_name)
