"""A Dense chain's weights read out of a Keras model, and run as bare NumPy and TensorFlow matmuls: the
dense FLOP floors."""

from __future__ import annotations

import numpy as np


def numpy_forward(weights: list[tuple[np.ndarray, np.ndarray | None]], x: np.ndarray, batch: int) -> np.ndarray:
    """The dense FLOP floor: the same matmul chain in NumPy float32, ReLU between layers."""
    outputs = []
    for start in range(0, len(x), batch):
        h = x[start : start + batch]
        for i, (kernel, bias) in enumerate(weights):
            h = h @ kernel
            if bias is not None:
                h += bias
            if i < len(weights) - 1:
                np.maximum(h, 0, out=h)
        outputs.append(h)
    return np.concatenate(outputs)


def dense_weights(keras_model) -> list[tuple[np.ndarray, np.ndarray | None]]:
    out = []
    for layer in keras_model.layers:
        if getattr(layer, "kernel", None) is None:
            continue
        bias = layer.bias.numpy() if getattr(layer, "bias", None) is not None else None
        out.append((np.ascontiguousarray(layer.kernel.numpy(), dtype=np.float32), bias))
    return out


def tf_chain(tf, weights, batch: int, softmax: bool = False):
    variables = [
        (tf.constant(k), tf.constant(b if b is not None else np.zeros(k.shape[1], np.float32))) for k, b in weights
    ]

    @tf.function(input_signature=[tf.TensorSpec((batch, weights[0][0].shape[0]), tf.float32)])
    def forward(x):
        h = x
        for i, (k, b) in enumerate(variables):
            h = tf.matmul(h, k) + b
            if i < len(variables) - 1:
                h = tf.nn.relu(h)
        return tf.nn.softmax(h) if softmax else h

    return forward
