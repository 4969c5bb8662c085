"""The weights a model file stores, as a tree of layers read with h5py, and the pairing of a layer
rebuilt alone with its stored datasets.

Two layouts: a Keras 3 (or tf_keras) archive's ``model.weights.h5`` stores each layer in a group of
its own (``layers/<snake_case class>/vars/0``..., sub-layers in groups named after the attribute that
holds them, layers of a nested model under its ``layers`` group); a legacy ``.h5`` model stores each
top-level layer's weights under ``model_weights/<layer name>`` with their names, in Keras's order, in
its ``weight_names`` attribute ("block/multi_head_attention/query/kernel:0"). Both become
``StoredNode``s: one per stored layer, its own datasets and its sub-layers'."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from prune_viz.core.io.layer_inference import SUB_LAYER_ORDER, to_snake_case


@dataclass
class Entry:
    """One stored dataset: its name as the layer knows it ("vars/0", "kernel", "query/kernel"),
    where it is in the file, and its shape."""

    name: str
    dataset: str  # the dataset's path inside the HDF5 file
    shape: tuple[int, ...]


@dataclass
class StoredNode:
    key: str  # its group's name (an archive) or its name's component (a legacy .h5)
    name: str | None  # the layer name the file records for it, if it records one
    listed: bool = False  # held in a layer list ("layers/<key>"): the key is its class, snake_cased
    own: list[Entry] = field(default_factory=list)  # its own datasets, in its weights' order
    children: list[StoredNode] = field(default_factory=list)
    legacy: bool = False  # a legacy .h5's layer: ``ordered`` is Keras's order of the layer's weights
    ordered: list[Entry] = field(default_factory=list)  # every dataset of this layer and its sub-layers

    @property
    def label(self) -> str:
        return self.name or self.key

    def entries(self) -> list[Entry]:
        """Every dataset of the layer and its sub-layers: in Keras's weight order for a legacy .h5."""
        if self.legacy:
            return list(self.ordered)
        return self.own + [entry for child in self.children for entry in child.entries()]

    def shapes_in_weight_order(self, class_name: str) -> list[tuple[int, ...]]:
        """The stored shapes in the order the layer's weights have them (for a guess of its config)."""
        if self.legacy:
            return [entry.shape for entry in self.ordered]
        order = SUB_LAYER_ORDER.get(class_name, [])
        children = sorted(self.children, key=lambda c: order.index(c.label) if c.label in order else len(order))
        return [entry.shape for entry in self.own] + [entry.shape for child in children for entry in child.entries()]

    def for_layers(self, layer_nodes: list[dict]) -> tuple[list[StoredNode | None], list[StoredNode]]:
        """The stored node of each layer of a model whose config lists ``layer_nodes`` (this node
        being the model's): by the layer name the file records, else by the key Keras gives the n-th
        layer of a class ("dense", "dense_1"...); and the stored nodes no layer claimed."""
        by_name = {child.name: child for child in self.children if child.name}
        listed = {child.key: child for child in self.children if child.listed}
        found = [by_name.get(_layer_name(node)) for node in layer_nodes]
        claimed = {id(child) for child in found if child is not None}
        counts: dict[str, int] = {}
        for i, node in enumerate(layer_nodes):
            snake = to_snake_case(str(node.get("class_name", "")).rsplit(">", 1)[-1])
            count = counts.get(snake, -1) + 1
            counts[snake] = count
            child = listed.get(snake if count == 0 else f"{snake}_{count}")
            if found[i] is None and child is not None and id(child) not in claimed:
                found[i] = child
                claimed.add(id(child))
        return found, [child for child in self.children if id(child) not in claimed]


def _layer_name(node: dict) -> str:
    config = node.get("config")
    name = config.get("name") if isinstance(config, dict) else None
    return str(name if name is not None else node.get("name", ""))


# -- an archive's model.weights.h5 --------------------------------------------------------------------

_TRAINING_STATE = ("optimizer", "metrics", "compile_metrics", "loss_tracker")


def archive_tree(h5) -> StoredNode:
    """The stored layers of a Keras 3 (or tf_keras) ``model.weights.h5`` open in ``h5``. Names written
    with backslashes (Keras on Windows) are read as paths; the state of training (optimizer, metrics)
    and of random seeds is left out."""
    import h5py

    tree: dict = {}
    names: dict[str, str] = {}

    def visit(name, obj):
        logical = name.replace("\\", "/")
        parts = logical.split("/")
        if parts[0] in _TRAINING_STATE or any(part.lstrip("_").startswith("seed_generator") for part in parts):
            return
        if isinstance(obj, h5py.Dataset):
            if len(parts) >= 2 and parts[-2] == "vars":
                branch = tree
                for part in parts[:-1]:
                    branch = branch.setdefault(part, {})
                branch[parts[-1]] = Entry(f"vars/{parts[-1]}", name, tuple(int(d) for d in obj.shape))
        elif parts[-1] == "vars" and "name" in obj.attrs:
            value = obj.attrs["name"]
            names[logical] = value.decode() if isinstance(value, bytes) else str(value)

    h5.visititems(visit)
    return _archive_node(tree, "", "", False, names)


def _archive_node(branch: dict, prefix: str, key: str, listed: bool, names: dict) -> StoredNode:
    node = StoredNode(key, names.get(f"{prefix}vars"), listed)
    own = branch.get("vars", {})
    node.own = [own[k] for k in sorted(own, key=_natural) if isinstance(own[k], Entry)]
    for child_key, child in branch.items():
        if child_key == "vars" or not isinstance(child, dict):
            continue
        if child_key == "layers":
            for inner_key, inner in child.items():
                if isinstance(inner, dict):
                    node.children.append(_archive_node(inner, f"{prefix}layers/{inner_key}/", inner_key, True, names))
        else:
            node.children.append(_archive_node(child, f"{prefix}{child_key}/", child_key, False, names))
    node.children = [child for child in node.children if child.entries()]
    return node


