"""Feed data to a model in the shape and scale it expects.

MNIST shapes: (28, 28), (784,), (28, 28, 1), (1, 28, 28), with a free or a fixed batch size, and
free spatial dimensions (``layout_for``). Other data (``layout_for_data``): the model's shape
exactly, or the same numbers with a channel axis of 1 added or dropped, channels moved first, or
flattened; token sequences padded or cut (at the front, as ``keras.utils.pad_sequences`` does) to
the model's length. Anything else is one sentence (``EvaluationUnavailable``).

Preprocessing of images: ``scale`` (/255), ``raw`` (0-255), ``l2`` (per-sample L2 normalisation of
the flattened image, as ``keras.utils.normalize(x, axis=1)`` does for a 784-vector), ``signed``
(x/127.5 - 1), ``standard`` (per channel, minus the data's mean, over its standard deviation),
``image_standard`` (per image, as ``tf.image.per_image_standardization`` does) and ``caffe`` (colour
images: RGB to BGR, minus the ImageNet mean per channel, as ``keras.applications``' "caffe" mode), or
``auto``, which tries them on a sample of the test set with the original weights and keeps the best
(MNIST: the first three, as prune-viz always did). Tokens and other numbers are fed as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prune_viz.core.errors import UserError

PREPROCESSING = ("auto", "scale", "raw", "l2", "signed", "standard", "image_standard", "caffe")
PREPROCESSING_LABELS = {
    "auto": "auto (highest accuracy on 1,000 test images, near ties by loss)",
    "scale": "scaled to [0, 1] (x/255)",
    "raw": "raw pixels 0-255",
    "l2": "per-image L2-normalised",
    "signed": "scaled to [-1, 1] (x/127.5 - 1)",
    "standard": "standardised per channel (minus the data's mean, over its standard deviation)",
    "image_standard": "standardised per image (minus its mean, over its standard deviation)",
    "caffe": "caffe-style (BGR, minus the ImageNet mean per channel)",
    "none": "fed as they are (not images: no scaling)",
}
MNIST_CANDIDATES = ("scale", "raw", "l2")  # ties keep the earlier, more common mode
IMAGE_CANDIDATES = ("scale", "raw", "l2", "signed", "standard", "image_standard", "caffe")
CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], np.float32)  # keras.applications.imagenet_utils, "caffe"


# Without labels the choice is the most confident predictions, which favour the largest inputs whatever the
# model was trained on: the scalings added for labelled data (per image, caffe) are not tried there.
UNLABELLED_CANDIDATES = ("scale", "raw", "l2", "signed", "standard")


def image_candidates(images: np.ndarray, labelled: bool = True) -> tuple[str, ...]:
    """The scalings ``auto`` tries on these (n, h, w[, c]) uint8 images: caffe only for colour, and
    without labels only ``UNLABELLED_CANDIDATES``."""
    if not labelled:
        return UNLABELLED_CANDIDATES
    colour = images.ndim == 4 and images.shape[-1] == 3
    return tuple(m for m in IMAGE_CANDIDATES if m != "caffe" or colour)


class EvaluationUnavailable(UserError):
    """The model cannot be evaluated on MNIST; the message says why in one sentence."""


STILL_WORKS = "Pruning and inspecting its weights still work."
NUM_CLASSES = 10  # MNIST's digits: a model is scored on 10 class scores


def wrong_class_count(outputs: int) -> str:
    """The one sentence, and what still works, for a model with ``outputs`` class scores, not 10."""
    return f"The model has {outputs:,} outputs; MNIST evaluation needs {NUM_CLASSES} class scores. {STILL_WORKS}"


def cannot_feed_mnist(dims: list[int | None]) -> str:
    """The one sentence, and what still works, for a model whose per-sample input ``dims`` MNIST cannot fill."""
    shape = "x".join("?" if d is None else str(d) for d in dims)
    mnist = "MNIST's are 28x28 grey images"
    if len(dims) == 1:
        takes, mnist = f"vectors of {dims[0]:,} numbers", mnist + " (784 numbers)"
    elif len(dims) == 3 and 3 in (dims[0], dims[-1]):  # channels last (the Keras default) or first
        takes = f"{shape} colour images"
    elif len(dims) == 3 and 1 in (dims[0], dims[-1]):
        takes = f"{shape} grey images"
    else:
        takes = f"inputs of shape {shape}"
    return f"This model takes {takes}; {mnist}, so it cannot be evaluated on MNIST. {STILL_WORKS}"


@dataclass(frozen=True)
class InputLayout:
    feature_shape: tuple[int, ...]  # per-sample shape to feed
    fixed_batch: int | None  # the model's fixed batch size, if it has one
    channels_first: bool = False  # (h, w, c) images fed as (c, h, w)
    sequence_length: int | None = None  # token sequences padded or cut to this length
    dtype: str = "float32"  # what the forward pass is fed: float32, or int32 token ids

    def describe(self) -> str:
        shape = "x".join(str(d) for d in self.feature_shape)
        fixed = f", fixed batch {self.fixed_batch}" if self.fixed_batch else ""
        return f"{shape}{fixed}"


def layout_for(input_shape: tuple | None) -> InputLayout:
    """The per-sample layout MNIST must take for a model with ``input_shape`` (batch included)."""
    if input_shape is None:
        raise EvaluationUnavailable(f"The model's input shape is unknown, so MNIST cannot be fed to it. {STILL_WORKS}")
    batch, *features = input_shape
    fixed = int(batch) if batch is not None else None
    dims = [None if d is None else int(d) for d in features]
    if len(dims) == 1 and dims[0] in (784, None):
        return InputLayout((784,), fixed)
    if len(dims) == 2 and all(d in (28, None) for d in dims):
        return InputLayout((28, 28), fixed)
    if len(dims) == 3 and all(d in (28, None) for d in dims[:2]) and dims[2] == 1:
        return InputLayout((28, 28, 1), fixed)
    if len(dims) == 3 and dims[0] == 1 and all(d in (28, None) for d in dims[1:]):
        return InputLayout((1, 28, 28), fixed)
    raise EvaluationUnavailable(cannot_feed_mnist(dims))


def evaluation_problem(input_shape: tuple | None, output_shape: tuple | None = None) -> str | None:
    """Why a model with ``input_shape`` and ``output_shape`` (batch included; None if unknown) cannot
    be evaluated on MNIST: it cannot be fed MNIST, or it does not give 10 class scores; None if it can."""
    try:
        layout_for(input_shape)
    except EvaluationUnavailable as exc:
        return str(exc)
    if output_shape is not None and len(output_shape) == 2 and output_shape[1] not in (None, NUM_CLASSES):
        return wrong_class_count(int(output_shape[1]))
    return None


def preprocess(images: np.ndarray, mode: str, stats: tuple | None = None) -> np.ndarray:
    """uint8 (n, ...) images -> float32 of the same shape in the given scale (``stats``: the
    (mean, std) per channel ``standard`` uses, from ``channel_stats``)."""
    x = images.astype(np.float32)
    if mode == "scale":
        return x / 255.0
    if mode in ("raw", "none"):
        return x
    if mode == "signed":
        return x / 127.5 - 1.0
    if mode == "standard":
        mean, std = stats if stats is not None else channel_stats(images)
        return (x - mean) / std
    if mode == "image_standard":  # tf.image.per_image_standardization: the std floored at 1/sqrt(numbers)
        flat = x.reshape(len(x), -1).astype(np.float64)
        mean = flat.mean(axis=1, keepdims=True)
        std = np.maximum(flat.std(axis=1, keepdims=True), 1.0 / np.sqrt(max(flat.shape[1], 1)))
        return ((flat - mean) / std).astype(np.float32).reshape(x.shape)
    if mode == "caffe":
        if x.ndim != 4 or x.shape[-1] != 3:
            raise ValueError("caffe-style scaling needs colour (n, h, w, 3) images")
        return x[..., ::-1] - CAFFE_MEAN_BGR
    if mode == "l2":
        flat = x.reshape(len(x), -1)
        norms = np.linalg.norm(flat, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return (flat / norms).reshape(x.shape)
    raise ValueError(f"preprocessing must be one of {', '.join(PREPROCESSING)}, not {mode!r}")


def channel_stats(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of (n, h, w, c) images (one for grey), float32."""
    sample = np.asarray(images[:10_000], np.float64)
    axes = tuple(range(sample.ndim - 1)) if sample.ndim == 4 else None
    mean, std = sample.mean(axis=axes), sample.std(axis=axes)
    return np.asarray(mean, np.float32), np.asarray(np.maximum(std, 1e-6), np.float32)


