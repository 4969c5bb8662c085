"""A legacy HDF5 model file (.h5) of Keras 3 or Keras 2, whatever its name."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from prune_viz.core.io.config_migration import keras2_config_for_keras3
from prune_viz.core.io.hdf5_check import HDF5Check
from prune_viz.core.io.load_errors import ModelLoadError, short_reason
from prune_viz.core.io.loaded_model import LoadedModel
from prune_viz.core.io.metadata import METADATA_H5_ATTR, parse_json_object
from prune_viz.core.io.open_options import OpenOptions
from prune_viz.core.io.suffix_view import view_with_suffix


def load_hdf5(path: Path, options: OpenOptions | None = None) -> LoadedModel:
    import h5py

    options = options or OpenOptions()

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
            metadata = parse_json_object(h5.attrs[METADATA_H5_ATTR]) if METADATA_H5_ATTR in h5.attrs else {}
    except ModelLoadError:
        raise
    except OSError as exc:
        import re

        cut = re.search(r"truncated file: eof = (\d+).*stored_eof = (\d+)", str(exc))
        if cut:
            raise ModelLoadError(
                f"{path.name} is a damaged HDF5 file: it is truncated "
                f"({int(cut.group(1)):,} of {int(cut.group(2)):,} bytes)."
            ) from exc
        raise ModelLoadError(f"{path.name} is a damaged HDF5 file ({short_reason(exc)}).") from exc
    if isinstance(version, bytes):
        version = version.decode("utf-8", "replace")
    import keras

    with tempfile.TemporaryDirectory(prefix="prune-viz-") as tmp:
        source = path
        if path.suffix.lower() not in (".h5", ".hdf5"):
            source = view_with_suffix(path, Path(tmp) / "model.h5")
        load = dict(compile=False, custom_objects=options.objects(), safe_mode=options.safe_mode)
        # A Keras 2 file is converted before Keras 3 sees it: Keras 3.12 never returns from some Keras
        # 2 configs it refuses (a Functional model calling a nested Sequential)
        config = keras2_config_for_keras3(parse_json_object(model_config)) if version.startswith("2.") else None
        model = None
        try:
            if config is None:
                model = keras.saving.load_model(source, **load)
        except Exception:
            config = keras2_config_for_keras3(parse_json_object(model_config))
            if config is None:
                raise
        if model is None:
            # A Keras 2 config Keras 3 refuses: load a copy carrying the converted config.
            source = Path(tmp) / "model-keras3-config.h5"
            shutil.copyfile(path, source)
            with h5py.File(source, "r+") as h5:
                h5.attrs["model_config"] = json.dumps(config)
            model = keras.saving.load_model(source, **load)
            version = f"{version}, config converted" if version else "config converted"
    return LoadedModel(path=path, format=hdf5_label(path, version), keras_model=model, metadata=metadata)


def hdf5_label(path: Path, version: str) -> str:
    label = f"HDF5 (Keras {version})" if version else "HDF5 (legacy Keras)"
    if path.suffix.lower() == ".keras":
        label += " behind a .keras name"
    return label


def _looks_like_keras_weights(h5) -> bool:
    """Keras 2 save_weights writes layer_names (maybe under model_weights); Keras 3 writes layers/ and vars/."""
    import h5py

    return (
        "layer_names" in h5.attrs
        or "model_weights" in h5
        or any(isinstance(h5.get(name), h5py.Group) for name in ("layers", "vars"))
    )
