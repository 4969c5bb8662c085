"""Checkpoints whose model Keras cannot rebuild, as users bring them, for the weights-only tests.

Each is saved by a process of its own, so that the test process never meets the classes that
saved it: a Keras 3 model with registered custom layers (an attention layer with weights of its own,
and a transformer block holding a MultiHeadAttention, a Sequential feed-forward network and two
LayerNormalizations) as .keras and .h5, with the Python file defining those classes beside it; a
Keras 3 model with a Lambda layer (.keras, .h5); a subclassed Keras 3 model (.keras); and a Keras 2
model (tf_keras) with TFOpLambda layers after an LSTM, a Bidirectional GRU and a BatchNormalization,
trained a step, as .h5, as that .h5 renamed .keras (what Keras 2.11 wrote under a .keras name) and as
a tf_keras .keras archive. Every file's weights
are recorded as saved: Keras 3 by weight path ("block/multi_head_attention/query/kernel"), Keras 2
by weight name ("bi/forward_gru/gru_cell/kernel").
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CUSTOM_LAYERS = '''
import keras


@keras.saving.register_keras_serializable(package="mine")
class ScaledAttention(keras.layers.Layer):
    """Attention pooling over time with weights of its own (no sub-layer)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.wq = self.add_weight(shape=(input_shape[-1], self.units), name="wq")
        self.wv = self.add_weight(shape=(input_shape[-1], self.units), name="wv")
        self.scale = self.add_weight(shape=(self.units,), initializer="ones", name="scale")

    def call(self, x):
        weights = keras.ops.softmax(keras.ops.matmul(x, self.wq), axis=1)
        return keras.ops.sum(weights * keras.ops.matmul(x, self.wv), axis=1) * self.scale

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="mine")
class TransformerBlock(keras.layers.Layer):
    def __init__(self, dim, heads, ff, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.heads, self.ff = dim, heads, ff
        self.att = keras.layers.MultiHeadAttention(heads, dim // heads)
        self.ffn = keras.Sequential([keras.layers.Dense(ff, activation="relu"), keras.layers.Dense(dim)])
        self.ln1 = keras.layers.LayerNormalization()
        self.ln2 = keras.layers.LayerNormalization()

    def call(self, x):
        x = self.ln1(x + self.att(x, x))
        return self.ln2(x + self.ffn(x))

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "heads": self.heads, "ff": self.ff}
'''

_KERAS3_SCRIPT = r"""
import os, sys
import numpy as np
out = sys.argv[1]
sys.path.insert(0, out)
import keras
from custom_layers import ScaledAttention, TransformerBlock

keras.utils.set_random_seed(0)
inputs = keras.Input((8,), dtype="int32")
x = keras.layers.Embedding(50, 16, name="emb")(inputs)
x = TransformerBlock(16, 2, 32, name="block")(x)
x = ScaledAttention(12, name="pool")(x)
outputs = keras.layers.Dense(10, name="head")(x)
model = keras.Model(inputs, outputs)
model.save(os.path.join(out, "custom.keras"))
model.save(os.path.join(out, "custom.h5"))
np.savez(os.path.join(out, "custom-weights.npz"), **{w.path.replace("/", "|"): w.numpy() for w in model.weights})

block = keras.Sequential([keras.Input((12,)), keras.layers.Dense(12, name="inner"),
                          keras.layers.BatchNormalization(name="bn")], name="blk")
inputs = keras.Input((8,))
x = keras.layers.Dense(12, name="pre")(inputs)
x = block(x)
x = keras.layers.Lambda(lambda t: t * 2.0, name="double")(x)
outputs = keras.layers.Dense(10, name="head")(x)
model = keras.Model(inputs, outputs)
model.save(os.path.join(out, "lambda.keras"))
model.save(os.path.join(out, "lambda.h5"))
np.savez(os.path.join(out, "lambda-weights.npz"), **{w.path.replace("/", "|"): w.numpy() for w in model.weights})


@keras.saving.register_keras_serializable(package="mine")
class Subclassed(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.first = keras.layers.Dense(8, name="first")
        self.attention = keras.layers.MultiHeadAttention(2, 4)

    def call(self, x):
        return self.attention(self.first(x), self.first(x))


model = Subclassed()
model(np.zeros((1, 3, 5), np.float32))
model.save(os.path.join(out, "subclassed.keras"))
"""

_KERAS2_SCRIPT = r"""
import os, shutil, sys
import numpy as np
import tensorflow as tf
import tf_keras as keras
out = sys.argv[1]
keras.utils.set_random_seed(0)
inputs = keras.Input((12, 6))
x = keras.layers.LSTM(8, return_sequences=True, name="lstm")(inputs)
x = keras.layers.Bidirectional(keras.layers.GRU(4), name="bi")(x)
x = keras.layers.Dense(16, name="fc")(x)
x = x * 2.0
x = tf.nn.relu(x)
x = keras.layers.BatchNormalization(name="bn")(x)
outputs = keras.layers.Dense(10, name="out")(x)
model = keras.Model(inputs, outputs)
model.compile(optimizer="adam", loss="mse")
rng = np.random.default_rng(0)
model.fit(rng.random((16, 12, 6), dtype=np.float32), rng.random((16, 10), dtype=np.float32), epochs=1, verbose=0)
model.save(os.path.join(out, "k2-lambda.h5"))
model.save(os.path.join(out, "k2-lambda.keras"))
shutil.copyfile(os.path.join(out, "k2-lambda.h5"), os.path.join(out, "k2-lambda-h5.keras"))
weights = {w.name.split(":")[0].replace("/", "|"): w.numpy() for w in model.weights}
np.savez(os.path.join(out, "k2-weights.npz"), **weights)
"""

# Loads model files as the code that built them does and saves their weights, each beside its file
# (argv: the folder of custom_layers.py, then the model files).
_KERAS3_LOAD = r"""
import sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import keras
import custom_layers
for path in sys.argv[2:]:
    keras.utils.clear_session()  # each model's layers named as in a process of its own
    model = keras.saving.load_model(path, safe_mode=False)
    np.savez(path + "-loaded.npz", **{w.path.replace("/", "|"): w.numpy() for w in model.weights})
"""

_KERAS2_LOAD = r"""
import sys
import numpy as np
import tf_keras as keras
for path in sys.argv[2:]:
    keras.backend.clear_session()
    model = keras.models.load_model(path)
    np.savez(path + "-loaded.npz", **{w.name.split(":")[0].replace("/", "|"): w.numpy() for w in model.weights})
"""


@dataclass
class WeightsOnlyModels:
    folder: Path
    custom_objects: Path  # the Python file defining the custom layers

    def path(self, name: str) -> Path:
        return self.folder / name

    def saved_weights(self, name: str) -> dict[str, np.ndarray]:
        """The weights of model file ``name`` as its code saved them, by path (Keras 3) or name (Keras 2)."""
        record = "k2" if name.startswith("k2") else Path(name).stem
        with np.load(self.folder / f"{record}-weights.npz") as npz:
            return {key.replace("|", "/"): npz[key] for key in npz.files}

    def load_as_their_code_does(self, paths: list[Path]) -> dict[Path, dict[str, np.ndarray]]:
        """The weights of each of ``paths`` as the code that built it loads them, in processes of their
        own: Keras 3 with the custom classes, or tf_keras for the Keras 2 files (named "k2...")."""
        found = {}
        for keras2 in (False, True):
            group = [path for path in paths if path.name.startswith("k2") == keras2]
            if not group:
                continue
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **({"TF_USE_LEGACY_KERAS": "1"} if keras2 else {}))
            script = _KERAS2_LOAD if keras2 else _KERAS3_LOAD
            proc = subprocess.run(
                [sys.executable, "-c", script, str(self.folder), *map(str, group)],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            if proc.returncode != 0:
                raise AssertionError(
                    f"{[p.name for p in group]} did not load as their code loads them:\n{proc.stderr[-3000:]}"
                )
            for path in group:
                with np.load(f"{path}-loaded.npz") as npz:
                    found[path] = {key.replace("|", "/"): npz[key] for key in npz.files}
        return found


def write_weights_only_models(folder: Path) -> WeightsOnlyModels:
    """Every checkpoint above, written by processes of their own into ``folder``."""
    (folder / "custom_layers.py").write_text(CUSTOM_LAYERS)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    for script, extra in ((_KERAS3_SCRIPT, {}), (_KERAS2_SCRIPT, {"TF_USE_LEGACY_KERAS": "1"})):
        proc = subprocess.run(
            [sys.executable, "-c", script, str(folder)],
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"writing the weights-only models failed:\n{proc.stderr[-3000:]}")
    return WeightsOnlyModels(folder, folder / "custom_layers.py")
