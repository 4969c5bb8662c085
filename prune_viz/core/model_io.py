"""Open a saved model, whatever its format, without ever writing to it.

The reader is chosen by content, not by extension: a zip is a Keras archive
(Keras 3 or Keras 2.x; backslashed Windows paths repaired, Keras 2 configs
converted for Keras 3), an HDF5 file is a legacy Keras model (whatever its
name), and a folder is a TensorFlow SavedModel (kernels from its serving
signature). Only public readers are used: Keras's saving API, h5py, and
TensorFlow's SavedModel loader. A Keras archive's model is built from its config
with variables left unwritten, then each layer reads its own weights from the file.
Any HDF5 data is read once in a child process first, because a damaged file can
crash or hang libhdf5. Repairs happen on temporary copies only.
Every failure becomes a ``ModelLoadError`` whose message is one sentence;
caveats about a model that did open go to ``LoadedModel.notes``.
"""

from __future__ import annotations

import collections.abc
import contextlib
import functools
import json
import os
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from prune_viz.core import row_blocks
from prune_viz.core.errors import UserError
from prune_viz.core.files import WriteRefused, write_atomically
from prune_viz.core.shared_buffers import aligned_empty, tensor_view

METADATA_ZIP_NAME = "prune_viz.json"  # extra member of a .keras zip; Keras ignores it
METADATA_H5_ATTR = "prune_viz"

MAX_ARCHIVE_BYTES = 8 * 2**30
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"


class ModelLoadError(UserError):
    """The model could not be opened; ``str(error)`` is one sentence for the user."""

    def __init__(self, message: str):
        super().__init__(one_line(message))


def one_line(text: str) -> str:
    """``text`` on one printable line: names taken from damaged files may hold newlines or escapes."""
    return "".join(c if c.isprintable() else "?" for c in " ".join(str(text).split()))


@dataclass
class LoadedModel:
    path: Path
    format: str  # human-readable, e.g. "Keras 3 archive (.keras)"
    keras_model: Any | None  # keras.Model, or None for a bare SavedModel
    saved_model: Any | None = None  # the tf.saved_model.load() object, if any
    metadata: dict = field(default_factory=dict)
    # For bare SavedModels: (layer name, kernel variable) read by the serving signature, in model order.
    raw_variables: list[tuple[str, Any]] = field(default_factory=list)
    serving_fn: Callable | None = None  # concrete function taking one tensor
    notes: list[str] = field(default_factory=list)  # caveats the user should see, one sentence each

    @property
    def input_shape(self) -> tuple | None:
        """Shape of the single model input including the batch dimension, or None if unknown."""
        if self.keras_model is not None:
            try:
                shape = self.keras_model.inputs[0].shape
            except Exception:
                shape = getattr(self.keras_model, "input_shape", None)
            return None if shape is None else tuple(shape)
        if self.serving_fn is not None:
            specs = self.serving_fn.structured_input_signature[1]
            if len(specs) == 1:
                return tuple(next(iter(specs.values())).shape)
        return None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def variables(self) -> list:
        """Every weight of the model (kernels, biases, norms...), whatever its format."""
        if self.keras_model is not None:
            return list(self.keras_model.weights)
        if self.serving_fn is not None:
            return list(self.serving_fn.variables)
        return _trackable_variables(self.saved_model)

    def non_finite_weights(self) -> dict[str, int]:
        """{layer name: count} of NaN or infinite weights, for the layers that have any."""
        counts: dict[str, int] = {}
        for var in self.variables:
            if not np.issubdtype(np.dtype(_numpy_dtype(var)), np.floating):
                continue
            bad = sum(int(block.size - np.count_nonzero(np.isfinite(block))) for block in variable_blocks(var))
            if bad:
                name = str(getattr(var, "path", None) or var.name)
                counts[name] = counts.get(name, 0) + bad
        return _by_layer(counts)

    def __call__(self, x):
        """Forward pass for inference (no dropout, no augmentation)."""
        if self.keras_model is not None:
            return self.keras_model(x, training=False)
        if self.serving_fn is None:
            from prune_viz.core.inputs import EvaluationUnavailable

            raise EvaluationUnavailable(f"The SavedModel {self.name} has no serving signature to run it with.")
        import tensorflow as tf

        # Signatures take keyword tensors only: {input name: tensor of the signature's dtype}.
        name, spec = next(iter(self.serving_fn.structured_input_signature[1].items()))
        outputs = self.serving_fn(**{name: tf.cast(tf.convert_to_tensor(x), spec.dtype)})
        if isinstance(outputs, dict):
            outputs = next(iter(outputs.values()))
        return outputs


def _by_layer(counts: dict[str, int]) -> dict[str, int]:
    """{variable name: count} summed per layer ("fc1/kernel:0" -> "fc1")."""
    found: dict[str, int] = {}
    for name, count in counts.items():
        name = name.split(":")[0]
        layer = name.rsplit("/", 1)[0] if "/" in name else name
        found[layer] = found.get(layer, 0) + count
    return found


def variable_blocks(variable):
    """A variable's values as numpy blocks of whole rows, so that reading a big kernel never makes
    a full-size temporary (a whole ``.numpy()`` costs 1x, and TensorFlow keeps memory it allocated
    for big eager ops)."""
    shape = tuple(int(d) for d in variable.shape)
    if not row_blocks.is_big(shape):
        yield np.asarray(variable.numpy())
        return
    inner = getattr(variable, "value", variable)  # a Keras 3 Variable's backend tf.Variable
    for r0, r1 in row_blocks.row_starts(shape):
        yield inner[r0:r1].numpy()


