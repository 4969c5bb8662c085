"""Tiny models saved in every checkpoint format a user may bring, for the loader tests.

Keras 3 files are written in-process; Keras 2 files (tf_keras) are written by a
subprocess with TF_USE_LEGACY_KERAS=1 so the two Keras versions never share a process.
Each case records the kernels as saved, keyed by the layer name prune-viz should show.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class SavedCase:
    name: str  # e.g. "keras3-mlp.keras"
    path: Path
    kernels: dict  # prunable layer name -> kernel as saved (model order; the last is the output layer)
    format_words: str  # a word the loader's format label must contain
    random_outputs: bool = False  # a serving function that keeps augmentation active (Keras 3 export)
    reference: tuple | None = None  # (x, outputs of the model as built, before saving)

    @property
    def layer_names(self) -> list[str]:
        return list(self.kernels)


def tree_hash(path: Path) -> str:
    """SHA-256 over a file, or over every file (with its relative name) under a folder."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def with_windows_backslashes(source: Path, target: Path) -> None:
    """Rewrite a .keras archive the way Keras 2.x / keras_core on Windows wrote it (keras#18528):
    layer paths inside model.weights.h5 joined with backslashes, and so are folder member names."""
    import io

    import h5py

    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as out:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "model.weights.h5":
                data = _backslash_h5_paths(data)
            out.writestr(info.filename.replace("/", "\\"), data)
        out.writestr("assets\\", b"")  # a folder member written with a backslash
    with zipfile.ZipFile(target) as check, h5py.File(io.BytesIO(check.read("model.weights.h5"))) as h5:
        assert "assets\\" in check.namelist()
        assert any("\\" in name for name in h5), "no backslashed group in the weights file"


def _backslash_h5_paths(data: bytes) -> bytes:
    """Every "<path>/vars" group becomes a top-level group "<path with backslashes>" holding "vars"."""
    import io

    import h5py

    buffer = io.BytesIO()
    with h5py.File(io.BytesIO(data), "r") as src, h5py.File(buffer, "w") as out:
        out.attrs.update(dict(src.attrs))
        datasets = []
        src.visititems(lambda name, obj: datasets.append((name, obj)) if isinstance(obj, h5py.Dataset) else None)
        groups = []
        src.visititems(lambda name, obj: groups.append((name, obj)) if isinstance(obj, h5py.Group) else None)
        for name, obj in groups:
            head, sep, tail = name.rpartition("/")
            fixed = f"{head.replace('/', chr(92))}/{tail}" if sep else tail
            out.require_group(fixed).attrs.update(dict(obj.attrs))
        for name, obj in datasets:
            head, _, leaf = name.rpartition("/")
            group_head, sep, group_tail = head.rpartition("/")
            group = f"{group_head.replace('/', chr(92))}/{group_tail}" if sep else group_tail
            out.create_dataset(f"{group}/{leaf}", data=obj[()])
    return buffer.getvalue()


# -- Keras 3 --------------------------------------------------------------------------------------


def keras3_mlp(keras):
    return keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(16, activation="relu", name="h1"),
            keras.layers.Dense(10, activation="softmax", name="out"),
        ],
        name="mlp",
    )


def keras3_functional(keras):
    """Augmentation and Resizing inside the model, a Conv2D, and a nested Sequential block."""
    block = keras.Sequential(
        [keras.Input((12,)), keras.layers.Dense(12, activation="relu", name="inner")], name="block"
    )
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.RandomFlip("horizontal", name="flip")(inputs)
    x = keras.layers.Resizing(14, 14, name="resize")(x)
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(x)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Dense(12, activation="relu", name="pre")(x)
    x = block(x)
    outputs = keras.layers.Dense(10, name="head")(x)
    return keras.Model(inputs, outputs, name="functional")


def keras3_fixed_batch(keras):
    return keras.Sequential(
        [
            keras.Input((28, 28), batch_size=50),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax", name="dense"),
        ],
        name="fixed",
    )


KERAS3_KERNELS = {
    "mlp": ["h1", "out"],
    "functional": ["conv", "pre", "block/inner", "head"],
    "fixed": ["dense"],
}


def reference_input(input_shape) -> np.ndarray:
    """A fixed batch in [0, 1) for a model's input shape (batch 8 unless the model fixes it)."""
    batch, *features = input_shape
    return np.random.default_rng(0).random((batch or 8, *features), dtype=np.float32)


def _keras3_kernels(model, names: list[str]) -> dict:
    found = {}
    for name in names:
        layer = model
        for part in name.split("/"):
            layer = layer.get_layer(part)
        found[name] = np.array(layer.kernel.numpy(), copy=True)
    return found


