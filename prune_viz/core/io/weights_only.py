"""A .keras archive or .h5 model whose model cannot be rebuilt (a custom class Keras does not know,
Keras 2's TFOpLambda layers, a Lambda layer in safe mode), opened from its weights alone.

Its saved config is walked layer by layer (nested models flattened, "outer/inner"); each layer of a
standard Keras class is rebuilt alone from its config and given its stored weights, so they have
their real names; a layer of an unknown class keeps its stored weights under their stored names,
and its sub-layers are rebuilt where the file says what they are (``layer_inference``). The weights
are read with h5py (``stored_weights``); the file is never written."""

from __future__ import annotations

import json
import re
import tempfile
import zipfile
from pathlib import Path

from prune_viz.core.io.hdf5 import hdf5_label
from prune_viz.core.io.hdf5_check import HDF5Check
from prune_viz.core.io.keras_archive import archive_label
from prune_viz.core.io.layer_inference import INFERENCE, candidate_input_shapes, class_named_by, implied_config
from prune_viz.core.io.load_errors import short_reason, weights_do_not_fit
from prune_viz.core.io.loaded_model import LoadedModel, StoredLayer, StoredVariable
from prune_viz.core.io.metadata import METADATA_H5_ATTR, METADATA_ZIP_NAME, parse_json_object
from prune_viz.core.io.open_options import OpenOptions
from prune_viz.core.io.stored_weights import StoredNode, archive_tree, legacy_tree, paired, relative_name

WEIGHTS_ONLY = "weights only"
_OP_LAMBDAS = ("TFOpLambda", "SlicingOpLambda")  # Keras 2's wrappers of TensorFlow functions
_MODELS = ("Functional", "Sequential", "Model")
_MAX_BUILD_TRIES = 24


def weights_only_if_unbuildable(
    path: Path, kind: str, failure: BaseException, options: OpenOptions, *, checked: bool = False
) -> LoadedModel | None:
    """The model at ``path`` ("zip" or "hdf5") opened from its weights only, if loading it failed
    with ``failure`` because its model cannot be rebuilt; None if it failed for another reason.
    ``checked``: its HDF5 data was read once in a child process already (``HDF5Check``)."""
    import h5py

    if kind == "zip":
        return _from_archive(path, failure, options)
    if not checked:
        with HDF5Check(path, None) as check:
            check.wait()
    with h5py.File(path, "r") as h5:
        if "model_config" not in h5.attrs:
            return None
        config = parse_json_object(h5.attrs["model_config"])
        problem = RebuildProblem.of(config, failure, options)
        if problem is None:
            return None
        version = h5.attrs.get("keras_version", b"")
        version = version.decode("utf-8", "replace") if isinstance(version, bytes) else str(version)
        metadata = parse_json_object(h5.attrs[METADATA_H5_ATTR]) if METADATA_H5_ATTR in h5.attrs else {}
        layers = stored_layers(config, legacy_tree(h5), h5, options)
    return problem.loaded(path, f"{hdf5_label(path, version)}, {WEIGHTS_ONLY}", layers, metadata, None)


def _from_archive(path: Path, failure: BaseException, options: OpenOptions) -> LoadedModel | None:
    import h5py

    with zipfile.ZipFile(path) as archive:
        members = {name.replace("\\", "/"): name for name in archive.namelist()}
        weights_name = members.get("model.weights.h5")
        if weights_name is None or "config.json" not in members:
            return None  # weights in other files (sharded): only Keras's own loader reads them
        config = parse_json_object(archive.read(members["config.json"]))
        problem = RebuildProblem.of(config, failure, options)
        if problem is None:
            return None
        metadata = parse_json_object(archive.read(members[METADATA_ZIP_NAME])) if METADATA_ZIP_NAME in members else {}
        keras_meta = parse_json_object(archive.read(members["metadata.json"])) if "metadata.json" in members else {}
    with tempfile.TemporaryDirectory(prefix="prune-viz-") as tmp:
        copy = Path(tmp) / "model.weights.h5"
        with HDF5Check(path, weights_name, "its model.weights.h5", copy) as check:
            check.wait()
        with h5py.File(copy, "r") as h5:
            layers = stored_layers(config, archive_tree(h5), h5, options)
    label = archive_label(path, str(keras_meta.get("keras_version", "")))
    return problem.loaded(path, f"{label}, {WEIGHTS_ONLY}", layers, metadata, weights_name)