def variable_copy(variable, dtype=np.float32) -> np.ndarray:
    """A private numpy copy of a variable, filled block by block (peak: the copy plus one block)."""
    out = aligned_empty(tuple(int(d) for d in variable.shape), dtype)  # so row blocks go to TF without a copy
    if out.ndim < 2:
        out[...] = np.asarray(variable.numpy(), dtype)
        return out
    r0 = 0
    for block in variable_blocks(variable):
        out[r0 : r0 + len(block)] = block
        r0 += len(block)
    return out


def _numpy_dtype(variable):
    dtype = getattr(variable, "dtype", None)
    return getattr(dtype, "as_numpy_dtype", dtype)


def sniff_format(path: Path) -> str:
    """'savedmodel', 'zip', 'hdf5', or raise ModelLoadError."""
    if path.is_dir():
        if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
            return "savedmodel"
        raise ModelLoadError(f"The folder {path.name} is not a TensorFlow SavedModel (no saved_model.pb).")
    if not path.is_file():
        raise ModelLoadError(f"{path.name} is not a regular file (it is a pipe, socket or device).")
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise ModelLoadError(f"Cannot read {path.name}: {exc.strerror or exc}.") from exc
    if not head:
        raise ModelLoadError(f"{path.name} is empty.")
    if head == _HDF5_MAGIC:
        return "hdf5"
    if head.startswith(_ZIP_MAGIC) or head.startswith(_EMPTY_ZIP_MAGIC):
        return "zip"
    raise ModelLoadError(f"{path.name} is neither a Keras archive nor an HDF5 model file.")


def load_model(path: str | os.PathLike) -> LoadedModel:
    path = Path(path).expanduser()
    if not path.exists():
        raise ModelLoadError(f"{path} does not exist.")
    kind = sniff_format(path)
    try:
        with warnings.catch_warnings():
            # Keras warns about legacy arguments in old configs ("Do not pass an `input_shape`...");
            # the user cannot act on them, and the CLI promises one clean line on stderr.
            warnings.simplefilter("ignore")
            if kind == "savedmodel":
                loaded = _load_savedmodel(path)
            elif kind == "hdf5":
                loaded = _load_hdf5(path)
            else:
                loaded = _load_keras_zip(path)
        broken = loaded.non_finite_weights()
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(_explain(path, exc)) from exc
    loaded.notes.extend(f"layer {layer} has {count:,} NaN or infinite weights" for layer, count in broken.items())
    return loaded


