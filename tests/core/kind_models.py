"""Small models of every Keras layer kind that has weights, saved in the formats users bring (issue 26).

Each kind is built once as a Sequential model (where the kind allows) and once as a Functional one, and
saved as a Keras 3 ``.keras``, a Keras 3 ``.h5`` and a Keras 2 ``.h5`` (written by tf_keras). Besides
those, checkpoints that plain Keras 3 cannot rebuild, for weights-only opening: registered custom
layers (their source is copied next to them as ``custom_layers.py``, for ``--custom-objects``),
TFOpLambda layers in a Keras 2 file (also under a ``.keras`` name), and a python lambda.

One table, ``KINDS``, describes every model once. Its builders take the Keras module, so the same code
builds the Keras 3 models here and the Keras 2 ones in a subprocess (TF_USE_LEGACY_KERAS=1, as
model_factory does); the custom-class checkpoints are saved by a second subprocess that imports
``custom_layers.py``, so the process that calls ``save_kind_checkpoints`` never registers those classes.
This module imports neither Keras nor TensorFlow at module level.

Weights are set from a NumPy generator seeded by the kind's name, not by Keras initializers, so they do
not change with the Keras version; biases, normalisation statistics and scales are not zeros and ones.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CUSTOM_SOURCE = HERE / "kind_custom" / "custom_layers.py"
WRITTEN = "written-in-seconds.txt"  # the last file save_kind_checkpoints writes: how long it took
BATCH = 4  # rows of each reference input

FORMATS = ("keras3-keras", "keras3-h5", "keras2-h5")


@dataclass(frozen=True)
class KindCheckpoint:
    name: str  # the model, e.g. "lstm-seq", "lstm-fn"
    kind: str  # the layer kind it carries, e.g. "LSTM"
    path: Path
    format: str  # what the file holds (whatever its name says): "keras3-keras", "keras3-h5" or "keras2-h5"
    # Keras 3 rebuilds the model from the file: keras.saving.load_model (safe mode, no custom objects), for a
    # Keras 2 file with `converted` after prune-viz's Keras 2 config conversion (core.io.config_migration)
    rebuildable: bool
    custom_source: Path | None  # the Python file defining its custom classes, for --custom-objects
    reference: Path  # .npz: "x", a random batch, and "y", the model's outputs on it before saving
    # not rebuildable: a word Keras 3's load error names (after the conversion, for a Keras 2 file): the class
    # it cannot rebuild, or "safe_mode" for a python lambda
    blocker: str | None = None
    converted: bool = False  # a Keras 2 config plain Keras 3 refuses until converted (unknown arguments, ...)
    differs: str | None = None  # why Keras 3's rebuilt model computes other outputs than the saved one did

    def io(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y): the reference input and the outputs of the model as built, before saving."""
        with np.load(self.reference) as npz:
            return npz["x"], npz["y"]

    @property
    def id(self) -> str:
        """The file's name: unique among the checkpoints, stable, for test ids."""
        return self.path.name


BOTH = ("seq", "fn")


@dataclass(frozen=True)
class Kind:
    name: str  # the models are "<name>-seq" and "<name>-fn"
    kind: str  # the layer kinds it covers
    input_shape: tuple
    layers: Callable | None = None  # keras -> the layers in order: a Sequential, and the same chain as Functional
    graph: Callable | None = None  # (keras, inputs) -> outputs: Functional only, for what a Sequential cannot hold
    vocab: int = 0  # integer inputs in [0, vocab) when > 0
    keras2: bool = True  # False where tf_keras lacks the layer (said beside the entry)
    # how Keras 3 (3.12 to 3.15) takes the Keras 2 file, as KindCheckpoint says: the variants whose config
    # needs converting, what stops it rebuilding the model at all, why its outputs differ
    keras2_converted: tuple = ()
    keras2_blocker: str | None = None
    keras2_differs: str | None = None

    @property
    def variants(self) -> tuple:
        return BOTH if self.layers is not None else ("fn",)

    def models(self) -> list[str]:
        return [f"{self.name}-{variant}" for variant in self.variants]


# -- the layers of each kind ------------------------------------------------------------------------