# -- why the model cannot be rebuilt ----------------------------------------------------------------


class RebuildProblem:
    """What stops Keras rebuilding a saved model: the classes it cannot find and the Lambda layers
    safe mode refuses, said as one clause, and what would rebuild it."""

    def __init__(self, unknown: list[str], lambdas: list[str], failure: BaseException):
        self.unknown, self.lambdas, self.failure = unknown, lambdas, failure

    @classmethod
    def of(cls, config, failure: BaseException, options: OpenOptions) -> RebuildProblem | None:
        """The problem of a model whose ``config`` failed to load with ``failure``: whatever stopped
        Keras rebuilding it (a custom class, a Lambda, a layer that will not build), its weights are
        still there to open; None when it was rebuilt and its weights do not fit it."""
        if not isinstance(config, dict):
            return None
        unknown, lambdas = unbuildable(config, options)
        if not unknown and not lambdas and weights_do_not_fit(" ".join(str(failure).split())):
            return None  # rebuilt, and its weights do not fit it: a damaged or edited file, said as such
        return cls(unknown, lambdas, failure)

    @property
    def clause(self) -> str:
        parts = []
        custom = [name for name in self.unknown if name not in _OP_LAMBDAS]
        if custom:
            names = _listed(custom)
            parts.append(
                f"its custom class {names} is not part of Keras"
                if len(custom) == 1
                else f"its custom classes {names} are not part of Keras"
            )
        if any(name in _OP_LAMBDAS for name in self.unknown):
            parts.append(
                "its Keras 2 TFOpLambda layers (TensorFlow functions called on Keras tensors) have no Keras 3 form"
            )
        if self.lambdas:
            parts.append(
                f"its Lambda layer{'s' if len(self.lambdas) > 1 else ''} {_listed(self.lambdas)} "
                f"hold{'' if len(self.lambdas) > 1 else 's'} Python code, which runs only with --allow-lambda "
                "(in the window: File > Let Lambda layers run their code)"
            )
        if not parts:
            gist = " ".join(str(self.failure).split())
            gist = gist.rsplit("Exception encountered:", 1)[-1]
            parts.append(f"Keras could not rebuild its model ({short_reason(ValueError(gist), 100)})")
        return " and ".join(parts)

    @property
    def hint(self) -> str:
        if any(name not in _OP_LAMBDAS for name in self.unknown):
            which = "it" if len([n for n in self.unknown if n not in _OP_LAMBDAS]) == 1 else "them"
            return (
                f"the Python file that defines {which}, given with --custom-objects FILE.py "
                "(in the window: File > Custom objects file...), rebuilds the whole model"
            )
        return ""

    def loaded(self, path: Path, label: str, layers, metadata: dict, member: str | None) -> LoadedModel:
        loaded = LoadedModel(
            path=path,
            format=label,
            keras_model=None,
            metadata=metadata,
            stored_layers=layers,
            weights_only=True,
            weights_member=member,
            rebuild_problem=self.clause,
            rebuild_hint=self.hint,
        )
        hint = f"; {self.hint}" if self.hint else ""
        loaded.notes.append(f"opened from its weights only because {self.clause}{hint}")
        return loaded


def _listed(names: list[str]) -> str:
    shown = names[:3] + ([f"{len(names) - 3} more"] if len(names) > 3 else [])
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} and {shown[-1]}"


def unbuildable(config: dict, options: OpenOptions) -> tuple[list[str], list[str]]:
    """(class names Keras cannot find, names of the Lambda layers safe mode refuses) in ``config``."""
    objects = options.objects()
    unknown: list[str] = []
    lambdas: list[str] = []

    def visit(node) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item)
            return
        if not isinstance(node, dict):
            return
        class_name = node.get("class_name")
        if isinstance(class_name, str) and isinstance(node.get("config"), (dict, str)):
            if class_name == "Lambda" and options.safe_mode:
                name = node["config"].get("name", "") if isinstance(node["config"], dict) else ""
                lambdas.append(str(name or "lambda"))
            elif not _known(class_name, node.get("registered_name"), objects):
                shown = class_name.rsplit(">", 1)[-1]  # Keras 3 .h5 configs say "package>Name"
                if shown not in unknown:
                    unknown.append(shown)
        for value in node.values():
            visit(value)

    visit(config)
    return unknown, lambdas


