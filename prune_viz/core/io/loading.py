"""Open a saved model, whatever its format, without ever writing to it.

The reader is chosen by content, not by extension: a zip is a Keras archive
(Keras 3 or Keras 2.x; backslashed Windows paths repaired, Keras 2 configs
converted for Keras 3), an HDF5 file is a legacy Keras model (whatever its
name), and a folder is a TensorFlow SavedModel (kernels from its serving
signature). Only public readers are used: Keras's saving API, h5py, and
TensorFlow's SavedModel loader. Repairs happen on temporary copies only. A .keras or .h5 model
that Keras cannot rebuild (a custom class, a Lambda layer in safe mode) opens from its weights
only (``weights_only``).
Every failure becomes a ``ModelLoadError`` whose message is one sentence;
caveats about a model that did open go to ``LoadedModel.notes``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from prune_viz.core.io.hdf5 import load_hdf5
from prune_viz.core.io.hdf5_check import HDF5_MAGIC
from prune_viz.core.io.keras_archive import load_keras_archive
from prune_viz.core.io.load_errors import ModelLoadError, explain_load_failure
from prune_viz.core.io.loaded_model import LoadedModel
from prune_viz.core.io.open_options import OpenOptions
from prune_viz.core.io.saved_model import load_saved_model
from prune_viz.core.io.weights_only import weights_only_if_unbuildable
from prune_viz.core.non_finite import non_finite_notes

_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"


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
    if head == HDF5_MAGIC:
        return "hdf5"
    if head.startswith(_ZIP_MAGIC) or head.startswith(_EMPTY_ZIP_MAGIC):
        return "zip"
    raise ModelLoadError(f"{path.name} is neither a Keras archive nor an HDF5 model file.")


def load_model(path: str | os.PathLike, options: OpenOptions | None = None) -> LoadedModel:
    """The model at ``path``; ``options``: custom objects to rebuild it with, and whether its Lambda
    layers may run. A .keras or .h5 model that cannot be rebuilt opens from its weights only."""
    options = options or OpenOptions()
    path = Path(path).expanduser()
    if not path.exists():
        raise ModelLoadError(f"{path} does not exist.")
    kind = sniff_format(path)
    options.objects()  # a custom objects file that cannot be imported is said before anything is read
    with warnings.catch_warnings():
        # Keras warns about legacy arguments in old configs ("Do not pass an `input_shape`...");
        # the user cannot act on them, and the CLI promises one clean line on stderr.
        warnings.simplefilter("ignore")
        try:
            if kind == "savedmodel":
                loaded = load_saved_model(path)
            elif kind == "hdf5":
                loaded = load_hdf5(path, options)
            else:
                loaded = load_keras_archive(path, options)
        except ModelLoadError:
            raise
        except Exception as exc:
            loaded, cause = None, exc
            if kind != "savedmodel":  # load_hdf5 had its HDF5 data read in a child process first
                try:
                    loaded = weights_only_if_unbuildable(path, kind, exc, options, checked=kind == "hdf5")
                except ModelLoadError:
                    raise
                except Exception as weights_exc:  # its weights cannot be read either: say why the model could not
                    cause = weights_exc
            if loaded is None:
                raise ModelLoadError(explain_load_failure(path, exc)) from cause
    try:
        broken = loaded.non_finite_variables()  # counted once, on the weights as stored
    except Exception as exc:
        raise ModelLoadError(explain_load_failure(path, exc)) from exc
    loaded.notes.extend(non_finite_notes(broken))
    return loaded