def _head(k, flatten=True):
    return [k.layers.Flatten(name="flat")] * flatten + [k.layers.Dense(4, name="head")]


def _dense(k):
    return [k.layers.Dense(16, activation="relu", name="dense"), *_head(k, flatten=False)]


def _conv(cls: str, *args, **kwargs):
    """A one-layer stack of keras.layers.<cls>(*args, **kwargs) named "conv", then Flatten and Dense(4)."""

    def layers(k):
        return [getattr(k.layers, cls)(*args, name="conv", **kwargs), *_head(k)]

    return layers


def _recurrent(cls: str, **kwargs):
    def layers(k):
        return [getattr(k.layers, cls)(8, name=cls.lower(), **kwargs), *_head(k, flatten=False)]

    return layers


def _bidirectional(k):
    return [k.layers.Bidirectional(k.layers.LSTM(8, name="lstm"), name="bidirectional"), *_head(k, flatten=False)]


def _time_distributed(k):
    return [k.layers.TimeDistributed(k.layers.Dense(5, name="dense"), name="time_distributed"), *_head(k)]


def _embedding_lstm(k):
    return [
        k.layers.Embedding(200, 16, name="embedding"),
        k.layers.LSTM(16, name="lstm"),
        k.layers.Dense(1, activation="sigmoid", name="head"),
    ]


def _rnn_cells(k):
    cells = [k.layers.SimpleRNNCell(4, name="simple_cell"), k.layers.LSTMCell(6, name="lstm_cell")]
    cells.append(k.layers.GRUCell(5, name="gru_cell"))
    return [k.layers.RNN(cells, name="rnn"), *_head(k, flatten=False)]


def _einsum(k):
    dense = k.layers.EinsumDense("abc,cde->abde", output_shape=(10, 3, 4), bias_axes="de", name="einsum")
    return [dense, *_head(k)]


def _conv_bn(k):
    L = k.layers
    return [L.Conv2D(6, 3, name="conv"), L.BatchNormalization(name="bn"), L.ReLU(name="relu"), *_head(k)]


def _nested(k):
    block = k.Sequential(
        [k.Input((8,)), k.layers.Dense(8, activation="relu", name="inner1"), k.layers.Dense(8, name="inner2")],
        name="block",
    )
    return [k.layers.Dense(8, activation="relu", name="dense"), block, *_head(k, flatten=False)]


def _prelu(k):
    # on a (10, 5) sequence without shared axes: alpha is rank 2, (10, 5)
    return [k.layers.Dense(5, name="dense"), k.layers.PReLU(name="prelu"), *_head(k)]


def _after_dense(cls: str, **kwargs):
    """Dense(8), then keras.layers.<cls>(**kwargs) named "norm", then the head."""

    def layers(k):
        return [k.layers.Dense(8, name="dense"), getattr(k.layers, cls)(name="norm", **kwargs), *_head(k)]

    return layers


def _group_norm(k):
    return [k.layers.Conv2D(4, 3, name="conv"), k.layers.GroupNormalization(groups=2, name="norm"), *_head(k)]


def _normalization(k):
    return [k.layers.Normalization(name="normalization"), *_head(k, flatten=False)]


def _spectral(k):
    return [k.layers.SpectralNormalization(k.layers.Dense(8, name="dense"), name="spectral"), *_head(k, flatten=False)]


def _reversible_embedding(k):
    return [
        k.layers.ReversibleEmbedding(200, 16, name="embedding"),
        k.layers.GlobalAveragePooling1D(name="pool"),
        k.layers.Dense(4, name="head"),
    ]


def _stft(k):
    return [k.layers.STFTSpectrogram(frame_length=16, frame_step=8, name="stft"), *_head(k)]


def _gan_generator(k):
    L = k.layers
    return [
        L.Dense(4 * 4 * 8, name="project"),
        L.Reshape((4, 4, 8), name="reshape"),
        L.BatchNormalization(name="bn1"),
        L.LeakyReLU(name="leaky1"),
        L.Conv2DTranspose(8, 3, strides=2, padding="same", name="deconv1"),
        L.BatchNormalization(name="bn2"),
        L.LeakyReLU(name="leaky2"),
        L.Conv2DTranspose(1, 3, strides=2, padding="same", activation="tanh", name="deconv2"),
    ]