def _known(class_name: str, registered: str | None, objects: dict) -> bool:
    import keras

    if class_name.startswith("__") or class_name in _MODELS:
        return class_name not in _OP_LAMBDAS
    if class_name in _OP_LAMBDAS:
        return class_name in objects
    if class_name in objects or (registered and registered in objects):
        return True
    if keras.saving.get_registered_object(registered or class_name) is not None:
        return True
    namespaces = (
        keras.layers,
        keras.initializers,
        keras.regularizers,
        keras.constraints,
        keras.activations,
        keras.losses,
        keras.metrics,
        keras.optimizers,
        keras.dtype_policies,
        keras,
    )
    return any(isinstance(getattr(space, class_name, None), type) for space in namespaces)


# -- the stored layers --------------------------------------------------------------------------------


def stored_layers(config: dict, root: StoredNode, h5, options: OpenOptions) -> list[StoredLayer]:
    """Every layer of the model ``config`` describes, in model order, nested models flattened, with
    the weights ``root`` (read from ``h5``) stores for it."""
    builder = _Builder(h5, options)
    if _is_model(config):
        builder.model(config, root, "")
    else:  # a subclassed model: no list of layers, only what its weights file stores
        builder.unknown("", str(config.get("class_name", "")), _config_of(config), root)
        builder.found = [layer for layer in builder.found if layer.path or layer.variables]
        for layer in builder.found:
            layer.path = layer.path.lstrip("/")
    return builder.found


def _is_model(node) -> bool:
    return (
        isinstance(node, dict)
        and node.get("class_name") in _MODELS
        and isinstance(node.get("config"), dict)
        and isinstance(node["config"].get("layers"), list)
    )


def _config_of(node: dict) -> dict:
    config = node.get("config")
    return config if isinstance(config, dict) else {}


