"""Open a saved model, whatever its format, without ever writing to it.

The reader is chosen by content, not by extension: a zip is a Keras archive
(Keras 3 or Keras 2.x; backslashed Windows paths repaired, Keras 2 configs
converted for Keras 3), an HDF5 file is a legacy Keras model (whatever its
name), and a folder is a TensorFlow SavedModel (kernels from its serving
signature). A Keras 3 archive's weights are read in place without libhdf5 when
``hdf5_index`` understands them; any other HDF5 data is read once in a child
process first, because a damaged file can crash or hang libhdf5. Repairs happen
on temporary copies only.
Every failure becomes a ``ModelLoadError`` whose message is one sentence;
caveats about a model that did open go to ``LoadedModel.notes``.
"""

from __future__ import annotations

import json
import logging
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

from prune_viz.core import file_range, row_blocks
from prune_viz.core.files import WriteRefused, write_atomically

METADATA_ZIP_NAME = "prune_viz.json"  # extra member of a .keras zip; Keras ignores it
METADATA_H5_ATTR = "prune_viz"

MAX_ARCHIVE_BYTES = 8 * 2**30
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"


class ModelLoadError(Exception):
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
    # {variable path: NaN or infinite values}, when the reader counted them as it read the file
    non_finite_read: dict[str, int] | None = None

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
    out = np.empty(tuple(int(d) for d in variable.shape), dtype)
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
        # counted while reading when the reader could (the in-place reader), else read back
        broken = loaded.non_finite_weights() if loaded.non_finite_read is None else _by_layer(loaded.non_finite_read)
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
        stored = file_range.stored_member(path, archive, weights_name) if weights_name else None
        # a weights member read in place has its CRC checked while it is read, beside the fill
        _refuse_damaged_members(path, archive, [n for n in archive.namelist() if stored is None or n != weights_name])
        if not any(f.startswith("model.weights") for f in by_fixed):
            raise ModelLoadError(f"{path.name} has no model.weights.h5, so it carries no weights to show.")
        try:
            config_text = archive.read(by_fixed["config.json"]).decode("utf-8")
            json.loads(config_text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ModelLoadError(f"{path.name} has an unreadable config.json ({_short(exc, 80)}).") from exc
        metadata = _parse_json(archive.read(by_fixed[METADATA_ZIP_NAME])) if METADATA_ZIP_NAME in by_fixed else {}
        keras_meta = _parse_json(archive.read(by_fixed["metadata.json"])) if "metadata.json" in by_fixed else {}
        version = str(keras_meta.get("keras_version", ""))
        # layers with assets (vocabularies...) need Keras's loader, which reads them
        has_assets = any(f.startswith("assets") for f in by_fixed)
        if stored is not None and not has_assets and all(n == f for n, f in members.items()):
            read = _read_in_place(config_text, stored, archive.getinfo(weights_name).CRC, path, weights_name)
            if read is not None:
                return LoadedModel(path=path, format=_archive_label(path, version), keras_model=read.model,
                                   metadata=metadata, non_finite_read=read.non_finite)
        if stored is not None:
            _refuse_damaged_members(path, archive, [weights_name])
        with tempfile.TemporaryDirectory(prefix="prune-viz-") as tmp:
            repaired_weights = None
            if "model.weights.h5" in by_fixed:
                weights = stored
                if weights is None:  # compressed: streamed to disk (in memory it would cost 1x the weights)
                    copied = Path(tmp) / "model.weights.h5"
                    with archive.open(by_fixed["model.weights.h5"]) as src, open(copied, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                    weights = file_range.whole_file(copied)
                _check_weights_member(weights, path.name)
                repaired_weights = _weights_with_forward_slashes(weights)
            repaired = repaired_weights is not None or any(n != f for n, f in members.items())
            source = path
            if repaired:
                # Keras 2.x/keras_core on Windows joined paths with backslashes, in zip member
                # names and inside model.weights.h5; Keras 3 finds neither. Load a repaired copy.
                source = Path(tmp) / "model.keras"
                _write_archive_copy(archive, members, source, repaired_weights)
            elif path.suffix.lower() != ".keras":
                source = _view_with_suffix(path, Path(tmp) / "model.keras")
            model = None
            if not repaired and "model.weights.h5" in by_fixed and not has_assets:
                model = _load_blockwise(config_text, weights)
            try:
                if model is None:
                    model = _keras().saving.load_model(source, compile=False)
            except Exception:
                config = keras2_config_for_keras3(_parse_json(config_text))
                if config is None:
                    raise
                source = Path(tmp) / "model-keras3-config.keras"
                _write_archive_copy(archive, members, source, repaired_weights, config)
                model = _keras().saving.load_model(source, compile=False)
                repaired_config = True
            else:
                repaired_config = False
    return LoadedModel(path=path, format=_archive_label(path, version, repaired, repaired_config),
                       keras_model=model, metadata=metadata)


def _archive_label(path: Path, version: str, repaired: bool = False, converted: bool = False) -> str:
    label = f"Keras {version[0]} archive (.keras)" if version else "Keras archive (.keras)"
    if path.suffix.lower() != ".keras":
        label += f" behind a {path.suffix or 'suffix-less'} name"
    if repaired:
        label += ", backslash paths repaired"
    if converted:
        label += ", Keras 2 config converted"
    return label


def _read_in_place(config_json: str, weights: file_range.FileRange, crc: int, path: Path, member: str):
    """``keras_weights.Loaded`` read without libhdf5, or None when that reader does not handle this
    archive and the checked h5py path must."""
    from prune_viz.core import keras_weights

    try:
        return keras_weights.read_in_place(config_json, weights, crc)
    except keras_weights.Damaged as exc:
        raise _damaged_member(path, member) from exc
    except Exception as exc:  # the next readers run and report real errors in their own words
        logging.getLogger(__name__).debug("in-place reader declined: %s", exc)
        return None


def _load_blockwise(config_json: str, weights: file_range.FileRange):
    """The model read by ``keras_weights`` through h5py (peak memory near 1.2x the weights), or None
    when that reader does not handle this archive and Keras's own loader must (peak about 5.5x)."""
    from prune_viz.core import keras_weights

    try:
        return keras_weights.read_with_h5py(config_json, weights).model
    except Exception as exc:  # Keras's loader runs next and reports real errors in its own words
        logging.getLogger(__name__).debug("block-wise reader declined: %s", exc)
        return None


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


def _check_weights_member(member: file_range.FileRange, shown_name: str) -> None:
    with member.open() as f:
        head = f.read(len(_HDF5_MAGIC))
    if head != _HDF5_MAGIC:
        raise ModelLoadError(f"{shown_name} is damaged: its model.weights.h5 is not an HDF5 file.")
    _check_hdf5_in_subprocess(member, shown_name, "its model.weights.h5")


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


def _weights_with_forward_slashes(weights: file_range.FileRange) -> bytes | None:
    """A copy of a model.weights.h5 whose group names use \\ as separators, rebuilt with /; else None."""
    import io

    import h5py

    with weights.h5_source() as raw, h5py.File(raw, "r") as source:
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

    _check_hdf5_in_subprocess(path, path.name)
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


# Reads every attribute and dataset of an HDF5 file (argv: file_range.py, path, offset, size), big
# datasets in slices of rows; exit code 0 when all of it reads.
_HDF5_READ_ALL = """
import importlib.util, sys
import h5py

spec = importlib.util.spec_from_file_location("file_range", sys.argv[1])
file_range = importlib.util.module_from_spec(spec)
sys.modules["file_range"] = file_range  # dataclasses look their module up there
spec.loader.exec_module(file_range)

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
    read_attrs(obj)
    if isinstance(obj, h5py.Dataset):
        if obj.ndim and obj.size > (1 << 22):  # in slices: the child need not hold a big kernel at once
            step = max(1, (1 << 22) // max(1, obj.size // obj.shape[0]))
            for r0 in range(0, obj.shape[0], step):
                attempt(lambda: obj[r0:r0 + step])
        else:
            attempt(lambda: obj[()])

where = file_range.FileRange(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
with where.h5_source() as source, h5py.File(source, "r") as f:
    attempt(lambda: read_attrs(f))
    f.visititems(read)
"""


def _check_hdf5_in_subprocess(target: Path | file_range.FileRange, shown_name: str,
                              what: str = "its HDF5 data") -> None:
    """Read the whole HDF5 file in a child process first: a damaged file can crash (SIGSEGV) or
    hang libhdf5 itself, which no try/except in this process could catch. The fuzzer found both."""
    import subprocess
    import sys

    where = target if isinstance(target, file_range.FileRange) else file_range.whole_file(target)
    seconds = 20 + where.size // (50 * 2**20)
    try:
        proc = subprocess.run([sys.executable, "-c", _HDF5_READ_ALL, file_range.__file__, where.path,
                               str(where.offset), str(where.size)], capture_output=True,
                              timeout=seconds, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise ModelLoadError(
            f"{shown_name} is damaged: reading {what} did not finish within {seconds} s."
        ) from exc
    except OSError:
        return  # no child process possible here: fall back to reading it in-process
    if proc.returncode < 0:
        raise ModelLoadError(
            f"{shown_name} is damaged: reading {what} crashed the HDF5 library (signal {-proc.returncode})."
        )


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
        loaded = tf.saved_model.load(str(path))
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
        node["module"] = "keras.src.models.functional" if class_name == "Functional" else (
            "keras.layers" if hasattr(keras.layers, class_name) else "keras")
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