def _mobilenet_cifar(k):
    L = k.layers
    return [
        L.Conv2D(8, 3, strides=2, padding="same", name="conv"),
        L.BatchNormalization(name="bn1"),
        L.ReLU(name="relu1"),
        L.DepthwiseConv2D(3, padding="same", name="depthwise"),
        L.BatchNormalization(name="bn2"),
        L.ReLU(name="relu2"),
        L.Conv2D(16, 1, name="pointwise"),
        L.BatchNormalization(name="bn3"),
        L.ReLU(name="relu3"),
        L.SeparableConv2D(16, 3, strides=2, padding="same", name="separable"),
        L.BatchNormalization(name="bn4"),
        L.ReLU(name="relu4"),
        L.GlobalAveragePooling2D(name="pool"),
        L.Dense(10, activation="softmax", name="head"),
    ]


def _pooled_head(k, x):
    return k.layers.Dense(4, name="head")(k.layers.GlobalAveragePooling1D(name="pool")(x))


def _transformer(k, inputs):
    """MultiHeadAttention (2 heads of 8) + LayerNormalization + a feed-forward Dense pair, post-norm."""
    L = k.layers
    attended = L.MultiHeadAttention(2, 8, name="attention")(inputs, inputs)
    x = L.LayerNormalization(name="norm1")(L.Add(name="add1")([inputs, attended]))
    feed = L.Dense(16, name="ff2")(L.Dense(32, activation="relu", name="ff1")(x))
    x = L.LayerNormalization(name="norm2")(L.Add(name="add2")([x, feed]))
    return _pooled_head(k, x)


def _grouped_query(k, inputs):
    gqa = k.layers.GroupQueryAttention(head_dim=4, num_query_heads=4, num_key_value_heads=2, name="attention")
    return _pooled_head(k, gqa(inputs, inputs))


def _dot_attention(cls: str, **kwargs):
    def graph(k, inputs):
        query = k.layers.Dense(8, name="query")(inputs)
        value = k.layers.Dense(8, name="value")(inputs)
        return _pooled_head(k, getattr(k.layers, cls)(name="attention", **kwargs)([query, value]))

    return graph


# What Keras 3 makes of the Keras 2 (tf_keras 2.21) files, as the tests check it:
# - plain keras.saving.load_model refuses every recurrent layer ("time_major"), the transposed, depthwise and
#   separable convolutions ("groups") and a Functional model calling a nested Sequential (node numbers);
#   prune-viz's Keras 2 config conversion fixes those (CONVERTED);
# - MultiHeadAttention: the conversion drops query_shape/key_shape/value_shape, and then Keras 3 cannot build it;
# - ConvLSTM: Keras 2's default recurrent_activation "hard_sigmoid" is clip(0.2x + 0.5) and Keras 3's is
#   clip(x / 6 + 0.5), so the rebuilt model computes other outputs.
CONVERTED = {"keras2_converted": BOTH}
HARD_SIGMOID = {
    "keras2_converted": BOTH,
    "keras2_differs": "Keras 3's hard_sigmoid (the recurrent activation tf_keras's ConvLSTM defaults to) is "
    "clip(x / 6 + 0.5), Keras 2's clip(0.2 x + 0.5)",
}

