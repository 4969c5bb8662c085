"""A Keras archive (.keras zip) of Keras 3 or Keras 2.x, whatever its name.

Its model is built from its config with variables left unwritten while a child process checks
and copies out the weights, then each layer reads its own weights from that copy. Archives that
need Keras's whole loader (assets, weights in other files), backslashed Windows paths, and Keras 2
configs Keras 3 refuses are loaded from repaired temporary copies.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import zipfile
from pathlib import Path

from prune_viz.core.io.archive_checks import (
    refuse_damaged_members,
    refuse_oversized_archive,
)
from prune_viz.core.io.config_migration import keras2_config_for_keras3
from prune_viz.core.io.hdf5_check import HDF5_MAGIC, HDF5Check
from prune_viz.core.io.layer_weights import load_layer_weights
from prune_viz.core.io.load_errors import ModelLoadError, short_reason
from prune_viz.core.io.loaded_model import LoadedModel
from prune_viz.core.io.metadata import METADATA_ZIP_NAME, parse_json_object
from prune_viz.core.io.open_options import OpenOptions
from prune_viz.core.io.suffix_view import view_with_suffix
from prune_viz.core.io.unfilled_model import model_from_config


def load_keras_archive(path: Path, options: OpenOptions | None = None) -> LoadedModel:
    options = options or OpenOptions()
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ModelLoadError(f"{path.name} is a damaged zip file ({short_reason(exc)}).") from exc
    with archive:
        refuse_oversized_archive(path, archive)
        members = {n: n.replace("\\", "/") for n in archive.namelist()}
        by_fixed = {f: n for n, f in members.items()}
        if "config.json" not in by_fixed:
            raise ModelLoadError(f"{path.name} is a zip file but not a Keras model archive (no config.json).")
        weights_name = by_fixed.get("model.weights.h5")
        # the weights member's CRC is checked by the child process that reads it first
        refuse_damaged_members(path, archive, [n for n in archive.namelist() if n != weights_name])
        if not any(f.startswith("model.weights") for f in by_fixed):
            raise ModelLoadError(f"{path.name} has no model.weights.h5, so it carries no weights to show.")
        try:
            config_text = archive.read(by_fixed["config.json"]).decode("utf-8")
            config = json.loads(config_text)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ModelLoadError(f"{path.name} has an unreadable config.json ({short_reason(exc, 80)}).") from exc
        metadata = parse_json_object(archive.read(by_fixed[METADATA_ZIP_NAME])) if METADATA_ZIP_NAME in by_fixed else {}
        keras_meta = parse_json_object(archive.read(by_fixed["metadata.json"])) if "metadata.json" in by_fixed else {}
        version = str(keras_meta.get("keras_version", ""))
        if weights_name is not None:
            with archive.open(weights_name) as member:
                if member.read(len(HDF5_MAGIC)) != HDF5_MAGIC:
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
                    model, converted = model_from_config(config, options.objects(), options.safe_mode)
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
                load_layer_weights(model, weights_copy)
            else:
                source = path
                if repaired:
                    source = Path(tmp) / "model.keras"
                    _write_archive_copy(archive, members, source, repaired_weights)
                elif path.suffix.lower() != ".keras":
                    source = view_with_suffix(path, Path(tmp) / "model.keras")
                import keras

                load = dict(compile=False, custom_objects=options.objects(), safe_mode=options.safe_mode)
                try:
                    model = keras.saving.load_model(source, **load)
                except Exception:
                    fixed = keras2_config_for_keras3(config)
                    if fixed is None:
                        raise
                    source = Path(tmp) / "model-keras3-config.keras"
                    _write_archive_copy(archive, members, source, repaired_weights, fixed)
                    model = keras.saving.load_model(source, **load)
                    converted = True
    return LoadedModel(
        path=path, format=archive_label(path, version, repaired, converted), keras_model=model, metadata=metadata
    )


def archive_label(path: Path, version: str, repaired: bool = False, converted: bool = False) -> str:
    label = f"Keras {version[0]} archive (.keras)" if version else "Keras archive (.keras)"
    if path.suffix.lower() != ".keras":
        label += f" behind a {path.suffix or 'suffix-less'} name"
    if repaired:
        label += ", backslash paths repaired"
    if converted and version.startswith("3"):  # a newer Keras 3 wrote arguments this one does not take
        import keras

        label += f", config adapted to Keras {keras.__version__}"
    elif converted:
        label += ", Keras 2 config converted"
    return label


def _write_archive_copy(
    archive: zipfile.ZipFile, members: dict, target: Path, weights: bytes | None = None, config: dict | None = None
) -> None:
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
