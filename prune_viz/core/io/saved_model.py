"""A TensorFlow SavedModel folder: its kernels from its serving signature, or from its object graph."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from prune_viz.core.io.load_errors import ModelLoadError, short_reason
from prune_viz.core.io.loaded_model import LoadedModel, trackable_variables
from prune_viz.core.io.metadata import METADATA_ZIP_NAME, parse_json_object


def load_saved_model(path: Path) -> LoadedModel:
    import tensorflow as tf

    if not (path / "variables").is_dir():
        raise ModelLoadError(f"The SavedModel {path.name} has no variables folder; it is incomplete.")
    try:
        with tempfile.TemporaryDirectory(prefix="prune-viz-") as tmp:
            loaded = tf.saved_model.load(str(_without_slot_variables(path, Path(tmp)) or path))
    except Exception as exc:  # protobuf DecodeError, NotFoundError, checkpoint errors...
        reason = short_reason(
            ValueError(str(exc).replace(str(path.resolve()), path.name).replace(str(path), path.name)), 120
        )
        raise ModelLoadError(
            f"The SavedModel {path.name} is damaged or incomplete ({type(exc).__name__}: {reason})."
        ) from exc
    signature = loaded.signatures.get("serving_default") if hasattr(loaded, "signatures") else None
    if signature is not None:
        variables = _named_kernel_variables(signature.variables)
    else:  # weights can still be shown and pruned; evaluation will say the input is unknown
        variables = _named_kernel_variables(trackable_variables(loaded))
        if not variables:
            raise ModelLoadError(
                f"The SavedModel {path.name} has no serving_default signature and no kernel weights to show."
            )
    metadata = {}
    meta_file = path / "assets" / METADATA_ZIP_NAME
    if meta_file.is_file():
        metadata = parse_json_object(meta_file.read_bytes())
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


def _named_kernel_variables(variables) -> list[tuple[str, Any]]:
    """Kernel variables (2-D dense, 3-D/4-D conv) and other trainable weights of rank >= 2 among
    ``variables`` (model order), with layer names.

    Named like the Keras layer ("h1", "block/inner"): the trailing "/kernel" and a
    model-name prefix shared by every kernel ("sequential/") are dropped.
    """
    found = []
    for var in variables:
        parts = var.name.split(":")[0].split("/")
        if var.shape.rank is None or var.shape.rank < 2 or not var.dtype.is_floating:
            continue
        if var.shape.rank in (2, 3, 4) and parts[-1] == "kernel":
            found.append((parts[:-1] or parts, var))
        elif getattr(var, "trainable", True):  # any other weight matrix: shown and weight-pruned
            found.append((parts, var))
    if len(found) > 0 and all(len(p) > 1 for p, _ in found) and len({p[0] for p, _ in found}) == 1:
        found = [(p[1:], v) for p, v in found]
    names = [("/".join(p), v) for p, v in found]
    seen: dict[str, int] = {}
    unique = []
    for name, var in names:  # two variables with one name would make the layer list ambiguous
        seen[name] = seen.get(name, 0) + 1
        unique.append((name if seen[name] == 1 else f"{name}#{seen[name]}", var))
    return unique