KINDS: list[Kind] = [
    Kind("dense", "Dense", (12,), _dense),
    Kind("conv1d", "Conv1D", (24, 3), _conv("Conv1D", 6, 3, activation="relu")),
    Kind("conv2d", "Conv2D", (10, 10, 3), _conv("Conv2D", 6, 3, activation="relu")),
    Kind("conv2d-groups", "Conv2D groups=3", (10, 10, 3), _conv("Conv2D", 6, 3, groups=3)),
    Kind("conv3d", "Conv3D", (6, 6, 6, 2), _conv("Conv3D", 4, 3)),
    Kind("conv1d-transpose", "Conv1DTranspose", (8, 3), _conv("Conv1DTranspose", 5, 3, strides=2), **CONVERTED),
    Kind("conv2d-transpose", "Conv2DTranspose", (5, 5, 3), _conv("Conv2DTranspose", 5, 3, strides=2), **CONVERTED),
    Kind("conv3d-transpose", "Conv3DTranspose", (3, 3, 3, 2), _conv("Conv3DTranspose", 3, 3, strides=2), **CONVERTED),
    Kind("depthwise-conv1d", "DepthwiseConv1D", (16, 3), _conv("DepthwiseConv1D", 3, depth_multiplier=2), **CONVERTED),
    Kind(
        "depthwise-conv2d", "DepthwiseConv2D", (8, 8, 3), _conv("DepthwiseConv2D", 3, depth_multiplier=2), **CONVERTED
    ),
    Kind(
        "separable-conv1d", "SeparableConv1D", (16, 3), _conv("SeparableConv1D", 5, 3, depth_multiplier=2), **CONVERTED
    ),
    Kind(
        "separable-conv2d",
        "SeparableConv2D",
        (8, 8, 3),
        _conv("SeparableConv2D", 5, 3, depth_multiplier=2),
        **CONVERTED,
    ),
    Kind("lstm", "LSTM", (10, 6), _recurrent("LSTM"), **CONVERTED),
    Kind("gru", "GRU reset_after=True", (10, 6), _recurrent("GRU", reset_after=True), **CONVERTED),
    Kind("gru-reset-before", "GRU reset_after=False", (10, 6), _recurrent("GRU", reset_after=False), **CONVERTED),
    Kind("simple-rnn", "SimpleRNN", (10, 6), _recurrent("SimpleRNN"), **CONVERTED),
    Kind("bidirectional-lstm", "Bidirectional(LSTM)", (10, 6), _bidirectional, **CONVERTED),
    Kind("time-distributed-dense", "TimeDistributed(Dense)", (10, 6), _time_distributed),
    Kind("rnn-cells", "RNN(SimpleRNNCell, LSTMCell, GRUCell)", (10, 6), _rnn_cells, **CONVERTED),
    Kind("embedding-lstm", "Embedding + LSTM", (20,), _embedding_lstm, vocab=200, **CONVERTED),
    Kind("conv-lstm1d", "ConvLSTM1D", (4, 10, 2), _conv("ConvLSTM1D", 3, 3), **HARD_SIGMOID),
    Kind("conv-lstm2d", "ConvLSTM2D", (4, 8, 8, 2), _conv("ConvLSTM2D", 4, 3), **HARD_SIGMOID),
    Kind("conv-lstm3d", "ConvLSTM3D", (3, 5, 5, 5, 2), _conv("ConvLSTM3D", 2, 3), **HARD_SIGMOID),
    Kind(
        "transformer-block",
        "MultiHeadAttention + LayerNormalization + Dense",
        (10, 16),
        graph=_transformer,
        keras2_blocker="MultiHeadAttention",
    ),
    # tf_keras has no GroupQueryAttention
    Kind("grouped-query-attention", "GroupQueryAttention", (10, 16), graph=_grouped_query, keras2=False),
    Kind(
        "attention",
        "Attention use_scale, concat",
        (10, 6),
        graph=_dot_attention("Attention", use_scale=True, score_mode="concat"),
    ),
    Kind(
        "additive-attention",
        "AdditiveAttention use_scale",
        (10, 6),
        graph=_dot_attention("AdditiveAttention", use_scale=True),
    ),
    Kind("einsum-dense", "EinsumDense", (10, 6), _einsum),
    Kind("conv-bn", "Conv2D + BatchNormalization", (10, 10, 3), _conv_bn),
    Kind("nested", "Sequential inside a model", (12,), _nested, keras2_converted=("fn",)),
    Kind("prelu", "PReLU (rank-2 alpha)", (10, 6), _prelu),
    Kind("layer-norm", "LayerNormalization", (10, 6), _after_dense("LayerNormalization")),
    Kind("group-norm", "GroupNormalization", (6, 6, 4), _group_norm),
    # tf_keras has no RMSNormalization
    Kind("rms-norm", "RMSNormalization", (10, 6), _after_dense("RMSNormalization"), keras2=False),
    Kind("normalization", "Normalization (adapted: mean, variance)", (12,), _normalization),
    Kind("spectral-norm", "SpectralNormalization(Dense)", (12,), _spectral),
    # tf_keras has no ReversibleEmbedding
    Kind("reversible-embedding", "ReversibleEmbedding", (20,), _reversible_embedding, vocab=200, keras2=False),
    # tf_keras has no STFTSpectrogram
    Kind("stft", "STFTSpectrogram", (64, 1), _stft, keras2=False),
    Kind("gan-generator", "GAN generator: Dense, Reshape, Conv2DTranspose x2", (8,), _gan_generator, **CONVERTED),
    Kind("mobilenet-cifar", "MobileNet-style CIFAR-10 CNN", (32, 32, 3), _mobilenet_cifar, **CONVERTED),
]


