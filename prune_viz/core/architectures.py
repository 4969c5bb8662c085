"""The MNIST networks prune-viz can train: fc-1000 and Han et al. (2015)'s LeNet-300-100 and LeNet-5.

fc-1000 is 784-1000-1000-500-200-10 with ReLU, no biases and a softmax output.
LeNet-300-100 is 784-300-100-10 (ReLU, biases, softmax).
LeNet-5 follows the Caffe ``lenet_train_test.prototxt`` that Han et al. pruned:
conv 20 5x5 -> maxpool 2 -> conv 50 5x5 -> maxpool 2 -> fc 500 + ReLU -> fc 10;
as in Caffe, the convolutions have no activation of their own.
"""

from __future__ import annotations

ARCHITECTURES = ("fc-1000", "lenet-300-100", "lenet-5")


def input_shape(arch: str) -> tuple[int, ...]:
    """Per-sample input shape: flat 784 for the fully connected nets, 28x28x1 for LeNet-5."""
    _check(arch)
    return (28, 28, 1) if arch == "lenet-5" else (784,)


def build_model(arch: str, l2: float = 0.0):
    """A fresh, uncompiled Keras model; seed Keras (keras.utils.set_random_seed) before calling.

    ``l2`` > 0 adds an L2 penalty on every kernel: weights that see no signal (MNIST's
    always-black border pixels) then decay to zero instead of keeping their random start,
    which makes first-layer unit pictures readable.
    """
    _check(arch)
    import keras
    from keras import layers

    reg = {"kernel_regularizer": keras.regularizers.L2(l2)} if l2 > 0 else {}
    if arch == "fc-1000":
        body = [
            layers.Dense(n, activation="relu", use_bias=False, name=f"fc{i + 1}", **reg)
            for i, n in enumerate((1000, 1000, 500, 200))
        ]
        body.append(layers.Dense(10, activation="softmax", use_bias=False, name="output", **reg))
    elif arch == "lenet-300-100":
        body = [
            layers.Dense(300, activation="relu", name="fc1", **reg),
            layers.Dense(100, activation="relu", name="fc2", **reg),
            layers.Dense(10, activation="softmax", name="output", **reg),
        ]
    else:
        body = [
            layers.Conv2D(20, 5, name="conv1", **reg),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(50, 5, name="conv2", **reg),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dense(500, activation="relu", name="fc1", **reg),
            layers.Dense(10, activation="softmax", name="output", **reg),
        ]
    return keras.Sequential([keras.Input(input_shape(arch)), *body], name=arch.replace("-", "_"))


def _check(arch: str) -> None:
    if arch not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {', '.join(ARCHITECTURES)}, not {arch!r}")
