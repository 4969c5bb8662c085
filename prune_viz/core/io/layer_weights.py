"""A Keras 3 model.weights.h5 read into a built model layer by layer, each dataset read only
when its layer asks for it."""

from __future__ import annotations

import collections.abc
from pathlib import Path

import numpy as np

from prune_viz.core.shared_buffers import aligned_empty, tensor_view


def load_layer_weights(model, weights: Path) -> None:
    """Fill ``model``'s variables from a Keras 3 model.weights.h5, each layer through its own
    ``load_own_variables``, fed by a store that reads a dataset only when the layer asks for it.
    Keras's ``load_weights`` holds a dataset's array, its tensor (two copies on the way) and the
    variable at once; here a dataset is held twice at most (the buffer h5py reads into, then
    TensorFlow's copy, which the variable takes over). Any file this cannot match layer for layer,
    it leaves to ``load_weights``."""
    import h5py

    with h5py.File(weights, "r") as h5:
        matched = _layer_groups(model, h5)
        if matched is not None:
            for layer, group in matched:
                layer.load_own_variables(_DatasetStore(group))
            return
    model.load_weights(weights)


def _layer_groups(model, h5) -> list | None:
    """(layer, its "vars" group) for every layer of ``model`` (nested Sequential and Functional
    models included) that has weights, when the file holds exactly those: each "vars" group with
    datasets outside "optimizer" sits at layers/<key>[/layers/<key>...]/vars, names (in its "name"
    attribute, which Keras 3 writes) one layer, and has that layer's weights' count, shapes and
    dtypes as plain datasets. None otherwise."""
    import h5py

    groups = []
    h5.visititems(
        lambda name, obj: (
            groups.append(name) if name.rsplit("/", 1)[-1] == "vars" and isinstance(obj, h5py.Group) else None
        )
    )
    matched, seen = [], set()
    for name in groups:
        parts = name.split("/")
        if parts[0] == "optimizer" or not len(h5[name]):
            continue
        if len(parts) % 2 == 0 or any(part != "layers" for part in parts[:-1:2]):
            return None
        layer = model
        for depth in range(1, len(parts), 2):
            step = h5.get("/".join(parts[: depth + 1] + ["vars"]))
            wanted = step.attrs.get("name") if isinstance(step, h5py.Group) else None
            found = [child for child in getattr(layer, "layers", []) if child.name == wanted]
            if len(found) != 1:
                return None
            layer = found[0]
        datasets = [h5[name].get(str(i)) for i in range(len(h5[name]))]
        if (
            id(layer) in seen
            or len(datasets) != len(layer.weights)
            or not all(
                isinstance(d, h5py.Dataset)
                and "dtype" not in d.attrs
                and d.shape == tuple(w.shape)
                and d.dtype.name == w.dtype
                for d, w in zip(datasets, layer.weights)
            )
        ):
            return None
        seen.add(id(layer))
        matched.append((layer, h5[name]))
    if any(layer.weights and id(layer) not in seen for layer in _leaf_layers(model)):
        return None
    return matched


def _leaf_layers(model) -> list:
    """The layers of ``model``, those of nested models in place of the nested models."""
    return [leaf for layer in model.layers for leaf in (_leaf_layers(layer) if hasattr(layer, "layers") else [layer])]


class _DatasetStore(collections.abc.Mapping):
    """A layer's "vars" group as ``load_own_variables`` reads it ("0", "1"... -> values). Each value
    is read when asked for, into a buffer aligned as TensorFlow wants, and handed over as a tensor."""

    def __init__(self, group):
        self._group = group

    def __getitem__(self, key):
        return dataset_tensor(self._group[key])

    def __iter__(self):
        return iter(self._group)

    def __len__(self):
        return len(self._group)


def dataset_tensor(dataset):
    """An HDF5 dataset's values as a TensorFlow tensor, read into a buffer aligned as TensorFlow wants
    and copied once."""
    import tensorflow as tf

    dtype = np.dtype(dataset.dtype.name)  # in this machine's byte order
    array = aligned_empty(dataset.shape, dtype)
    if array.size:
        dataset.read_direct(array)
    if array.dtype.kind not in "fiu" or not array.size:
        return tf.convert_to_tensor(array)
    # TensorFlow's own copy of the buffer, made once: converting the array would copy it twice, and a
    # variable holding the buffer itself (shared through DLPack) would copy it again at its first write
    return tf.raw_ops.DeepCopy(x=tensor_view(array))
