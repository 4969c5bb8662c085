"""A model opened from its weights only, written back with new (pruned) weights into a copy of its
file with the same structure, so that the code that built the original loads the copy as it
loads the original.

An .h5 file is copied byte for byte and the given datasets are overwritten in the copy with h5py;
a .keras archive is copied member by member, its ``model.weights.h5`` member rewritten that way and
every other member unchanged. Written atomically by core.files, never over the opened file."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from prune_viz.core.files import WriteRefused, write_atomically
from prune_viz.core.io.loaded_model import LoadedModel, StoredVariable
from prune_viz.core.io.metadata import METADATA_H5_ATTR, METADATA_ZIP_NAME


def write_weights_copy(
    loaded: LoadedModel,
    destination: str | os.PathLike,
    arrays: dict,
    *,
    metadata: dict | None = None,
    force: bool = False,
) -> Path:
    """Copy ``loaded``'s file to ``destination`` with the datasets ``arrays`` names replaced:
    ``{StoredVariable or dataset path: array}``, each array of its dataset's shape (cast to its
    dtype). ``metadata``: prune-viz's record of what was done, added as the file's ``prune_viz``
    attribute (.h5) or ``prune_viz.json`` member (.keras), which Keras ignores. The copy keeps the
    opened file's suffix, so that whatever loaded the original by its name loads the copy alike."""
    if not loaded.weights_only:
        raise ValueError(f"{loaded.name} was opened as a whole model; save it with Keras instead")
    source = Path(loaded.path)
    destination = Path(destination).expanduser()
    if destination.suffix.lower() != source.suffix.lower():
        raise WriteRefused(
            f"The copy must end in {source.suffix or '(no suffix)'} like {source.name}, so that the code "
            f"that loads {source.name} loads it alike."
        )
    datasets = {_dataset(key): np.asarray(value) for key, value in arrays.items()}

    def write(temporary: Path) -> None:
        if loaded.weights_member is None:
            shutil.copyfile(source, temporary)
            _overwrite(temporary, datasets, metadata)
        else:
            _archive_copy(source, loaded.weights_member, temporary, datasets, metadata)

    return write_atomically(destination, write, force=force, protect=(source,))


def _dataset(key) -> str:
    return key.dataset if isinstance(key, StoredVariable) else str(key)


def _overwrite(h5_path: Path, datasets: dict[str, np.ndarray], metadata: dict | None, *, root_attrs=True) -> None:
    import h5py

    with h5py.File(h5_path, "r+") as h5:
        for name, array in datasets.items():
            target = h5.get(name)
            if not isinstance(target, h5py.Dataset):
                raise ValueError(f"{h5_path.name} has no dataset {name}")
            if tuple(target.shape) != tuple(array.shape):
                raise ValueError(f"dataset {name} has shape {tuple(target.shape)}, not {tuple(array.shape)}")
            target[...] = array.astype(target.dtype, copy=False)
        if metadata is not None and root_attrs:
            h5.attrs[METADATA_H5_ATTR] = json.dumps(metadata, indent=2, sort_keys=True)


def _archive_copy(
    source: Path, member: str, target: Path, datasets: dict[str, np.ndarray], metadata: dict | None
) -> None:
    with zipfile.ZipFile(source) as archive, tempfile.TemporaryDirectory(prefix="prune-viz-") as tmp:
        weights = Path(tmp) / "model.weights.h5"
        with archive.open(member) as stored, open(weights, "wb") as out:
            shutil.copyfileobj(stored, out, 1 << 20)
        _overwrite(weights, datasets, None, root_attrs=False)
        with zipfile.ZipFile(target, "w") as copy:
            for info in archive.infolist():
                if metadata is not None and info.filename.replace("\\", "/") == METADATA_ZIP_NAME:
                    continue  # replaced below
                kept = _same_info(info)
                if info.is_dir():
                    copy.writestr(kept, b"")
                    continue
                rewritten = info.filename == member
                kept.file_size = weights.stat().st_size if rewritten else info.file_size  # zip64 if it must
                with copy.open(kept, "w") as out, open(weights, "rb") if rewritten else archive.open(info) as data:
                    shutil.copyfileobj(data, out, 1 << 20)
            if metadata is not None:
                copy.writestr(METADATA_ZIP_NAME, json.dumps(metadata, indent=2, sort_keys=True))


def _same_info(info: zipfile.ZipInfo) -> zipfile.ZipInfo:
    """A new entry with ``info``'s name, date, compression and attributes."""
    kept = zipfile.ZipInfo(info.filename, info.date_time)
    kept.compress_type = info.compress_type
    kept.external_attr = info.external_attr
    kept.create_system = info.create_system
    kept.comment = info.comment
    return kept