def _short(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _explain(path: Path, exc: BaseException) -> str:
    """One sentence for a Keras/TensorFlow failure: the known causes by name, else the error's gist."""
    import re

    # Classify by the error raised last: after a failed Keras 2 conversion retry, the chain
    # also holds the first attempt's error, which is not the one that matters.
    text = " ".join(str(exc).split())
    custom = (re.search(r"Could not locate (?:class|function) '([^']+)'", text)
              or re.search(r"Unknown (?:layer|object|activation|initializer|regularizer|constraint)"
                           r"(?: type)?: '?([\w.>]+)'?", text))
    if custom:
        name = custom.group(1).rsplit(">", 1)[-1]
        if not _is_keras_class(name):
            return (f"{path.name} uses a custom class, {name}, that is not part of Keras; prune-viz can only "
                    "open models built from standard Keras layers.")
    if "JSONDecodeError" in text or any(isinstance(e, json.JSONDecodeError) for e in _chain(exc)):
        return f"{path.name} is damaged: its model configuration is not valid JSON."
    if "synchronously" in text:  # h5py's wording for a broken HDF5 structure
        return f"{path.name} is damaged: its HDF5 weights cannot be read ({_short(exc, 100)})."
    if "Lambda" in text and "safe_mode" in text:
        return (f"{path.name} contains a Lambda layer (arbitrary Python code), which prune-viz does not "
                "run; rebuild the model with standard layers.")
    shapes = re.search(r"variable\.shape=(\([^)]*\)), Received: value\.shape=(\([^)]*\))", text)
    if shapes or "could not be loaded" in text or "Shape mismatch" in text:
        detail = ""
        if shapes:
            detail = f" (a kernel of shape {shapes.group(1)} was given weights of shape {shapes.group(2)})"
        return f"{path.name}: its weights do not fit its architecture{detail}."
    if custom or re.search(r"could not be deserialized|Error when deserializing|not a valid Keras configuration"
                           r"|Could not locate", text):
        gist = text.rsplit("Exception encountered:", 1)[-1] if "Exception encountered:" in text else text
        return (f"{path.name}: Keras could not rebuild the model from its saved configuration "
                f"({_short(ValueError(gist), 120)}).")
    if isinstance(exc, (KeyError, AttributeError, TypeError, IndexError)):  # a config of the wrong shape
        return (f"{path.name}: Keras could not rebuild the model from its saved configuration "
                f"({type(exc).__name__}: {_short(exc, 100)}).")
    return _one_sentence(path, exc)


def _chain(exc: BaseException) -> list[BaseException]:
    found = []
    while exc is not None and len(found) < 10:
        found.append(exc)
        exc = exc.__cause__ or exc.__context__
    return found


def _is_keras_class(name: str) -> bool:
    keras = _keras()
    return name in ("Functional", "Sequential", "Model") or hasattr(keras.layers, name)


def _one_sentence(path: Path, exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if len(text) > 200:
        text = text[:197] + "..."
    return f"Cannot open {path.name}: {type(exc).__name__}: {text}"


def _keras():
    import keras

    return keras


def _load_keras_zip(path: Path) -> LoadedModel:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ModelLoadError(f"{path.name} is a damaged zip file ({_short(exc)}).") from exc
    with archive:
        unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_ARCHIVE_BYTES:  # a zip bomb, or nothing an MNIST model needs
            raise ModelLoadError(f"{path.name} would unpack to {unpacked / 2**30:,.1f} GB, more than prune-viz "
                                 f"opens ({MAX_ARCHIVE_BYTES // 2**30} GB).")
        members = {n: n.replace("\\", "/") for n in archive.namelist()}
        by_fixed = {f: n for n, f in members.items()}
        if "config.json" not in by_fixed:
            raise ModelLoadError(f"{path.name} is a zip file but not a Keras model archive (no config.json).")
        weights_name = by_fixed.get("model.weights.h5")
        # the weights member's CRC is checked by the child process that reads it first
        _refuse_damaged_members(path, archive, [n for n in archive.namelist() if n != weights_name])
        if not any(f.startswith("model.weights") for f in by_fixed):
            raise ModelLoadError(f"{path.name} has no model.weights.h5, so it carries no weights to show.")
        try:
            config_text = archive.read(by_fixed["config.json"]).decode("utf-8")
            config = json.loads(config_text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ModelLoadError(f"{path.name} has an unreadable config.json ({_short(exc, 80)}).") from exc
        metadata = _parse_json(archive.read(by_fixed[METADATA_ZIP_NAME])) if METADATA_ZIP_NAME in by_fixed else {}
        keras_meta = _parse_json(archive.read(by_fixed["metadata.json"])) if "metadata.json" in by_fixed else {}
        version = str(keras_meta.get("keras_version", ""))
        if weights_name is not None:
            with archive.open(weights_name) as member:
                if member.read(len(_HDF5_MAGIC)) != _HDF5_MAGIC:
                    raise ModelLoadError(f"{path.name} is damaged: its model.weights.h5 is not an HDF5 file.")
        # layers with assets (vocabularies...) and weights in other files need Keras's whole loader
        whole_loader = weights_name is None or any(f.startswith("assets") for f in by_fixed)
        with tempfile.TemporaryDirectory(prefix="prune-viz-") as tmp:
            # the child copies the weights out of the zip (checking their CRC) and reads the copy;
            # h5py reads a file of its own several times faster than a zip member
            weights_copy = None if whole_loader else Path(tmp) / "model.weights.h5"
            check = HDF5Check(path, weights_name, "its model.weights.h5", weights_copy) if weights_name else None
            with check or contextlib.nullcontext():
                model, converted = None, False
                if not whole_loader:  # built while the child reads the weights
                    model, converted = _model_from_config(config)
                if check is not None:
                    check.wait()
            repaired_weights = None
            if check is not None and check.backslashes is not False:
                repaired_weights = _weights_with_forward_slashes(archive, weights_name, weights_copy)
            repaired = repaired_weights is not None or any(n != f for n, f in members.items())
            if model is not None:
                if repaired_weights is not None:
                    # Keras 2.x/keras_core on Windows joined paths with backslashes, in zip member
                    # names and inside model.weights.h5; Keras 3 finds neither. Load a repaired copy.
                    weights_copy.write_bytes(repaired_weights)
                _load_weights(model, weights_copy)
            else:
                source = path
                if repaired:
                    source = Path(tmp) / "model.keras"
                    _write_archive_copy(archive, members, source, repaired_weights)
                elif path.suffix.lower() != ".keras":
                    source = _view_with_suffix(path, Path(tmp) / "model.keras")
                try:
                    model = _keras().saving.load_model(source, compile=False)
                except Exception:
                    fixed = keras2_config_for_keras3(config)
                    if fixed is None:
                        raise
                    source = Path(tmp) / "model-keras3-config.keras"
                    _write_archive_copy(archive, members, source, repaired_weights, fixed)
                    model = _keras().saving.load_model(source, compile=False)
                    converted = True
    return LoadedModel(path=path, format=_archive_label(path, version, repaired, converted),
                       keras_model=model, metadata=metadata)


def _model_from_config(config: dict):
    """(model, converted): the model ``config`` describes, its variables allocated but not yet
    written (``_load_weights`` writes them), built as Keras 3 wrote it or else from its Keras 2
    config converted."""
    import copy

    keras = _keras()
    unfilled = dict(copy.deepcopy(config), compile_config=None)  # compile=False, as in keras.saving.load_model
    _unfilled_initializers(unfilled)
    _unfilled_class()  # registered with Keras, which the nested and Keras 2 configs' readers consult
    try:
        model, converted = keras.saving.deserialize_keras_object(unfilled, safe_mode=True), False
    except Exception:
        fixed = keras2_config_for_keras3(unfilled)
        if fixed is None:
            raise
        model, converted = keras.saving.deserialize_keras_object(fixed, safe_mode=True), True
    _restore_initializers(model.layers, config.get("config", {}).get("layers"))
    _replace_unfilled(model, set())
    return model, converted


def _load_weights(model, weights: Path) -> None:
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
    h5.visititems(lambda name, obj: groups.append(name) if name.rsplit("/", 1)[-1] == "vars"
                  and isinstance(obj, h5py.Group) else None)
    matched, seen = [], set()
    for name in groups:
        parts = name.split("/")
        if parts[0] == "optimizer" or not len(h5[name]):
            continue
        if len(parts) % 2 == 0 or any(part != "layers" for part in parts[:-1:2]):
            return None
        layer = model
        for depth in range(1, len(parts), 2):
            step = h5.get("/".join(parts[:depth + 1] + ["vars"]))
            wanted = step.attrs.get("name") if isinstance(step, h5py.Group) else None
            found = [child for child in getattr(layer, "layers", []) if child.name == wanted]
            if len(found) != 1:
                return None
            layer = found[0]
        datasets = [h5[name].get(str(i)) for i in range(len(h5[name]))]
        if id(layer) in seen or len(datasets) != len(layer.weights) or not all(
                isinstance(d, h5py.Dataset) and "dtype" not in d.attrs and d.shape == tuple(w.shape)
                and d.dtype.name == w.dtype for d, w in zip(datasets, layer.weights)):
            return None
        seen.add(id(layer))
        matched.append((layer, h5[name]))
    if any(layer.weights and id(layer) not in seen for layer in _leaf_layers(model)):
        return None
    return matched


def _leaf_layers(model) -> list:
    """The layers of ``model``, those of nested models in place of the nested models."""
    return [leaf for layer in model.layers
            for leaf in (_leaf_layers(layer) if hasattr(layer, "layers") else [layer])]


class _DatasetStore(collections.abc.Mapping):
    """A layer's "vars" group as ``load_own_variables`` reads it ("0", "1"... -> values). Each value
    is read when asked for, into a buffer aligned as TensorFlow wants, and handed over as a tensor."""

    def __init__(self, group):
        self._group = group

    def __getitem__(self, key):
        import tensorflow as tf

        dataset = self._group[key]
        dtype = np.dtype(dataset.dtype.name)  # in this machine's byte order
        array = aligned_empty(dataset.shape, dtype)
        if array.size:
            dataset.read_direct(array)
        if array.dtype.kind not in "fiu" or not array.size:
            return tf.convert_to_tensor(array)
        # TensorFlow's own copy of the buffer, made once: converting the array would copy it twice, and a
        # variable holding the buffer itself (shared through DLPack) would copy it again at its first write
        return tf.raw_ops.DeepCopy(x=tensor_view(array))

    def __iter__(self):
        return iter(self._group)

    def __len__(self):
        return len(self._group)


_UNFILLED = {"module": None, "class_name": "prune_viz>Unfilled", "config": {}, "registered_name": "prune_viz>Unfilled"}


@functools.cache
def _unfilled_class():
    keras = _keras()

    @keras.saving.register_keras_serializable(package="prune_viz")
    class Unfilled(keras.initializers.Initializer):
        """A variable's memory, allocated but never written: the weights loaded next overwrite it,
        so a big kernel costs neither the time nor the memory of values drawn only to be dropped."""

        def __call__(self, shape, dtype=None):
            import tensorflow as tf

            return tf.raw_ops.Empty(shape=shape, dtype=tf.as_dtype(dtype or "float32"), init=False)

    return Unfilled


def _unfilled_initializers(node) -> None:
    """Every ``*_initializer`` in a config made ``Unfilled``, in place. It also makes building
    tolerant of initializer arguments this Keras does not know (3.12 refuses the ``input_axes``
    3.15 writes for GlorotUniform)."""
    if isinstance(node, list):
        for item in node:
            _unfilled_initializers(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("_initializer") and value is not None:
                node[key] = dict(_UNFILLED)
            else:
                _unfilled_initializers(value)


def _replace_unfilled(layer, seen: set) -> None:
    """Zeros for any ``Unfilled`` initializer ``_restore_initializers`` did not reach (a wrapped
    layer, an RNN cell...): a later build or an exported config must never meet it."""
    keras = _keras()
    if id(layer) in seen:
        return
    seen.add(id(layer))
    for key, value in list(vars(layer).items()):
        if isinstance(value, _unfilled_class()) and not key.startswith("_"):
            setattr(layer, key, keras.initializers.Zeros())
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, keras.layers.Layer):
                _replace_unfilled(item, seen)


def _initializer(config):
    """The Keras initializer ``config`` describes, without the arguments this Keras does not take."""
    import inspect

    initializers = _keras().initializers
    try:
        return initializers.get(config)
    except Exception:
        cls = getattr(initializers, config.get("class_name", ""), None) if isinstance(config, dict) else None
        if not isinstance(cls, type) or not isinstance(config.get("config"), dict):
            raise
        accepted = inspect.signature(cls.__init__).parameters
        return cls(**{k: v for k, v in config["config"].items() if k in accepted})


def _restore_initializers(layers, configs) -> None:
    """Give each layer back the initializers its saved config names (``Unfilled`` built it), so that
    the model's config, and any file exported from it, stays the user's (less any initializer
    argument this Keras does not take)."""
    if not isinstance(configs, list):
        return
    by_name = {c["config"].get("name"): c["config"] for c in configs
               if isinstance(c, dict) and isinstance(c.get("config"), dict)}
    for layer in layers:
        config = by_name.get(layer.name)
        if config is None:
            continue
        for key, value in config.items():
            if key.endswith("_initializer") and value is not None and hasattr(layer, key):
                try:
                    setattr(layer, key, _initializer(value))
                except Exception:
                    pass
        if hasattr(layer, "layers"):  # a nested Sequential or Functional model
            _restore_initializers(layer.layers, config.get("layers"))


def _archive_label(path: Path, version: str, repaired: bool = False, converted: bool = False) -> str:
    label = f"Keras {version[0]} archive (.keras)" if version else "Keras archive (.keras)"
    if path.suffix.lower() != ".keras":
        label += f" behind a {path.suffix or 'suffix-less'} name"
    if repaired:
        label += ", backslash paths repaired"
    if converted and version.startswith("3"):  # a newer Keras 3 wrote arguments this one does not take
        label += f", config adapted to Keras {_keras().__version__}"
    elif converted:
        label += ", Keras 2 config converted"
    return label


def _write_archive_copy(archive: zipfile.ZipFile, members: dict, target: Path,
                        weights: bytes | None = None, config: dict | None = None) -> None:
    """Copy of ``archive`` at ``target`` with forward-slash names and, optionally, new weights/config."""
    with zipfile.ZipFile(target, "w") as out:
        for name, fixed in members.items():
            if fixed == "model.weights.h5" and weights is not None:
                data = weights
            elif fixed == "config.json" and config is not None:
                data = json.dumps(config).encode()
            else:
                data = archive.read(name)
            out.writestr(fixed, data)


def _view_with_suffix(path: Path, link: Path) -> Path:
    """Keras picks its reader by extension: a symlink (or copy) of ``path`` under the right name."""
    try:
        os.symlink(path.resolve(), link)
    except OSError:
        shutil.copyfile(path, link)
    return link


def _refuse_damaged_members(path: Path, archive: zipfile.ZipFile, names: list[str]) -> None:
    bad = _first_damaged_member(archive, names)
    if bad is not None:
        raise _damaged_member(path, bad)


def _damaged_member(path: Path, member: str) -> ModelLoadError:
    return ModelLoadError(f"{path.name} is damaged (its member {member} cannot be read).")


def _first_damaged_member(archive: zipfile.ZipFile, names: list[str]) -> str | None:
    """The first of ``names`` whose bytes do not read back with their recorded CRC, as
    ``ZipFile.testzip`` would say; None when all read."""
    try:
        for name in names:
            try:
                with archive.open(name) as member:
                    while member.read(1 << 20):
                        pass
            except zipfile.BadZipFile:
                return name
    except (OSError, ValueError, EOFError, NotImplementedError, RuntimeError) as exc:
        return f"({_short(exc)})"
    return None


def _weights_with_forward_slashes(archive: zipfile.ZipFile, member: str, copy: Path | None) -> bytes | None:
    """A copy of a model.weights.h5 whose group names use \\ as separators, rebuilt with /; else None.
    Read from ``copy``, the member copied out of the archive, if there is one."""
    import io

    import h5py

    with contextlib.ExitStack() as stack:
        raw = copy if copy is not None else stack.enter_context(archive.open(member))
        source = stack.enter_context(h5py.File(raw, "r"))
        entries = []
        source.visititems(lambda name, obj: entries.append((name, obj)))
        if not any("\\" in name for name, _ in entries):
            return None
        buffer = io.BytesIO()
        with h5py.File(buffer, "w") as target:
            target.attrs.update(dict(source.attrs))
            for name, obj in entries:
                fixed = name.replace("\\", "/")
                if isinstance(obj, h5py.Dataset):
                    target.create_dataset(fixed, data=obj[()])
                    made = target[fixed]
                else:
                    made = target.require_group(fixed)
                made.attrs.update(dict(obj.attrs))
    return buffer.getvalue()


def _load_hdf5(path: Path) -> LoadedModel:
    import h5py

    with HDF5Check(path, None) as check:
        check.wait()
    try:
        with h5py.File(path, "r") as h5:
            if "model_config" not in h5.attrs:
                if _looks_like_keras_weights(h5):
                    raise ModelLoadError(
                        f"{path.name} holds weights only, without the model architecture; "
                        "save the whole model (model.save) to open it here."
                    )
                raise ModelLoadError(f"{path.name} is an HDF5 file but holds no Keras model.")
            version = h5.attrs.get("keras_version", b"")
            model_config = h5.attrs["model_config"]
            metadata = _parse_json(h5.attrs[METADATA_H5_ATTR]) if METADATA_H5_ATTR in h5.attrs else {}
    except ModelLoadError:
        raise
    except OSError as exc:
        import re

        cut = re.search(r"truncated file: eof = (\d+).*stored_eof = (\d+)", str(exc))
        if cut:
            raise ModelLoadError(f"{path.name} is a damaged HDF5 file: it is truncated "
                                 f"({int(cut.group(1)):,} of {int(cut.group(2)):,} bytes).") from exc
        raise ModelLoadError(f"{path.name} is a damaged HDF5 file ({_short(exc)}).") from exc
    if isinstance(version, bytes):
        version = version.decode("utf-8", "replace")
    with tempfile.TemporaryDirectory(prefix="prune-viz-") as tmp:
        source = path
        if path.suffix.lower() not in (".h5", ".hdf5"):
            source = _view_with_suffix(path, Path(tmp) / "model.h5")
        try:
            model = _keras().saving.load_model(source, compile=False)
        except Exception:
            config = keras2_config_for_keras3(_parse_json(model_config))
            if config is None:
                raise
            # A Keras 2 config Keras 3 refuses: load a copy carrying the converted config.
            source = Path(tmp) / "model-keras3-config.h5"
            shutil.copyfile(path, source)
            with h5py.File(source, "r+") as h5:
                h5.attrs["model_config"] = json.dumps(config)
            model = _keras().saving.load_model(source, compile=False)
            version = f"{version}, config converted" if version else "config converted"
    label = f"HDF5 (Keras {version})" if version else "HDF5 (legacy Keras)"
    if path.suffix.lower() == ".keras":
        label += " behind a .keras name"
    return LoadedModel(path=path, format=label, keras_model=model, metadata=metadata)


# Reads every attribute and dataset of an HDF5 file (argv: path; the zip member holding the file,
# or ""; where to copy that member first, or ""), big datasets in slices of rows. Exit code 3: the
# member's bytes do not match the zip's CRC; a negative one: libhdf5 crashed. Prints "backslashes"
# when a group or dataset name holds a backslash (Keras on Windows wrote those).
_HDF5_READ_ALL = r"""
import os, shutil, sys, zipfile
import h5py

def attempt(action):
    # an error is not the question here, a crash is: go on, so that every part gets touched
    try:
        action()
    except Exception:
        pass

def read_attrs(obj):
    for key in list(obj.attrs):
        attempt(lambda: obj.attrs[key])

def read(name, obj):
    names.append(name)
    read_attrs(obj)
    if isinstance(obj, h5py.Dataset):
        if obj.ndim and obj.size > (1 << 22):  # in slices: the child need not hold a big kernel at once
            step = max(1, (1 << 22) // max(1, obj.size // obj.shape[0]))
            starts = range(0, obj.shape[0], step)
            if obj.chunks is None and obj.dtype.kind in "fiub":
                # contiguous numbers: libhdf5 reads every row alike, whatever the values, so its
                # first and last rows take every path a whole read takes
                starts = [0, obj.shape[0] - 1]
            for r0 in starts:
                attempt(lambda: obj[r0:r0 + step])
        else:
            attempt(lambda: obj[()])

path, member, copy = sys.argv[1:4]
source = path
if member:
    archive = zipfile.ZipFile(path)
    try:
        with archive.open(member) as whole, open(copy or os.devnull, "wb") as out:
            shutil.copyfileobj(whole, out, 1 << 20)
    except zipfile.BadZipFile:
        sys.exit(3)
    # h5py then reads what the parent's h5py will read: the copy, or else the member in the zip
    source = copy or archive.open(member)
names = []
with h5py.File(source, "r") as f:
    attempt(lambda: read_attrs(f))
    f.visititems(read)
print("backslashes" if any("\\" in name for name in names) else "")
"""


class HDF5Check:
    """Reads a file's HDF5 data once in a child process, before this process lets h5py touch it:
    a damaged file can crash (SIGSEGV) or hang libhdf5 itself, which no try/except here could
    catch. The fuzzer found both. The child starts on entry, so that this process can build the
    model meanwhile; ``wait`` gives its verdict."""

    def __init__(self, path: Path, member: str | None, what: str = "its HDF5 data", copy: Path | None = None):
        """``member``: the zip member holding the HDF5 file, None for an HDF5 file of its own;
        ``copy``: where the child copies the member to, and reads it from."""
        self.path, self.member, self.what, self.copy = path, member, what, copy
        self.backslashes: bool | None = False
        size = path.stat().st_size
        self.seconds = 20 + size // (50 * 2**20)
        self._child = None

    def __enter__(self) -> HDF5Check:
        import subprocess
        import sys

        try:
            self._child = subprocess.Popen(
                [sys.executable, "-c", _HDF5_READ_ALL, str(self.path), self.member or "",
                 str(self.copy or "")],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        except OSError:
            self._child = None  # no child process possible here: h5py reads it in-process unchecked
        return self

    def wait(self) -> None:
        """Raise ModelLoadError if reading the file crashed or hung the child, or if the zip
        member's bytes are damaged; else note whether its group names hold backslashes."""
        import subprocess

        if self._child is None:
            self.backslashes = None  # unknown
            if self.copy is not None:
                with zipfile.ZipFile(self.path) as archive, archive.open(self.member) as member, \
                        open(self.copy, "wb") as out:
                    shutil.copyfileobj(member, out, 1 << 24)
            return
        try:
            out, _ = self._child.communicate(timeout=self.seconds)
        except subprocess.TimeoutExpired as exc:
            raise ModelLoadError(
                f"{self.path.name} is damaged: reading {self.what} did not finish within {self.seconds} s."
            ) from exc
        code = self._child.returncode
        if code < 0:
            raise ModelLoadError(
                f"{self.path.name} is damaged: reading {self.what} crashed the HDF5 library (signal {-code}).")
        if code == 3 and self.member:
            raise _damaged_member(self.path, self.member)
        self.backslashes = out.strip() == b"backslashes"

    def __exit__(self, *exc_info) -> None:
        if self._child is not None and self._child.poll() is None:
            self._child.kill()
            self._child.wait()


def _looks_like_keras_weights(h5) -> bool:
    """Keras 2 save_weights writes layer_names (maybe under model_weights); Keras 3 writes layers/ and vars/."""
    import h5py

    return ("layer_names" in h5.attrs or "model_weights" in h5
            or any(isinstance(h5.get(name), h5py.Group) for name in ("layers", "vars")))


def _load_savedmodel(path: Path) -> LoadedModel:
    import tensorflow as tf

    if not (path / "variables").is_dir():
        raise ModelLoadError(f"The SavedModel {path.name} has no variables folder; it is incomplete.")
    try:
        with tempfile.TemporaryDirectory(prefix="prune-viz-") as tmp:
            loaded = tf.saved_model.load(str(_without_slot_variables(path, Path(tmp)) or path))
    except Exception as exc:  # protobuf DecodeError, NotFoundError, checkpoint errors...
        reason = _short(ValueError(str(exc).replace(str(path.resolve()), path.name).replace(str(path), path.name)), 120)
        raise ModelLoadError(
            f"The SavedModel {path.name} is damaged or incomplete ({type(exc).__name__}: {reason})."
        ) from exc
    signature = loaded.signatures.get("serving_default") if hasattr(loaded, "signatures") else None
    if signature is not None:
        variables = _named_kernel_variables(signature.variables)
    else:  # weights can still be shown and pruned; evaluation will say the input is unknown
        variables = _named_kernel_variables(_trackable_variables(loaded))
        if not variables:
            raise ModelLoadError(
                f"The SavedModel {path.name} has no serving_default signature and no kernel weights to show."
            )
    metadata = {}
    meta_file = path / "assets" / METADATA_ZIP_NAME
    if meta_file.is_file():
        metadata = _parse_json(meta_file.read_bytes())
    model = LoadedModel(
        path=path,
        format="TensorFlow SavedModel",
        keras_model=None,
        saved_model=loaded,
        metadata=metadata,
        raw_variables=variables,
        serving_fn=signature,
    )
    if _varies_between_runs(model):
        model.notes.append(RANDOM_OUTPUTS_NOTE)
    return model


def _without_slot_variables(path: Path, tmp: Path) -> Path | None:
    """A copy of the SavedModel at ``path`` whose object graph no longer ties optimizer slot
    variables to their optimizer, or None if it has none (or its saved_model.pb cannot be parsed).

    TensorFlow recreates a slot variable by calling ``add_slot`` on the revived optimizer, a method
    only tf.keras's optimizer has: without tf_keras the optimizer revives as a plain object and the
    load fails. Untied, the slot variables load as plain variables. Only saved_model.pb is
    rewritten; the rest of the copy links to the original."""
    from tensorflow.core.protobuf import saved_model_pb2

    graph_file = path / "saved_model.pb"
    if not graph_file.is_file():
        return None
    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString(graph_file.read_bytes())
    except Exception:  # the loader reports a damaged file in its own words
        return None
    untied = False
    for meta_graph in proto.meta_graphs:
        for node in meta_graph.object_graph_def.nodes:
            if len(node.slot_variables):
                del node.slot_variables[:]
                untied = True
    if not untied:
        return None
    copy = tmp / path.name
    copy.mkdir()
    (copy / "saved_model.pb").write_bytes(proto.SerializeToString())
    for entry in path.iterdir():
        if entry.name != "saved_model.pb":
            try:
                os.symlink(entry.resolve(), copy / entry.name, target_is_directory=entry.is_dir())
            except OSError:
                (shutil.copytree if entry.is_dir() else shutil.copyfile)(entry, copy / entry.name)
    return copy


RANDOM_OUTPUTS_NOTE = "its outputs vary from run to run: random augmentation was left active when it was exported"


def _varies_between_runs(model: LoadedModel) -> bool:
    """Keras 3's model.export() keeps RandomFlip & co. in training mode; two identical calls tell."""
    shape = model.input_shape
    if shape is None or len(shape) < 2 or any(d is None for d in shape[1:]):
        return False
    probe = np.random.default_rng(0).random((shape[0] or 4,) + tuple(shape[1:])).astype(np.float32)
    try:
        first, second = np.asarray(model(probe)), np.asarray(model(probe))
    except Exception:
        return False  # it cannot run on a plain float batch; evaluation will say why
    return not np.array_equal(first, second, equal_nan=True)


def _trackable_variables(root) -> list:
    """Every tf.Variable reachable from a loaded SavedModel object, each once, in graph order."""
    import tensorflow as tf

    found, seen = [], set()
    for obj in tf.train.TrackableView(root).descendants():
        if isinstance(obj, tf.Variable) and id(obj) not in seen:
            seen.add(id(obj))
            found.append(obj)
    return found


def _named_kernel_variables(variables) -> list[tuple[str, Any]]:
    """Kernel variables (2-D dense, 3-D/4-D conv) among ``variables`` (model order), with layer names.

    Named like the Keras layer ("h1", "block/inner"): the trailing "/kernel" and a
    model-name prefix shared by every kernel ("sequential/") are dropped.
    """
    found = []
    for var in variables:
        parts = var.name.split(":")[0].split("/")
        if var.shape.rank in (2, 3, 4) and parts[-1] == "kernel" and var.dtype.is_floating:
            found.append((parts[:-1] or parts, var))
    if len(found) > 0 and all(len(p) > 1 for p, _ in found) and len({p[0] for p, _ in found}) == 1:
        found = [(p[1:], v) for p, v in found]
    names = [("/".join(p), v) for p, v in found]
    seen: dict[str, int] = {}
    unique = []
    for name, var in names:  # two variables with one name would make the layer list ambiguous
        seen[name] = seen.get(name, 0) + 1
        unique.append((name if seen[name] == 1 else f"{name}#{seen[name]}", var))
    return unique


def keras2_config_for_keras3(config):
    """A Keras 2 (tf_keras) model config that Keras 3 can build, or None if it needs no change.

    Keras 2 layer configs carry arguments Keras 3 refuses (``batch_input_shape`` on the first
    layer of a Sequential, ``rng_type`` on random augmentation layers, ...), and tf_keras .keras
    archives name their classes by tf_keras modules. Unknown arguments are dropped, a
    ``batch_input_shape`` outside an InputLayer becomes ``input_shape``, and modules are renamed.
    """
    import copy

    fixed = copy.deepcopy(config)
    changed = _fix_config_node(fixed, _keras())
    return fixed if changed else None


def _fix_config_node(node, keras, first_in_sequential: bool = False) -> bool:
    changed = False
    if isinstance(node, list):
        for item in node:
            changed |= _fix_config_node(item, keras)
        return changed
    if not isinstance(node, dict):
        return False
    class_name = node.get("class_name")
    module = node.get("module")
    if isinstance(module, str) and module.split(".")[0] == "tf_keras" and isinstance(class_name, str):
        if class_name == "Functional":  # built from its public name: keras.Model reads a functional config
            node.update(module="keras", class_name="Model", registered_name="Model")
        else:
            node["module"] = "keras.layers" if hasattr(keras.layers, class_name) else "keras"
        changed = True
    config = node.get("config")
    if class_name in ("Functional", "Model") and isinstance(config, dict):
        changed |= _shift_nested_sequential_nodes(config)
    if class_name == "BatchNormalization" and isinstance(config, dict):
        axis = config.get("axis")
        if isinstance(axis, list) and len(axis) == 1:  # Keras 2 wrote [3]; Keras 3 takes 3
            config["axis"] = axis[0]
            changed = True
    if isinstance(class_name, str) and isinstance(config, dict):
        layer_class = getattr(keras.layers, class_name, None)
        if isinstance(layer_class, type) and issubclass(layer_class, keras.layers.Layer):
            changed |= _drop_unknown_arguments(layer_class, config, first_in_sequential)
        layers = config.get("layers")
        if class_name == "Sequential" and isinstance(layers, list):
            first = layers[0] if layers else None
            starts_with_input = isinstance(first, dict) and first.get("class_name") == "InputLayer"
            for position, layer in enumerate(layers):
                changed |= _fix_config_node(layer, keras, position == 0 and not starts_with_input)
            rest = {k: v for k, v in config.items() if k != "layers"}
            changed |= _fix_config_node(list(rest.values()), keras)
            return changed
    for key, value in node.items():
        if isinstance(value, (dict, list)):
            changed |= _fix_config_node(value, keras)
    return changed


def _shift_nested_sequential_nodes(config: dict) -> bool:
    """Keras 2 counts a nested Sequential's own input as its node 0, so the outer model calls
    node 1; Keras 3 gives such a Sequential no node of its own. Renumber those references."""
    layers = config.get("layers")
    if not isinstance(layers, list):
        return False
    sequential = {layer.get("name") for layer in layers
                  if isinstance(layer, dict) and layer.get("class_name") == "Sequential"}
    if not sequential:
        return False
    changed = False

    def shift(reference) -> None:
        nonlocal changed
        if (isinstance(reference, list) and len(reference) >= 3 and reference[0] in sequential
                and isinstance(reference[1], int) and reference[1] >= 1):
            reference[1] -= 1
            changed = True

    for layer in layers:
        if isinstance(layer, dict):
            for node in layer.get("inbound_nodes") or []:
                for reference in node if isinstance(node, list) else []:
                    shift(reference)
    outputs = config.get("output_layers")
    if isinstance(outputs, list):
        for reference in outputs if outputs and isinstance(outputs[0], list) else [outputs]:
            shift(reference)
    return changed


def _drop_unknown_arguments(layer_class, config: dict, first_in_sequential: bool) -> bool:
    import inspect

    if layer_class.__name__ == "InputLayer":
        return False
    accepted = {"name", "dtype", "trainable", "autocast", "input_shape", "input_dim", "activity_regularizer"}
    for cls in layer_class.__mro__:
        init = cls.__dict__.get("__init__")
        if init is None:
            continue
        try:
            accepted |= {p.name for p in inspect.signature(init).parameters.values()
                         if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        except (TypeError, ValueError):
            return False  # cannot tell what it takes: leave it alone
    changed = False
    if "batch_input_shape" in config and "batch_input_shape" not in accepted:
        batch_shape = config.pop("batch_input_shape")
        if first_in_sequential and isinstance(batch_shape, list) and batch_shape:
            config.setdefault("input_shape", batch_shape[1:])
        changed = True
    for key in [k for k in config if k not in accepted]:
        del config[key]
        changed = True
    return changed


def _parse_json(raw) -> dict:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def save_keras_with_metadata(model, path: str | os.PathLike, metadata: dict, *, force: bool = False,
                             protect: tuple = ()) -> Path:
    """Save ``model`` as a .keras archive carrying ``metadata`` as an extra zip member.

    Written atomically by core.files: never over a ``protect``-ed file (the opened model),
    never over an existing file unless ``force``.
    """
    path = Path(path).expanduser()
    if path.suffix != ".keras":
        raise WriteRefused(f"The output file must end in .keras (got {path.name}).")

    def write(temporary: Path) -> None:
        model.save(temporary)
        with zipfile.ZipFile(temporary, "a") as archive:
            archive.writestr(METADATA_ZIP_NAME, json.dumps(metadata, indent=2, sort_keys=True))

    return write_atomically(path, write, force=force, protect=protect)
