"""Open a saved model, whatever its format, without ever writing to it.

The reader is chosen by content, not by extension: a zip is a Keras archive
(``.keras``, Keras 3 or Keras 2.x, backslash paths repaired), an HDF5 file is a
legacy Keras model (whatever its name), and a folder is a TensorFlow SavedModel.
Every failure becomes a ``ModelLoadError`` whose message is one sentence.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

METADATA_ZIP_NAME = "prune_viz.json"  # extra member of a .keras zip; Keras ignores it
METADATA_H5_ATTR = "prune_viz"

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ZIP_MAGIC = b"PK\x03\x04"


class ModelLoadError(Exception):
    """The model could not be opened; ``str(error)`` is one sentence for the user."""


@dataclass
class LoadedModel:
    path: Path
    format: str  # human-readable, e.g. "Keras 3 archive (.keras)"
    keras_model: Any | None  # keras.Model, or None for a bare SavedModel
    saved_model: Any | None = None  # the tf.saved_model.load() object, if any
    metadata: dict = field(default_factory=dict)
    # For bare SavedModels: the named kernel variables found in the object graph.
    raw_variables: list[tuple[str, Any]] = field(default_factory=list)
    serving_fn: Callable | None = None  # concrete function taking one tensor

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

    def __call__(self, x):
        """Forward pass for inference (no dropout, no augmentation)."""
        if self.keras_model is not None:
            return self.keras_model(x, training=False)
        outputs = self.serving_fn(x)
        if isinstance(outputs, dict):
            outputs = next(iter(outputs.values()))
        return outputs


def sniff_format(path: Path) -> str:
    """'savedmodel', 'zip', 'hdf5', or raise ModelLoadError."""
    if path.is_dir():
        if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
            return "savedmodel"
        raise ModelLoadError(f"The folder {path.name} is not a TensorFlow SavedModel (no saved_model.pb).")
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise ModelLoadError(f"Cannot read {path.name}: {exc.strerror or exc}.") from exc
    if not head:
        raise ModelLoadError(f"{path.name} is empty.")
    if head == _HDF5_MAGIC:
        return "hdf5"
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    raise ModelLoadError(f"{path.name} is neither a Keras archive nor an HDF5 model file.")


def load_model(path: str | os.PathLike) -> LoadedModel:
    path = Path(path).expanduser()
    if not path.exists():
        raise ModelLoadError(f"{path} does not exist.")
    kind = sniff_format(path)
    try:
        if kind == "savedmodel":
            return _load_savedmodel(path)
        if kind == "hdf5":
            return _load_hdf5(path)
        return _load_keras_zip(path)
    except ModelLoadError:
        raise
    except Exception as exc:
        raise ModelLoadError(_one_sentence(path, exc)) from exc


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
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelLoadError(f"{path.name} is a damaged zip file ({exc}).") from exc
    with archive:
        names = archive.namelist()
        fixed = {n: n.replace("\\", "/") for n in names}
        if "config.json" not in fixed.values():
            raise ModelLoadError(f"{path.name} is a zip file but not a Keras model archive (no config.json).")
        metadata = {}
        if METADATA_ZIP_NAME in fixed.values():
            original = next(n for n, f in fixed.items() if f == METADATA_ZIP_NAME)
            metadata = _parse_json(archive.read(original))
        try:
            keras_meta = _parse_json(archive.read(next(n for n, f in fixed.items() if f == "metadata.json")))
        except StopIteration:
            keras_meta = {}
        version = str(keras_meta.get("keras_version", ""))
        bad = archive.testzip()
        if bad is not None:
            raise ModelLoadError(f"{path.name} is damaged (member {bad} fails its checksum).")
        needs_copy = any(n != f for n, f in fixed.items())
        with tempfile.TemporaryDirectory(prefix="prune-viz-") as tmp:
            source = path
            if needs_copy:
                # Keras 2.x on Windows wrote members with backslashes; Keras 3 cannot find them.
                source = Path(tmp) / "model.keras"
                with zipfile.ZipFile(source, "w") as out:
                    for n in names:
                        out.writestr(fixed[n], archive.read(n))
            model = _keras().saving.load_model(source, compile=False)
    label = f"Keras {version[0]} archive (.keras)" if version else "Keras archive (.keras)"
    if needs_copy:
        label += ", backslash paths repaired"
    return LoadedModel(path=path, format=label, keras_model=model, metadata=metadata)


def _load_hdf5(path: Path) -> LoadedModel:
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            if "model_config" not in h5.attrs:
                raise ModelLoadError(
                    f"{path.name} holds weights only, without the model architecture; "
                    "save the whole model (model.save) to open it here."
                )
            version = h5.attrs.get("keras_version", b"")
            metadata = _parse_json(h5.attrs[METADATA_H5_ATTR]) if METADATA_H5_ATTR in h5.attrs else {}
    except ModelLoadError:
        raise
    except OSError as exc:
        raise ModelLoadError(f"{path.name} is a damaged HDF5 file ({exc}).") from exc
    if isinstance(version, bytes):
        version = version.decode("utf-8", "replace")
    with tempfile.TemporaryDirectory(prefix="prune-viz-") as tmp:
        source = path
        if path.suffix.lower() not in (".h5", ".hdf5"):
            # Keras picks its reader by extension; give it a read-only view with the right one.
            source = Path(tmp) / "model.h5"
            try:
                os.symlink(path.resolve(), source)
            except OSError:
                shutil.copyfile(path, source)
        model = _keras().saving.load_model(source, compile=False)
    label = f"HDF5 (Keras {version})" if version else "HDF5 (legacy Keras)"
    if path.suffix.lower() == ".keras":
        label += " behind a .keras name"
    return LoadedModel(path=path, format=label, keras_model=model, metadata=metadata)


def _load_savedmodel(path: Path) -> LoadedModel:
    import tensorflow as tf

    if not (path / "variables").is_dir():
        raise ModelLoadError(f"The SavedModel {path.name} has no variables folder; it is incomplete.")
    loaded = tf.saved_model.load(str(path))
    signature = loaded.signatures.get("serving_default") if hasattr(loaded, "signatures") else None
    variables = _named_kernel_variables(loaded)
    if signature is None:
        raise ModelLoadError(f"The SavedModel {path.name} has no serving_default signature to run it with.")
    metadata = {}
    meta_file = path / "assets" / METADATA_ZIP_NAME
    if meta_file.is_file():
        metadata = _parse_json(meta_file.read_bytes())
    return LoadedModel(
        path=path,
        format="TensorFlow SavedModel",
        keras_model=None,
        saved_model=loaded,
        metadata=metadata,
        raw_variables=variables,
        serving_fn=signature,
    )


def _named_kernel_variables(obj) -> list[tuple[str, Any]]:
    """Kernel-like variables (2-D dense, 3-D/4-D conv) of a SavedModel, with readable names."""
    found = []
    for var in getattr(obj, "variables", []) or []:
        name = var.name.split(":")[0]
        leaf = name.rsplit("/", 1)[-1]
        if var.shape.rank in (2, 3, 4) and "kernel" in leaf and var.dtype.is_floating:
            found.append((name, var))
    return found


def _parse_json(raw) -> dict:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def save_keras_with_metadata(model, path: str | os.PathLike, metadata: dict) -> None:
    """Save ``model`` as a .keras archive carrying ``metadata`` as an extra zip member."""
    path = Path(path)
    model.save(path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(METADATA_ZIP_NAME, json.dumps(metadata, indent=2, sort_keys=True))