@dataclass(frozen=True)
class Custom:
    """Checkpoints plain Keras 3 cannot rebuild, saved by a process that has their code."""

    name: str
    kind: str
    variants: tuple  # of "seq", "fn"
    formats: tuple  # of FORMATS
    blocker: str  # the word Keras 3's load error names: the class it lacks, or "safe_mode"
    has_source: bool = True  # its classes are in custom_layers.py


CUSTOMS: list[Custom] = [
    Custom(
        "custom-layer",
        "registered custom layer (Dense + rank-3 weight)",
        ("seq", "fn"),
        ("keras3-keras", "keras3-h5"),
        "HeadMixer",
    ),
    Custom(
        "custom-transformer",
        "custom transformer block (MultiHeadAttention, Dense, LayerNormalization)",
        ("seq", "fn"),
        ("keras3-keras", "keras3-h5"),
        "TransformerBlock",
    ),
    Custom("lambda", "Lambda (a python lambda)", ("seq", "fn"), ("keras3-keras",), "safe_mode", has_source=False),
    # tf ops on Keras tensors; plan() adds the .h5 file renamed to .keras, as users do
    Custom(
        "tfoplambda", "TFOpLambda (tf ops in a Keras 2 model)", ("fn",), ("keras2-h5",), "TFOpLambda", has_source=False
    ),
]


def _file(name: str, fmt: str) -> str:
    return {"keras3-keras": f"{name}.keras", "keras3-h5": f"{name}.h5", "keras2-h5": f"keras2-{name}.h5"}[fmt]


def _reference(folder: Path, name: str, fmt: str) -> Path:
    return folder / f"{'keras2-' if fmt == 'keras2-h5' else ''}{name}-io.npz"


def plan(folder: Path) -> list[KindCheckpoint]:
    """Every checkpoint save_kind_checkpoints writes into folder (Keras 2 ones whether tf_keras is there or not)."""
    folder = Path(folder)
    planned = []
    for kind in KINDS:
        for variant in kind.variants:
            name = f"{kind.name}-{variant}"
            for fmt in FORMATS if kind.keras2 else FORMATS[:2]:
                keras2 = fmt == "keras2-h5"
                blocker = kind.keras2_blocker if keras2 else None
                planned.append(
                    KindCheckpoint(
                        name,
                        kind.kind,
                        folder / _file(name, fmt),
                        fmt,
                        rebuildable=blocker is None,
                        custom_source=None,
                        reference=_reference(folder, name, fmt),
                        blocker=blocker,
                        converted=keras2 and blocker is None and variant in kind.keras2_converted,
                        differs=kind.keras2_differs if keras2 else None,
                    )
                )
    for custom in CUSTOMS:
        source = folder / "custom_layers.py" if custom.has_source else None
        for variant in custom.variants:
            name = f"{custom.name}-{variant}"
            files = [(_file(name, fmt), fmt) for fmt in custom.formats]
            if custom.name == "tfoplambda":
                files.append((f"keras2-{name}.keras", "keras2-h5"))
            for file, fmt in files:
                planned.append(
                    KindCheckpoint(
                        name,
                        custom.kind,
                        folder / file,
                        fmt,
                        rebuildable=False,
                        custom_source=source,
                        reference=_reference(folder, name, fmt),
                        blocker=custom.blocker,
                    )
                )
    return planned


# -- building -------------------------------------------------------------------------------------


