"""Custom Keras 3 layers for the checkpoints plain Keras 3 cannot rebuild (tests/core/kind_models.py).

Never imported by the test process: kind_models copies this file next to the checkpoints as
``custom_layers.py``, a subprocess imports it to save them, and a test passes the copy as
``--custom-objects FILE.py``.
"""

import keras


@keras.saving.register_keras_serializable(package="kind_models")
class HeadMixer(keras.layers.Layer):
    """A Dense projection into ``heads`` groups of ``units``, mixed by a custom rank-3 weight
    ``mix`` of shape (heads, units, units) and summed over the heads."""

    def __init__(self, units, heads=2, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.heads = heads
        self.proj = keras.layers.Dense(units * heads, name="proj")

    def build(self, input_shape):
        self.proj.build(input_shape)
        self.mix = self.add_weight(name="mix", shape=(self.heads, self.units, self.units), initializer="glorot_uniform")

    def call(self, inputs):
        projected = keras.ops.reshape(self.proj(inputs), (-1, self.heads, self.units))
        return keras.ops.einsum("bhu,huv->bv", projected, self.mix)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "heads": self.heads}


@keras.saving.register_keras_serializable(package="kind_models")
class TransformerBlock(keras.layers.Layer):
    """A post-norm transformer encoder block: self-attention and a feed-forward net, each with a
    residual connection and a LayerNormalization."""

    def __init__(self, dim, heads=2, hidden=32, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim
        self.heads = heads
        self.hidden = hidden
        self.attention = keras.layers.MultiHeadAttention(heads, dim // heads, name="attention")
        self.norm1 = keras.layers.LayerNormalization(name="norm1")
        self.ff1 = keras.layers.Dense(hidden, activation="relu", name="ff1")
        self.ff2 = keras.layers.Dense(dim, name="ff2")
        self.norm2 = keras.layers.LayerNormalization(name="norm2")

    def build(self, input_shape):
        self.attention.build(input_shape, input_shape)
        self.norm1.build(input_shape)
        self.ff1.build(input_shape)
        self.ff2.build((*input_shape[:-1], self.hidden))
        self.norm2.build(input_shape)

    def call(self, inputs):
        x = self.norm1(inputs + self.attention(inputs, inputs))
        return self.norm2(x + self.ff2(self.ff1(x)))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "heads": self.heads, "hidden": self.hidden}