def write_keras3_cases(folder: Path) -> list[SavedCase]:
    import keras

    from prune_viz.core.io import save_keras_with_metadata

    cases = []
    for seed, (key, build) in enumerate(
        (("mlp", keras3_mlp), ("functional", keras3_functional), ("fixed", keras3_fixed_batch))
    ):
        keras.utils.set_random_seed(100 + seed)
        model = build(keras)
        kernels = _keras3_kernels(model, KERAS3_KERNELS[key])
        base = folder / f"keras3-{key}"
        x = reference_input(model.inputs[0].shape)
        reference = (x, np.asarray(model(x, training=False)))
        first = len(cases)
        save_keras_with_metadata(model, base.with_suffix(".keras"), {"trained_on": "nothing (test fixture)"})
        cases.append(SavedCase(f"keras3-{key}.keras", base.with_suffix(".keras"), kernels, "Keras 3 archive"))
        model.export(str(base) + "-export", verbose=False)
        # Keras 3.15's export() traces RandomFlip in training mode: its serving function flips at random.
        cases.append(
            SavedCase(
                f"keras3-{key} export()",
                Path(str(base) + "-export"),
                kernels,
                "SavedModel",
                random_outputs=key == "functional",
            )
        )
        if key == "mlp":
            model.save(base.with_suffix(".h5"))
            cases.append(SavedCase("keras3-mlp.h5", base.with_suffix(".h5"), kernels, "HDF5"))
            hidden = folder / "keras3-mlp-hdf5-inside.keras"
            hidden.write_bytes(base.with_suffix(".h5").read_bytes())
            cases.append(SavedCase("keras3 HDF5 named .keras", hidden, kernels, "behind a .keras name"))
            renamed = folder / "keras3-mlp-archive.h5"
            renamed.write_bytes(base.with_suffix(".keras").read_bytes())
            cases.append(SavedCase("keras3 archive named .h5", renamed, kernels, "behind a .h5 name"))
            slashed = folder / "keras3-mlp-backslash.keras"
            with_windows_backslashes(base.with_suffix(".keras"), slashed)
            cases.append(SavedCase("keras3 backslash .keras", slashed, kernels, "backslash paths repaired"))
        if key == "functional":
            model.save(base.with_suffix(".h5"))
            cases.append(SavedCase("keras3-functional.h5", base.with_suffix(".h5"), kernels, "HDF5"))
        for case in cases[first:]:
            case.reference = reference
    return cases


# -- Keras 2 (tf_keras), in a subprocess -------------------------------------------------------------

_KERAS2_SCRIPT = r"""
import json, os, sys
import numpy as np
import tensorflow as tf
import tf_keras as keras

out = sys.argv[1]
written = {}

def kernels_of(model, names):
    found = {}
    for name in names:
        layer = model
        for part in name.split("/"):
            layer = layer.get_layer(part)
        found[name] = layer.kernel.numpy()
    return found

def record(key, model, names):
    kernels = kernels_of(model, names)
    batch, *features = model.input_shape
    x = np.random.default_rng(0).random((batch or 8, *features), dtype=np.float32)
    y = model(x, training=False).numpy()
    np.savez(os.path.join(out, key + "-kernels.npz"), __x__=x, __y__=y,
             **{n.replace("/", "|"): k for n, k in kernels.items()})
    written[key] = names

keras.utils.set_random_seed(1)
# Sequential in the old style: input_shape on the first layer, no Input object.
mlp = keras.Sequential([
    keras.layers.Dense(16, activation="relu", input_shape=(784,), name="h1"),
    keras.layers.Dense(10, activation="softmax", name="out"),
])
record("keras2-mlp", mlp, ["h1", "out"])
mlp.save(os.path.join(out, "keras2-mlp.h5"))
mlp.save(os.path.join(out, "keras2-mlp.keras"))
mlp.save(os.path.join(out, "keras2-mlp-savedmodel"), save_format="tf")
tf.saved_model.save(mlp, os.path.join(out, "keras2-mlp-tf-saved-model"))

block = keras.Sequential([keras.layers.Dense(12, activation="relu", input_shape=(12,), name="inner")], name="block")
inputs = keras.Input((28, 28, 1))
x = keras.layers.RandomFlip("horizontal", name="flip")(inputs)
x = keras.layers.Resizing(14, 14, name="resize")(x)
x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(x)
x = keras.layers.Flatten(name="flat")(x)
x = keras.layers.Dense(12, activation="relu", name="pre")(x)
x = block(x)
outputs = keras.layers.Dense(10, name="head")(x)
functional = keras.Model(inputs, outputs, name="functional")
record("keras2-functional", functional, ["conv", "pre", "block/inner", "head"])
functional.save(os.path.join(out, "keras2-functional.h5"))
functional.save(os.path.join(out, "keras2-functional.keras"))
functional.save(os.path.join(out, "keras2-functional-savedmodel"), save_format="tf")

# A typical Keras 2 MNIST CNN: Reshape with input_shape, BatchNormalization (axis saved as a list),
# pooling, dropout, and compiled and trained for one step, so the files carry optimizer state.
cnn = keras.Sequential([
    keras.layers.Reshape((28, 28, 1), input_shape=(28, 28), name="reshape"),
    keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
    keras.layers.BatchNormalization(name="bn"),
    keras.layers.MaxPooling2D(name="pool"),
    keras.layers.Dropout(0.25, name="drop1"),
    keras.layers.Flatten(name="flat"),
    keras.layers.Dense(16, activation="relu", name="fc"),
    keras.layers.Dropout(0.5, name="drop2"),
    keras.layers.Dense(10, activation="softmax", name="out"),
])
cnn.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
rng = np.random.default_rng(0)
cnn.fit(rng.random((32, 28, 28), dtype=np.float32), rng.integers(0, 10, 32), epochs=1, verbose=0)
record("keras2-cnn", cnn, ["conv", "fc", "out"])
cnn.save(os.path.join(out, "keras2-cnn.h5"))
cnn.save(os.path.join(out, "keras2-cnn.keras"))
cnn.save(os.path.join(out, "keras2-cnn-savedmodel"), save_format="tf")

fixed = keras.Sequential([
    keras.layers.Flatten(batch_input_shape=(50, 28, 28)),
    keras.layers.Dense(10, activation="softmax", name="dense"),
])
record("keras2-fixed", fixed, ["dense"])
fixed.save(os.path.join(out, "keras2-fixed.h5"))
json.dump(written, open(os.path.join(out, "keras2-written.json"), "w"))
"""

