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


def build_model(arch: str):
    """A fresh, uncompiled Keras model; seed Keras (keras.utils.set_random_seed) before calling."""
    _check(arch)
    import keras
    from keras import layers

    if arch == "fc-1000":
        body = [layers.Dense(n, activation="relu", use_bias=False, name=f"fc{i + 1}")
                for i, n in enumerate((1000, 1000, 500, 200))]
        body.append(layers.Dense(10, activation="softmax", use_bias=False, name="output"))
    elif arch == "lenet-300-100":
        body = [
            layers.Dense(300, activation="relu", name="fc1"),
            layers.Dense(100, activation="relu", name="fc2"),
            layers.Dense(10, activation="softmax", name="output"),
        ]
    else:
        body = [
            layers.Conv2D(20, 5, name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(50, 5, name="conv2"),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dense(500, activation="relu", name="fc1"),
            layers.Dense(10, activation="softmax", name="output"),
        ]
    return keras.Sequential([keras.Input(input_shape(arch)), *body], name=arch.replace("-", "_"))


def _check(arch: str) -> None:
    if arch not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {', '.join(ARCHITECTURES)}, not {arch!r}")