class _Builder:
    def __init__(self, h5, options: OpenOptions):
        self.h5, self.options, self.objects = h5, options, options.objects()
        self.found: list[StoredLayer] = []

    def model(self, config: dict, stored: StoredNode | None, prefix: str) -> None:
        layer_nodes = [node for node in config["config"]["layers"] if isinstance(node, dict)]
        stored_nodes, unclaimed = (
            stored.for_layers(layer_nodes) if stored is not None else ([None] * len(layer_nodes), [])
        )
        for node, child in zip(layer_nodes, stored_nodes):
            config_dict = _config_of(node)
            name = str(config_dict.get("name", node.get("name", "")))
            path = f"{prefix}{name}"
            class_name = str(node.get("class_name", "")).rsplit(">", 1)[-1]
            if _is_model(node):
                self.model(node, child, f"{path}/")
            elif child is None or not child.entries():
                self.found.append(StoredLayer(path, class_name, config_dict, None, []))
            elif not self.rebuilt(path, class_name, config_dict, node, child):
                self.unknown(path, class_name, config_dict, child)
        for child in unclaimed:  # weights the file stores for no layer its config names: still shown
            self.sub_layer(f"{prefix}{child.label}", child)

    def rebuilt(self, path: str, class_name: str, config: dict, node: dict, stored: StoredNode) -> bool:
        """Rebuild a layer of a class Keras or the custom objects know, alone, and give it its weights."""
        if class_name == "Lambda" or class_name in _OP_LAMBDAS:
            return False
        if not _known(str(node.get("class_name")), node.get("registered_name"), self.objects):
            return False
        made = self._build(_layer_node(node), class_name, stored)
        if made is None:
            return False
        layer, pairs = made
        self.found.append(StoredLayer(path, class_name, config, layer, self._filled(layer, pairs)))
        return True

    def _build(self, node: dict, class_name: str, stored: StoredNode, build_args=None):
        """(layer, its weights paired with their datasets) for ``node`` built so that its weights
        have the stored shapes: from its build_config, else from the input shapes its weights imply."""
        import keras

        from prune_viz.core.io.unfilled_model import filled_initializers, unfilled

        node = unfilled(node)
        built = {k: v for k, v in node.items() if k != "build_config"}
        shapes = stored.shapes_in_weight_order(class_name)
        tries = []
        if build_args is not None:
            tries.append(build_args)
        if node.get("build_config"):
            tries.append(None)
        implied = implied_config(class_name, shapes)
        if implied is not None:
            tries.append(implied[1])
        tries += [(shape,) for shape in candidate_input_shapes(shapes)]
        for args in tries[:_MAX_BUILD_TRIES]:
            try:
                layer = keras.saving.deserialize_keras_object(
                    node if args is None else built, custom_objects=self.objects, safe_mode=True
                )
            except Exception:
                return None  # not a class this Keras can make from this config
            if not isinstance(layer, keras.layers.Layer) or getattr(layer, "layers", None):
                return None
            try:
                if args is not None:
                    layer.build(*args)
                pairs = paired(layer, stored)
            except Exception:
                continue
            if pairs is not None:
                filled_initializers(layer)
                return layer, pairs
        return None

    def _filled(self, layer, pairs) -> list[StoredVariable]:
        from prune_viz.core.io.layer_weights import dataset_tensor

        variables = []
        for weight, entry in pairs:
            weight.assign(dataset_tensor(self.h5[entry.dataset]))
            variables.append(StoredVariable(relative_name(weight, layer), entry.dataset, weight))
        return variables

    def _variable(self, path: str, entry) -> StoredVariable:
        import tensorflow as tf

        from prune_viz.core.io.layer_weights import dataset_tensor

        name = re.sub(r"[^A-Za-z0-9_.\-/]", "_", f"{path}/{entry.name}".strip("/")) or "weight"
        return StoredVariable(entry.name, entry.dataset, tf.Variable(dataset_tensor(self.h5[entry.dataset]), name=name))

    def unknown(self, path: str, class_name: str, config: dict, stored: StoredNode) -> None:
        """A layer of a class that cannot be rebuilt: its own weights under their stored names, then
        its sub-layers."""
        self.found.append(StoredLayer(path, class_name, config, None, [self._variable(path, e) for e in stored.own]))
        for child in stored.children:
            self.sub_layer(f"{path}/{child.label}", child)

    def sub_layer(self, path: str, stored: StoredNode) -> None:
        """A sub-layer of a custom layer: rebuilt when its stored name says its Keras class and its
        weights' shapes say its config; else its weights under their stored names."""
        guess = class_named_by(stored.key if stored.listed else stored.name) or class_named_by(stored.name)
        if guess in INFERENCE:
            implied = implied_config(guess, stored.shapes_in_weight_order(guess))
            if implied is not None:
                config = {"name": stored.label, **implied[0]}
                node = {"module": "keras.layers", "class_name": guess, "config": config, "registered_name": None}
                made = self._build(node, guess, stored, build_args=implied[1])
                if made is not None:
                    layer, pairs = made
                    self.found.append(StoredLayer(path, guess, config, layer, self._filled(layer, pairs)))
                    return
        if stored.own:
            self.found.append(StoredLayer(path, "", {}, None, [self._variable(path, e) for e in stored.own]))
        for child in stored.children:
            self.sub_layer(f"{path}/{child.label}", child)


def _layer_node(node: dict) -> dict:
    """A layer's config node as ``deserialize_keras_object`` takes it: without its graph links, with
    the module of every Keras class (Keras 2 .h5 configs name none), a Keras 2 config converted."""
    import keras

    from prune_viz.core.io.config_migration import keras2_config_for_keras3

    node = json.loads(json.dumps({k: v for k, v in node.items() if k not in ("inbound_nodes", "name")}))
    _add_modules(node, keras)
    return keras2_config_for_keras3(node) or node


def _add_modules(node, keras) -> None:
    if isinstance(node, list):
        for item in node:
            _add_modules(item, keras)
        return
    if not isinstance(node, dict):
        return
    class_name = node.get("class_name")
    if isinstance(class_name, str) and "config" in node and not node.get("module"):
        for space in ("layers", "initializers", "regularizers", "constraints"):
            if isinstance(getattr(getattr(keras, space), class_name, None), type):
                node["module"] = f"keras.{space}"
                node.setdefault("registered_name", None)
                break
    for value in node.values():
        _add_modules(value, keras)
