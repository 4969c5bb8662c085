"""Feed MNIST to a model in the shape and scale it expects.

Shapes handled: (28, 28), (784,), (28, 28, 1), (1, 28, 28), with a free or a
fixed batch size, and free spatial dimensions. Preprocessing: ``scale`` (/255),
``raw`` (0-255), ``l2`` (per-sample L2 normalisation of the flattened image, as
``keras.utils.normalize(x, axis=1)`` does for a 784-vector), or ``auto``, which
tries each on a sample of the test set with the original weights and keeps the best.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prune_viz.core.errors import UserError

PREPROCESSING = ("auto", "scale", "raw", "l2")
PREPROCESSING_LABELS = {
    "scale": "scaled to [0, 1] (x/255)",
    "raw": "raw pixels 0-255",
    "l2": "per-image L2-normalised",
}


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


def preprocess(images: np.ndarray, mode: str) -> np.ndarray:
    """uint8 (n, 28, 28) images -> float32 (n, 28, 28) in the given scale."""
    x = images.astype(np.float32)
    if mode == "scale":
        return x / 255.0
    if mode == "raw":
        return x
    if mode == "l2":
        flat = x.reshape(len(x), -1)
        norms = np.linalg.norm(flat, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return (flat / norms).reshape(x.shape)
    raise ValueError(f"preprocessing must be one of {', '.join(PREPROCESSING)}, not {mode!r}")


def arrange(x: np.ndarray, layout: InputLayout) -> np.ndarray:
    return np.ascontiguousarray(x.reshape((len(x),) + layout.feature_shape))


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