def arrange(x: np.ndarray, layout: InputLayout) -> np.ndarray:
    if layout.channels_first and x.ndim == 4:
        x = x.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x.reshape((len(x),) + layout.feature_shape), dtype=layout.dtype)


def pixel_rows_problem(layers: list, input_shape: tuple | None, name: str) -> str | None:
    """Why the rows of prunable layer ``name``'s matrix are not the 784 pixels of a 28x28 MNIST
    image (row i is pixel divmod(i, 28)), or None when they are: it is the first of ``layers``, each
    of its units sees a whole image (a Dense layer fed 784 inputs, or a 28x28x1 convolution), and
    the model, whose input shape is ``input_shape``, takes MNIST images."""
    layer = next((layer for layer in layers if layer.name == name), None)
    if layer is None:
        return f"No prunable layer named {name}."
    if layers[0].name != name:
        return f"{name} is not the first layer: its units see the outputs of other units, not pixels."
    if layer.fan_in != 28 * 28 or not (layer.kind == "Dense" or layer.shape[:-1] == (28, 28, 1)):
        return (
            f"{name} is a {layer.kind} layer with {layer.fan_in:,} inputs per unit "
            f"({layer.matrix_label}); its units do not each see a whole 28x28 image."
        )
    try:
        layout_for(input_shape)
    except EvaluationUnavailable as exc:
        return f"The model does not take 28x28 MNIST images: {exc}"
    return None