def keyed_entries(node: StoredNode) -> dict[str, Entry]:
    """An archive layer's datasets by their path below its group ("vars/0", "cell/vars/1"): the
    paths the layer saved alone would write them at."""
    found = {entry.name: entry for entry in node.own}
    for child in node.children:
        for key, entry in keyed_entries(child).items():
            found[f"{'layers/' if child.listed else ''}{child.key}/{key}"] = entry
    return found


def _natural(name: str):
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


# -- a legacy .h5 model ----------------------------------------------------------------------------------


def legacy_tree(h5) -> StoredNode:
    """The stored layers of a legacy .h5 model (Keras 3 or 2) open in ``h5``."""
    weights = h5["model_weights"] if "model_weights" in h5 else h5
    root = StoredNode("", None)
    for layer in _strings(weights.attrs.get("layer_names", [])):
        group = weights.get(layer)
        if group is None:
            continue
        entries = []
        for full in _strings(group.attrs.get("weight_names", [])):
            dataset = group.get(full)
            if dataset is None:
                continue
            name = full.split(":")[0]
            if name.startswith(f"{layer}/"):
                name = name[len(layer) + 1 :]
            entries.append(Entry(name, dataset.name.lstrip("/"), tuple(int(d) for d in dataset.shape)))
        root.children.append(legacy_node(layer, entries))
    return root


def legacy_node(key: str, entries: list[Entry]) -> StoredNode:
    """A legacy layer from its weights in Keras's order, named relative to it ("query/kernel"): its
    own are the one-part names, the rest are its sub-layers', grouped by their first part."""
    node = StoredNode(key, key, legacy=True, ordered=entries)
    groups: dict[str, list[Entry]] = {}
    for entry in entries:
        head, sep, rest = entry.name.partition("/")
        if sep:
            groups.setdefault(head, []).append(Entry(rest, entry.dataset, entry.shape))
        else:
            node.own.append(entry)
    node.children = [legacy_node(head, group) for head, group in groups.items()]
    return node


def _strings(values) -> list[str]:
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]


# -- pairing a layer rebuilt alone with its stored datasets ------------------------------------------


def paired(layer, node: StoredNode) -> list[tuple[object, Entry]] | None:
    """(weight, its dataset) for every weight of ``layer``, a Keras layer built alone, when ``node``
    stores exactly those weights with the same shapes; None otherwise."""
    if node.legacy:  # Keras's legacy order: trainable weights, then the others
        weights = list(layer.trainable_weights) + list(layer.non_trainable_weights)
        entries = node.ordered
    elif not node.children and all(_owner(w, layer) == "" for w in layer.weights):
        weights, entries = list(layer.weights), node.own  # its own variables, in its save order
    else:
        return _paired_by_markers(layer, node)
    if len(weights) != len(entries) or any(tuple(w.shape) != e.shape for w, e in zip(weights, entries)):
        return None
    return list(zip(weights, entries))


def _owner(weight, layer) -> str:
    """The sub-layer path of ``weight`` inside ``layer`` ("" for its own), from the weight's path."""
    path = str(getattr(weight, "path", weight.name)).split(":")[0]
    relative = path[len(layer.name) + 1 :] if path.startswith(f"{layer.name}/") else path
    return relative.rpartition("/")[0]


def relative_name(weight, layer) -> str:
    """A rebuilt layer's weight named inside the layer: "kernel", "query/kernel", "lstm_cell/bias"."""
    path = str(getattr(weight, "path", weight.name)).split(":")[0]
    return path[len(layer.name) + 1 :] if path.startswith(f"{layer.name}/") else path.rsplit("/", 1)[-1]


def _paired_by_markers(layer, node: StoredNode) -> list[tuple[object, Entry]] | None:
    """For a layer whose weights sit in sub-layer groups (RNN cells, attention projections, wrapped
    layers): Keras saves the layer alone with each weight filled with its own number, and the number
    found at each path says which weight the dataset stored at that path belongs to."""
    import h5py
    import keras

    weights = list(layer.weights)
    if not weights or any(int(np.prod(w.shape)) == 0 for w in weights):
        return None
    for number, weight in enumerate(weights, start=1):
        weight.assign(np.full(tuple(weight.shape), number, dtype=np.dtype(_numpy_dtype(weight))))
    wrapper = keras.Sequential([layer])
    wrapper.built = True  # its one layer is built: saving needs no input
    with tempfile.TemporaryDirectory(prefix="prune-viz-") as tmp:
        saved = Path(tmp) / "layer.weights.h5"
        wrapper.save_weights(saved)
        with h5py.File(saved, "r") as h5:
            tree = archive_tree(h5)
            if len(tree.children) != 1:
                return None
            numbers = {
                key: int(np.asarray(h5[entry.dataset][()]).flat[0])
                for key, entry in keyed_entries(tree.children[0]).items()
            }
    stored = keyed_entries(node)
    if set(numbers) != set(stored) or sorted(numbers.values()) != list(range(1, len(weights) + 1)):
        return None
    pairs = sorted(((weights[number - 1], stored[key]) for key, number in numbers.items()), key=_weight_index(weights))
    if any(tuple(w.shape) != e.shape for w, e in pairs):
        return None
    return pairs


def _weight_index(weights: list):
    index = {id(w): i for i, w in enumerate(weights)}
    return lambda pair: index[id(pair[0])]


def _numpy_dtype(variable):
    dtype = getattr(variable, "dtype", None)
    return getattr(dtype, "as_numpy_dtype", dtype)
