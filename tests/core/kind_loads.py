"""Loading the checkpoints of kind_models.py back: with Keras 3 as prune-viz does, and in a fresh process
(without the custom code, with it, or with tf_keras) to report what happens."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kind_models import HERE, KindCheckpoint, plan


def load_with_keras3(checkpoint: KindCheckpoint, convert: bool | None = None):
    """The checkpoint's model as Keras 3 rebuilds it: keras.saving.load_model (safe mode, not compiled), on a
    Keras 2 file that needs it (``converted``, or convert=True) after prune-viz's Keras 2 config conversion."""
    import keras

    if not (checkpoint.converted if convert is None else convert):
        return keras.saving.load_model(checkpoint.path, compile=False)
    import tempfile

    import h5py

    from prune_viz.core.io.config_migration import keras2_config_for_keras3

    with tempfile.TemporaryDirectory(prefix="kind-models-") as tmp:
        copy = Path(tmp) / "converted.h5"
        shutil.copyfile(checkpoint.path, copy)
        with h5py.File(copy, "r+") as h5:
            config = keras2_config_for_keras3(json.loads(h5.attrs["model_config"]))
            if config is not None:
                h5.attrs["model_config"] = json.dumps(config)
        return keras.saving.load_model(copy, compile=False)


def load_reports(folder, how: str, ids: list[str]) -> dict:
    """Load the checkpoints named by ids in a fresh Python process and report, by id, what happened:
    {"errors": [message per attempt that failed], "max_diff": largest |outputs - reference| or None,
    "custom_code": whether the process had any of custom_layers.py's classes before loading}.

    how: "plain": Keras 3 as is (load_with_keras3; a Keras 2 file also converted if plain loading fails);
    "own-code": Keras 3 with the code the checkpoint needs (its custom_source imported by path and passed as
    custom_objects, as --custom-objects does; safe_mode=False for a lambda); "tf_keras": tf_keras."""
    return load_reports_in_turn(folder, [(how, ids)])[0]


def load_reports_in_turn(folder, requests: list[tuple[str, list[str]]]) -> list[dict]:
    """load_reports for each (how, ids) of requests, one after the other in one fresh process (one TensorFlow
    import): "plain" before "own-code" still loads without the custom code, which "custom_code" reports.
    "tf_keras" needs a process of its own (TF_USE_LEGACY_KERAS) and cannot share one."""
    import tempfile

    hows = [how for how, _ in requests]
    if "tf_keras" in hows and len(hows) > 1:
        raise ValueError("tf_keras loads in a process of its own")
    env = {"TF_USE_LEGACY_KERAS": "1"} if hows == ["tf_keras"] else {}
    with tempfile.TemporaryDirectory(prefix="kind-load-") as tmp:
        out = Path(tmp) / "report.json"
        code = (
            f"import sys; sys.path[:0] = [{str(HERE)!r}, {str(HERE.parents[1])!r}]; import kind_loads; "
            "kind_loads._load_reports(*sys.argv[1:])"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code, str(folder), str(out), json.dumps(requests)],
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **env),
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"loading checkpoints ({', '.join(hows)}) failed:\n{proc.stderr[-3000:]}")
        return json.loads(out.read_text())


def _load_reports(folder: str, out: str, requests: str) -> None:
    reports = [_load_report(folder, how, ids) for how, ids in json.loads(requests)]
    Path(out).write_text(json.dumps(reports))


def _load_report(folder: str, how: str, ids: list[str]) -> dict:
    logging.getLogger("absl").setLevel(logging.ERROR)
    if how == "tf_keras":
        import tf_keras as keras
    else:
        import keras
    report = {}
    for checkpoint in [c for c in plan(Path(folder)) if c.id in ids]:
        custom_code = any(keras.saving.get_registered_object(f"kind_models>{name}") for name in _CUSTOM_CLASSES)
        errors, model = [], None
        for attempt in _attempts(keras, how, checkpoint):
            try:
                model = attempt()
                break
            except Exception as exc:  # what Keras says is the report
                errors.append(f"{type(exc).__name__}: {exc}")
        max_diff = None
        if model is not None:
            x, y = checkpoint.io()
            max_diff = float(np.max(np.abs(np.asarray(model(x, training=False)) - y)))
        report[checkpoint.id] = {"errors": errors, "max_diff": max_diff, "custom_code": custom_code}
    return report


_CUSTOM_CLASSES = ("HeadMixer", "TransformerBlock")


def _attempts(keras, how: str, checkpoint: KindCheckpoint) -> list[Callable]:
    if how == "tf_keras":
        return [lambda: keras.models.load_model(checkpoint.path, compile=False)]
    if how == "plain":
        attempts = [lambda: load_with_keras3(checkpoint, convert=False)]
        if checkpoint.format == "keras2-h5":
            attempts.append(lambda: load_with_keras3(checkpoint, convert=True))
        return attempts
    if checkpoint.custom_source is None:  # a lambda: its code is in the file
        return [lambda: keras.saving.load_model(checkpoint.path, compile=False, safe_mode=False)]
    import importlib.util

    spec = importlib.util.spec_from_file_location("user_custom_objects", checkpoint.custom_source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    objects = {name: value for name, value in vars(module).items() if isinstance(value, type)}
    return [lambda: keras.saving.load_model(checkpoint.path, compile=False, custom_objects=objects)]