def layer_seeing_pixels(layers: list, input_shape: tuple | None) -> str | None:
    """The name of the layer whose matrix rows are an MNIST image's pixels (``pixel_rows_problem``), or None."""
    if layers and pixel_rows_problem(layers, input_shape, layers[0].name) is None:
        return layers[0].name
    return None


# -- data other than MNIST ---------------------------------------------------------------------


def _dims(input_shape: tuple) -> tuple[int | None, list[int | None]]:
    batch, *features = input_shape
    return (int(batch) if batch is not None else None), [None if d is None else int(d) for d in features]


def embedding_vocabulary(loaded) -> int | None:
    """The input size of the model's first Embedding layer (its vocabulary), or None without one."""
    model = getattr(loaded, "keras_model", None)
    if model is None:
        return None
    import keras

    stack = list(getattr(model, "layers", []))
    while stack:
        layer = stack.pop(0)
        if isinstance(layer, keras.layers.Embedding):
            return int(layer.input_dim)
        stack[:0] = list(getattr(layer, "layers", []))
    return None


def fit_for(loaded):
    """What ``loaded`` takes, as a ``core.data.DataFit``: image size and colour mode, sequence length
    and vocabulary, or how many numbers."""
    from prune_viz.core.data import DataFit

    shape = loaded.input_shape
    if shape is None:
        return DataFit()
    _fixed, dims = _dims(shape)
    vocabulary = embedding_vocabulary(loaded)
    features = int(np.prod(dims)) if dims and all(d is not None for d in dims) else None
    if vocabulary:
        return DataFit(sequence_length=dims[0] if len(dims) == 1 else None, vocabulary=vocabulary, features=features)
    size, channels = None, None
    if len(dims) == 2:
        size, channels = (dims[0], dims[1]), 1
    elif len(dims) == 3 and dims[-1] in (1, 3):
        size, channels = (dims[0], dims[1]), dims[-1]
    elif len(dims) == 3 and dims[0] in (1, 3):
        size, channels = (dims[1], dims[2]), dims[0]
    if size is not None and None in size:
        size = None
    return DataFit(image_size=size, channels=channels, features=features)


def _theirs(data) -> str:
    """What ``data``'s samples are, in words: '32x32x3 colour images', 'token sequences', 'rows of 8 numbers'."""
    if data.kind == "tokens":
        return "token sequences"
    shape = data.x_test.shape[1:]
    text = "x".join(str(d) for d in shape)
    if data.kind == "images" and len(shape) == 2:
        return f"{text} grey images"
    if data.kind == "images" and len(shape) == 3:
        return f"{text} {'grey' if shape[-1] == 1 else 'colour'} images"
    if len(shape) == 1:
        return f"rows of {shape[0]:,} numbers"
    return f"arrays of shape {text}"


def cannot_feed(dims: list[int | None], data) -> str:
    """The one sentence for a model whose per-sample input ``dims`` ``data`` cannot fill."""
    if data.is_mnist:
        return cannot_feed_mnist(dims)
    shape = "x".join("?" if d is None else str(d) for d in dims)
    if len(dims) == 1:
        takes = f"vectors of {dims[0]:,} numbers" if dims[0] else "sequences"
    elif len(dims) == 3 and 3 in (dims[0], dims[-1]):
        takes = f"{shape} colour images"
    elif len(dims) == 3 and 1 in (dims[0], dims[-1]):
        takes = f"{shape} grey images"
    else:
        takes = f"inputs of shape {shape}"
    theirs = _theirs(data)
    return f"This model takes {takes}; {data.name}'s are {theirs}, so it cannot be evaluated on them. {STILL_WORKS}"