KERAS2_FILES = {
    "keras2-mlp": [
        ("keras2-mlp.h5", "HDF5 (Keras 2"),
        ("keras2-mlp.keras", "Keras 2 archive"),
        ("keras2-mlp-savedmodel", "SavedModel"),
        ("keras2-mlp-tf-saved-model", "SavedModel"),
    ],
    "keras2-functional": [
        ("keras2-functional.h5", "HDF5 (Keras 2"),
        ("keras2-functional.keras", "Keras 2 archive"),
        # tf_keras names a nested layer's variables without the sub-model's name
        ("keras2-functional-savedmodel", "SavedModel", {"block/inner": "inner"}),
    ],
    "keras2-cnn": [
        ("keras2-cnn.h5", "HDF5 (Keras 2"),
        ("keras2-cnn.keras", "Keras 2 archive"),
        ("keras2-cnn-savedmodel", "SavedModel"),
    ],
    "keras2-fixed": [("keras2-fixed.h5", "HDF5 (Keras 2")],
}


def write_keras2_cases(folder: Path) -> list[SavedCase]:
    """Keras 2 files from tf_keras in a subprocess; [] if tf_keras is not installed."""
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, "-c", _KERAS2_SCRIPT, str(folder)], env=env, capture_output=True, text=True, timeout=300
    )
    if proc.returncode != 0:
        raise RuntimeError(f"writing Keras 2 models failed:\n{proc.stderr[-3000:]}")
    written = json.loads((folder / "keras2-written.json").read_text())
    cases = []
    for key, names in written.items():
        with np.load(folder / f"{key}-kernels.npz") as npz:
            kernels = {name: npz[name.replace("/", "|")] for name in names}
            reference = (npz["__x__"], npz["__y__"])
        for filename, words, *renamed in KERAS2_FILES[key]:
            renames = renamed[0] if renamed else {}
            shown = {renames.get(name, name): kernel for name, kernel in kernels.items()}
            cases.append(SavedCase(filename, folder / filename, shown, words, reference=reference))
    slashed = folder / "keras2-mlp-backslash.keras"
    with_windows_backslashes(folder / "keras2-mlp.keras", slashed)
    mlp = next(case for case in cases if case.name == "keras2-mlp.keras")
    cases.append(
        SavedCase("keras2 backslash .keras", slashed, mlp.kernels, "backslash paths repaired", reference=mlp.reference)
    )
    return cases


def write_signatureless_savedmodel(folder: Path) -> tuple[Path, dict]:
    """A SavedModel of a plain tf.Module: named kernel variables, no serving signature, no Keras."""
    import tensorflow as tf

    rng = np.random.default_rng(4)
    kernels = {"h1": rng.normal(size=(784, 8)).astype(np.float32), "out": rng.normal(size=(8, 10)).astype(np.float32)}
    module = tf.Module()
    module.h1_kernel = tf.Variable(kernels["h1"], name="h1/kernel")
    module.h1_bias = tf.Variable(np.zeros(8, np.float32), name="h1/bias")
    module.out_kernel = tf.Variable(kernels["out"], name="out/kernel")
    path = folder / "module-savedmodel"
    tf.saved_model.save(module, str(path))
    return path, kernels


def tf_keras_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("tf_keras") is not None
