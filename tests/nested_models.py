"""A model with nested models as layers, for the activations and filters tests (core and window)."""

from __future__ import annotations


def nested_model(seed: int):
    """A Functional model calling a Functional backbone (a Conv2D "bconv" in model "bb") and a Sequential block
    ("iconv" Conv2D, "ibn" BatchNorm, "irelu" ReLU in model "block") as layers, then MaxPool, Flatten and
    Dense(10, softmax) "out", on 28x28x1 inputs; untrained, seeded."""
    import keras

    keras.utils.set_random_seed(seed)
    L = keras.layers
    backbone_input = keras.Input((28, 28, 1))
    backbone = keras.Model(backbone_input, L.Conv2D(4, 3, activation="relu", name="bconv")(backbone_input), name="bb")
    block = keras.Sequential(
        [
            keras.Input((26, 26, 4)),
            L.Conv2D(6, 3, name="iconv"),
            L.BatchNormalization(name="ibn"),
            L.ReLU(name="irelu"),
        ],
        name="block",
    )
    x = keras.Input((28, 28, 1))
    h = L.Flatten(name="flat")(L.MaxPooling2D(4, name="pool")(block(backbone(x))))
    return keras.Model(x, L.Dense(10, activation="softmax", name="out")(h))