def _fits(sample: tuple, dims: list) -> bool:
    return len(sample) == len(dims) and all(d is None or d == s for s, d in zip(sample, dims))


def layout_for_data(input_shape: tuple | None, data, vocabulary: int | None = None) -> InputLayout:
    """How ``data``'s samples are fed to a model with ``input_shape`` (batch included): MNIST as
    ``layout_for`` does; otherwise the model's shape exactly, or the same numbers with a channel axis of
    1 added or dropped, channels first, or flattened; token sequences padded or cut to its length."""
    if data.is_mnist:
        return layout_for(input_shape)
    if input_shape is None:
        raise EvaluationUnavailable(
            f"The model's input shape is unknown, so {data.name} cannot be fed to it. {STILL_WORKS}"
        )
    fixed, dims = _dims(input_shape)
    x = data.x_test
    if data.kind == "tokens" or (vocabulary and x.ndim == 2 and np.issubdtype(x.dtype, np.integer)):
        if len(dims) != 1:
            raise EvaluationUnavailable(cannot_feed(dims, data))
        length = dims[0] or (max(len(s) for s in x) if x.dtype == object else x.shape[1])
        return InputLayout((length,), fixed, sequence_length=length, dtype="int32" if vocabulary else "float32")
    sample = tuple(int(d) for d in x.shape[1:])
    if _fits(sample, dims):
        return InputLayout(sample, fixed)
    if len(sample) == 2 and len(dims) == 3 and dims[-1] == 1 and _fits(sample, dims[:2]):
        return InputLayout(sample + (1,), fixed)
    if len(sample) == 2 and len(dims) == 3 and dims[0] == 1 and _fits(sample, dims[1:]):
        return InputLayout((1,) + sample, fixed)
    if len(sample) == 3 and sample[-1] == 1 and _fits(sample[:2], dims):
        return InputLayout(sample[:2], fixed)
    if len(sample) == 3 and _fits((sample[2], sample[0], sample[1]), dims):
        return InputLayout((sample[2], sample[0], sample[1]), fixed, channels_first=True)
    if len(dims) == 1 and dims[0] in (int(np.prod(sample)), None):
        return InputLayout((int(np.prod(sample)),), fixed)
    raise EvaluationUnavailable(cannot_feed(dims, data))


def conform(x: np.ndarray, layout: InputLayout) -> np.ndarray:
    """Samples as the layout takes them before scaling: token sequences padded or cut at the front."""
    if layout.sequence_length is None:
        return x
    import keras

    sequences = list(x) if x.dtype == object else x
    return keras.utils.pad_sequences(sequences, maxlen=layout.sequence_length, dtype="int32", padding="pre")


def class_count_problem(outputs: int, data) -> str | None:
    """The one sentence when a classifier with ``outputs`` class scores cannot be scored on ``data``'s labels."""
    if data.is_mnist:
        return wrong_class_count(outputs) if outputs != NUM_CLASSES else None
    y = data.y_test
    if not isinstance(y, np.ndarray) or y.ndim != 1 or not len(y) or not np.issubdtype(y.dtype, np.integer):
        return None
    if outputs > 1 and (int(y.max()) >= outputs or int(y.min()) < 0):
        classes = len(data.class_names) if data.class_names else int(y.max()) + 1
        return (
            f"The model has {outputs:,} outputs but {data.name} has {classes:,} classes "
            f"(labels {int(y.min())} to {int(y.max())}), so its answers cannot be scored against them. {STILL_WORKS}"
        )
    return None


def data_problem(loaded, data) -> str | None:
    """Why ``loaded`` cannot be evaluated on ``data`` as far as shapes tell before running: its input
    cannot be filled, or its one output's class count does not match the labels; None if it can."""
    try:
        layout_for_data(loaded.input_shape, data, embedding_vocabulary(loaded))
    except EvaluationUnavailable as exc:
        return str(exc)
    output = loaded.output_shape
    if output is not None and len(output) == 2 and output[1] is not None and data.has_labels:
        if data.is_mnist or int(output[1]) > 1:
            return class_count_problem(int(output[1]), data)
    return None