def fill_weights(model, key: str) -> None:
    """Every float variable of model from a generator seeded by key: kernels normal with std 1/sqrt(fan-in),
    variances, gammas and scales in [0.5, 1.5), other vectors (biases, betas, means) normal with std 0.1."""
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    for variable in model.weights:
        dtype = str(getattr(variable.dtype, "name", variable.dtype))
        if not dtype.startswith("float"):
            continue  # Normalization's count
        shape = tuple(int(size) for size in variable.shape)
        leaf = variable.name.split("/")[-1].split(":")[0]
        if leaf in ("gamma", "moving_variance", "variance", "scale"):
            values = rng.uniform(0.5, 1.5, shape)
        elif len(shape) >= 2:
            values = rng.normal(0.0, 1.0 / np.sqrt(max(1, int(np.prod(shape[:-1])))), shape)
        else:
            values = rng.normal(0.0, 0.1, shape)
        variable.assign(values.astype(dtype))
    for layer in model.layers:
        if type(layer).__name__ == "Normalization":
            layer.finalize_state()  # its mean and variance as used come from its variables


def reference_input(kind: Kind) -> np.ndarray:
    rng = np.random.default_rng(zlib.crc32(kind.name.encode()) + 1)
    if kind.vocab:
        return rng.integers(0, kind.vocab, (BATCH, *kind.input_shape)).astype(np.int32)
    return rng.normal(size=(BATCH, *kind.input_shape)).astype(np.float32)


def build(k, kind: Kind, variant: str):
    """The kind's "seq" or "fn" model, built with the Keras module k (keras or tf_keras), weights filled."""
    name = f"{kind.name}-{variant}".replace("-", "_")
    inputs = k.Input(kind.input_shape, dtype="int32" if kind.vocab else "float32", name="input")
    if variant == "seq":
        model = k.Sequential([inputs, *kind.layers(k)], name=name)
    else:
        if kind.graph is not None:
            outputs = kind.graph(k, inputs)
        else:
            outputs = inputs
            for layer in kind.layers(k):
                outputs = layer(outputs)
        model = k.Model(inputs, outputs, name=name)
    fill_weights(model, kind.name)
    return model


def build_kind_models() -> dict[str, object]:
    """Every kind's Keras 3 models by name ("lstm-seq", "lstm-fn", ...), weights filled. (The custom-class
    models are not here: building them would register their classes in this process.)"""
    import keras

    return {f"{kind.name}-{variant}": build(keras, kind, variant) for kind in KINDS for variant in kind.variants}


def _save_reference(path: Path, x, model) -> None:
    np.savez(path, x=x, y=np.asarray(model(x, training=False)))


def _save(model, path: Path) -> None:
    """model.save, without Keras's "You are saving your model as an HDF5 file ... legacy" for each .h5 file."""
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.ERROR)
    try:
        model.save(path)
    finally:
        absl.setLevel(level)


def _write_keras3(folder: Path) -> None:
    import keras

    for kind in KINDS:
        x = reference_input(kind)
        for variant in kind.variants:
            name = f"{kind.name}-{variant}"
            model = build(keras, kind, variant)
            _save_reference(_reference(folder, name, "keras3-keras"), x, model)
            _save(model, folder / _file(name, "keras3-keras"))
            _save(model, folder / _file(name, "keras3-h5"))


def _write_keras2(folder: str) -> None:
    """Run by a subprocess with TF_USE_LEGACY_KERAS=1: every kind tf_keras has, and the TFOpLambda model."""
    import tensorflow as tf
    import tf_keras as k

    folder = Path(folder)
    for kind in KINDS:
        if not kind.keras2:
            continue
        x = reference_input(kind)
        for variant in kind.variants:
            name = f"{kind.name}-{variant}"
            model = build(k, kind, variant)
            _save_reference(_reference(folder, name, "keras2-h5"), x, model)
            _save(model, folder / _file(name, "keras2-h5"))
    inputs = k.Input((12,), name="input")
    x = tf.nn.relu(k.layers.Dense(8, name="dense")(inputs))  # TFOpLambda layers from here on
    x = tf.concat([x, tf.square(x)], axis=-1) * 0.5
    model = k.Model(inputs, k.layers.Dense(4, name="head")(x), name="tfoplambda_fn")
    fill_weights(model, "tfoplambda")
    _save_reference(_reference(folder, "tfoplambda-fn", "keras2-h5"), _float_input("tfoplambda", (12,)), model)
    _save(model, folder / "keras2-tfoplambda-fn.h5")
    shutil.copyfile(folder / "keras2-tfoplambda-fn.h5", folder / "keras2-tfoplambda-fn.keras")


