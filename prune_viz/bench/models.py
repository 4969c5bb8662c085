"""The benchmark's models, built with random weights (timings do not depend on training) and saved as .keras:
MLPs, a VGG, and text models of the layer kinds beyond Dense and Conv (Embedding, LSTM, MultiHeadAttention)."""

from __future__ import annotations

from pathlib import Path

FC1000 = (784, 1000, 1000, 500, 200, 10)  # no biases, as in Han et al.'s fc-1000
LENET_300_100 = (784, 300, 100, 10)  # with biases
QUICK_MLP = (784, 64, 32, 10)
SCALE_LAYERS = (25088, 4096, 4096, 10)  # VGG-16's classifier shape: ~120M weights
QUICK_SCALE_LAYERS = (2048, 1024, 1024, 10)
# A narrow VGG for quick runs: VGG-16's 224x224x3 input, five blocks of 3x3 convolutions (2, 2, 3, 3, 3 of
# them) each closed by a 2x2 max-pool, then two Dense layers and the classifier; fc1 (7*7*16 x 1344, 1.05M
# weights) is just over magnitudes.SORTED_WHOLE, so its weight steps take the bucket path as VGG-16's do
QUICK_VGG_BLOCKS = ((8, 2), (16, 2), (16, 3), (16, 3), (16, 3))
QUICK_VGG_DENSE = (1344, 32)
# Text models of the layer kinds beyond Dense and Conv (issue 26), each about fc-1000's size (2.9M weights,
# most of them in the embedding table): (vocabulary, embedding width, sequence length)
TEXT_INPUT = (20_000, 128, 200)
QUICK_TEXT_INPUT = (2_000, 32, 20)
LSTM_UNITS, QUICK_LSTM_UNITS = 256, 32
# a transformer block: (heads, head width, feed-forward width); the model width is the embedding's
ATTENTION = (8, 32, 512)
QUICK_ATTENTION = (2, 16, 64)


def build_mlp(widths: tuple[int, ...], use_bias: bool, seed: int = 0, name: str = "mlp"):
    """A ReLU MLP with softmax output and random (Glorot) weights."""
    import keras

    keras.utils.set_random_seed(seed)
    body = [
        keras.layers.Dense(w, activation="relu", use_bias=use_bias, name=f"fc{i + 1}")
        for i, w in enumerate(widths[1:-1])
    ]
    body.append(keras.layers.Dense(widths[-1], activation="softmax", use_bias=use_bias, name="output"))
    return keras.Sequential([keras.Input((widths[0],)), *body], name=name)


def save_mlp(path: Path, widths, use_bias: bool, name: str) -> Path:
    build_mlp(widths, use_bias, name=name).save(path)
    return path


def build_vgg(
    blocks=QUICK_VGG_BLOCKS,
    dense=QUICK_VGG_DENSE,
    classes: int = 10,
    input_shape=(224, 224, 3),
    seed: int = 0,
    name: str = "vgg",
):
    """A VGG-shaped CNN with random weights: per (filters, convs) block, ``convs`` 3x3 ReLU
    convolutions and a 2x2 max-pool; then Flatten, ReLU Dense layers and a softmax classifier."""
    import keras

    keras.utils.set_random_seed(seed)
    layers = [keras.Input(input_shape)]
    for b, (filters, convs) in enumerate(blocks, start=1):
        layers += [
            keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"block{b}_conv{c}")
            for c in range(1, convs + 1)
        ]
        layers.append(keras.layers.MaxPooling2D(2, name=f"block{b}_pool"))
    layers.append(keras.layers.Flatten(name="flatten"))
    layers += [keras.layers.Dense(w, activation="relu", name=f"fc{i}") for i, w in enumerate(dense, start=1)]
    layers.append(keras.layers.Dense(classes, activation="softmax", name="predictions"))
    return keras.Sequential(layers, name=name)


def save_vgg16(path: Path, quick: bool = False) -> Path:
    """``keras.applications.VGG16(weights=None)`` (138M random weights) saved as .keras at ``path``;
    with ``quick``, a narrow VGG-shaped stack with the same input (build_vgg)."""
    import keras

    if quick:
        build_vgg().save(path)
    else:
        keras.utils.set_random_seed(0)
        keras.applications.VGG16(weights=None).save(path)
    return path


def save_scale_mlp(path: Path, quick: bool = False) -> Path:
    """The VGG-16-classifier-shaped MLP (SCALE_LAYERS, ~120M weights) saved as .keras at ``path``."""
    return save_mlp(path, QUICK_SCALE_LAYERS if quick else SCALE_LAYERS, False, "scale")


def build_lstm_text(quick: bool = False, seed: int = 0):
    """An IMDB-style sentiment model with random weights: token ids -> Embedding -> LSTM -> Dense(2)."""
    import keras

    vocabulary, width, length = QUICK_TEXT_INPUT if quick else TEXT_INPUT
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((length,), dtype="int32"),
            keras.layers.Embedding(vocabulary, width, name="embedding"),
            keras.layers.LSTM(QUICK_LSTM_UNITS if quick else LSTM_UNITS, name="lstm"),
            keras.layers.Dense(2, activation="softmax", name="output"),
        ],
        name="lstm_text",
    )


def build_transformer(quick: bool = False, seed: int = 0):
    """A text classifier around one transformer block, random weights: token ids -> Embedding ->
    MultiHeadAttention (self-attention, residual, LayerNormalization) -> feed-forward Dense(ff, relu) ->
    Dense(width) (residual, LayerNormalization) -> average over tokens -> Dense(2)."""
    import keras

    vocabulary, width, length = QUICK_TEXT_INPUT if quick else TEXT_INPUT
    heads, head_width, feed_forward = QUICK_ATTENTION if quick else ATTENTION
    keras.utils.set_random_seed(seed)
    layers = keras.layers
    tokens = keras.Input((length,), dtype="int32", name="tokens")
    x = layers.Embedding(vocabulary, width, name="embedding")(tokens)
    attended = layers.MultiHeadAttention(heads, head_width, name="attention")(x, x)
    x = layers.LayerNormalization(name="attention_norm")(layers.Add(name="attention_residual")([x, attended]))
    h = layers.Dense(feed_forward, activation="relu", name="ff_in")(x)
    h = layers.Dense(width, name="ff_out")(h)
    x = layers.LayerNormalization(name="ff_norm")(layers.Add(name="ff_residual")([x, h]))
    x = layers.GlobalAveragePooling1D(name="pool")(x)
    return keras.Model(tokens, layers.Dense(2, activation="softmax", name="output")(x), name="transformer")


def save_lstm_text(path: Path, quick: bool = False) -> Path:
    build_lstm_text(quick).save(path)
    return path


def save_transformer(path: Path, quick: bool = False) -> Path:
    build_transformer(quick).save(path)
    return path


KIND_MODELS = {"lstm-text": save_lstm_text, "transformer": save_transformer}  # label -> its .keras writer
BIG_MODELS = {"scale": save_scale_mlp, "vgg16": save_vgg16}  # section (and key prefix) -> its .keras writer