def _float_input(key: str, shape: tuple) -> np.ndarray:
    return np.random.default_rng(zlib.crc32(key.encode()) + 1).normal(size=(BATCH, *shape)).astype(np.float32)


def _write_custom(folder: str) -> None:
    """Run by a subprocess that imports custom_layers.py from folder: the Keras 3 custom-class and lambda models."""
    folder = Path(folder)
    sys.path.insert(0, str(folder))
    import custom_layers
    import keras

    L = keras.layers

    def custom_layer():
        return [custom_layers.HeadMixer(6, heads=2, name="mixer"), L.Dense(4, name="head")]

    def custom_transformer():
        block = custom_layers.TransformerBlock(16, heads=2, hidden=32, name="block")
        return [block, L.GlobalAveragePooling1D(name="pool"), L.Dense(4, name="head")]

    def with_lambda():
        return [L.Dense(8, name="dense"), L.Lambda(lambda t: t * 2.0 + 1.0, name="lambda"), L.Dense(4, name="head")]

    stacks = {
        "custom-layer": ((12,), custom_layer),
        "custom-transformer": ((10, 16), custom_transformer),
        "lambda": ((12,), with_lambda),
    }
    for custom in CUSTOMS:
        if custom.name not in stacks:
            continue
        shape, layers = stacks[custom.name]
        x = _float_input(custom.name, shape)
        for variant in custom.variants:
            name = f"{custom.name}-{variant}"
            inputs = keras.Input(shape, name="input")
            if variant == "seq":
                model = keras.Sequential([inputs, *layers()], name=name.replace("-", "_"))
            else:
                outputs = inputs
                for layer in layers():
                    outputs = layer(outputs)
                model = keras.Model(inputs, outputs, name=name.replace("-", "_"))
            fill_weights(model, custom.name)
            _save_reference(_reference(folder, name, "keras3-keras"), x, model)
            for fmt in custom.formats:
                _save(model, folder / _file(name, fmt))


# -- saving ---------------------------------------------------------------------------------------


def tf_keras_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("tf_keras") is not None


def _start(function: str, folder: Path, **env) -> tuple[subprocess.Popen, Path]:
    code = f"import sys; sys.path.insert(0, {str(HERE)!r}); import kind_models; kind_models.{function}(sys.argv[1])"
    log = folder / f"{function.strip('_')}.log"
    with open(log, "w") as out:
        environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **env)
        proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], env=environment, stdout=out, stderr=out)
    return proc, log


def save_kind_checkpoints(folder) -> list[KindCheckpoint]:
    """Write every checkpoint of plan(folder) into folder and return them (without the Keras 2 ones when
    tf_keras is not installed). The two subprocesses run while this process writes the Keras 3 files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(CUSTOM_SOURCE, folder / "custom_layers.py")
    started = time.perf_counter()
    running = [_start("_write_custom", folder)]
    if tf_keras_available():
        running.append(_start("_write_keras2", folder, TF_USE_LEGACY_KERAS="1"))
    _write_keras3(folder)
    for proc, log in running:
        if proc.wait(timeout=600) != 0:
            raise RuntimeError(f"writing checkpoints failed ({log.name}):\n{log.read_text()[-3000:]}")
    (folder / WRITTEN).write_text(f"{time.perf_counter() - started:.1f}\n")
    return written_checkpoints(folder)


def is_written(folder) -> bool:
    """save_kind_checkpoints finished writing into folder."""
    return (Path(folder) / WRITTEN).is_file()


def written_checkpoints(folder) -> list[KindCheckpoint]:
    """The checkpoints save_kind_checkpoints wrote into folder; a missing one is an error (but the Keras 2
    ones are absent without tf_keras)."""
    found = [c for c in plan(folder) if c.path.is_file()]
    missing = [c.id for c in plan(folder) if not c.path.is_file() and (c.format != "keras2-h5" or tf_keras_available())]
    if missing:
        raise RuntimeError(f"checkpoints missing from {folder}: {', '.join(missing)}")
    return found
