"""Small data sets in every format a user may have (issue 27), and tiny models trained on them in the test.

``build(folder)`` writes, once per run (conftest's ``own_data`` fixture):

- ``colours.keras``: a CNN on 32x32x3 images, 3 classes (red, green, blue blotches on noise), trained
  on /255 inputs; its data as ``colours.npz`` (x_test/y_test, x_train/y_train, class_names), as a
  PNG folder ``colours-png/{test,train}/<class>/`` at 40x40 (resized on reading) and as a JPEG folder
  ``colours-jpeg/<class>/`` (no split); ``colours-unlabelled.npz`` holds x alone;
- ``tokens.keras``: an Embedding model (vocabulary 50, 20 tokens) telling whether token 7 occurs;
  ``tokens.npz`` its sequences (30 long: cut to 20 on reading);
- ``table.keras``: a one-sigmoid model on 4 numbers; ``table.csv`` (header, the label column named
  ``target`` in the middle);
- ``regression.keras`` (4 numbers -> 1) and ``regression.npz`` (x/y);
- ``two_heads.keras``: a class head (3) and a number head (1) on 4 numbers; ``two_heads.npz`` with
  y_test_0/y_test_1;
- ``generator.keras``: 8 numbers -> an 8x8 image (no labels possible); ``latent.npz`` x alone;
- ``image_generator.keras``: a latent of 16 numbers -> Dense -> Reshape -> Conv2DTranspose -> a 32x32x3
  colour image (a blob whose colour and place the latent sets, trained briefly); ``noise.npz`` x alone
  (normal noise, as a generator is fed);
- ``keras_home/datasets``: a fake Keras cache in the layout keras.datasets leaves: fashion-mnist IDX
  files, cifar-10-batches-py pickles, imdb.npz of ragged word ranks.
"""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np

CLASSES = ("blue", "green", "red")  # sorted, as a folder listing gives them; label i is CLASSES[i]
CHANNEL = {"blue": 2, "green": 1, "red": 0}


def colour_images(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.integers(0, 90, (n, size, size, 3)).astype(np.int64)
    for i, label in enumerate(y):
        r0, c0 = rng.integers(0, size // 2, 2)
        x[i, r0 : r0 + size // 2, c0 : c0 + size // 2, CHANNEL[CLASSES[label]]] += 160
    return np.clip(x, 0, 255).astype(np.uint8), y.astype(np.int64)


def _save(model, path: Path) -> None:
    model.save(path)


def _fit(model, x, y, loss: str, epochs: int = 8) -> None:
    model.compile(optimizer="adam", loss=loss)
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0, shuffle=True)


def build_colours(folder: Path) -> None:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(1)
    x_train, y_train = colour_images(300, 32, 1)
    x_test, y_test = colour_images(90, 32, 2)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(8, 3, activation="relu", name="conv"),
            keras.layers.GlobalMaxPooling2D(),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(3, activation="softmax", name="output"),
        ]
    )
    _fit(model, x_train / 255.0, y_train, "sparse_categorical_crossentropy", epochs=15)
    _save(model, folder / "colours.keras")
    np.savez(
        folder / "colours.npz",
        x_test=x_test,
        y_test=y_test,
        x_train=x_train,
        y_train=y_train,
        class_names=np.array(CLASSES),
    )
    np.savez(folder / "colours-unlabelled.npz", x=x_test)
    # 40x40 files: read back resized to the model's 32x32
    big_test = tf.image.resize(x_test, (40, 40)).numpy().round().clip(0, 255).astype(np.uint8)
    big_train = tf.image.resize(x_train[:60], (40, 40)).numpy().round().clip(0, 255).astype(np.uint8)
    for split, xs, ys in (("test", big_test, y_test), ("train", big_train, y_train[:60])):
        for i, (image, label) in enumerate(zip(xs, ys)):
            target = folder / "colours-png" / split / CLASSES[label] / f"{i:03d}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(tf.io.encode_png(image).numpy())
    for i, (image, label) in enumerate(zip(x_test, y_test)):
        target = folder / "colours-jpeg" / CLASSES[label] / f"{i:03d}.jpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(tf.io.encode_jpeg(image, quality=95).numpy())


def token_data(n: int, length: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(8, 50, (n, length))
    y = rng.integers(0, 2, n)
    for i in np.flatnonzero(y):
        x[i, rng.integers(length - 20, length, 2)] = 7  # in the last 20: cutting at the front keeps it
    return x.astype(np.int32), y.astype(np.int64)


def build_tokens(folder: Path) -> None:
    import keras

    keras.utils.set_random_seed(2)
    x_train, y_train = token_data(400, 20, 3)
    x_test, y_test = token_data(100, 30, 4)
    model = keras.Sequential(
        [
            keras.Input((20,), dtype="int32"),
            keras.layers.Embedding(50, 8, name="embedding"),
            keras.layers.GlobalMaxPooling1D(),
            keras.layers.Dense(8, activation="relu", name="hidden"),
            keras.layers.Dense(2, name="logits"),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=keras.losses.SparseCategoricalCrossentropy(True))
    model.fit(x_train, y_train, epochs=15, batch_size=32, verbose=0)
    _save(model, folder / "tokens.keras")
    np.savez(folder / "tokens.npz", x_test=x_test, y_test=y_test, x_train=x_train, y_train=y_train)


def table_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    return x, (x[:, 0] + x[:, 1] > 0).astype(np.int64)


def build_table(folder: Path) -> None:
    import keras

    keras.utils.set_random_seed(3)
    x, y = table_data(400, 5)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu", name="hidden"),
            keras.layers.Dense(1, activation="sigmoid", name="output"),
        ]
    )
    _fit(model, x, y, "binary_crossentropy", epochs=20)
    _save(model, folder / "table.keras")
    x_test, y_test = table_data(80, 6)
    lines = ["a,b,target,c,d"] + [
        f"{r[0]:.5f},{r[1]:.5f},{label},{r[2]:.5f},{r[3]:.5f}" for r, label in zip(x_test, y_test)
    ]
    (folder / "table.csv").write_text("\n".join(lines) + "\n")


def build_regression_and_heads(folder: Path) -> None:
    import keras

    keras.utils.set_random_seed(4)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(400, 4)).astype(np.float32)
    target = (2 * x[:, 0] - x[:, 2] + 0.1 * rng.normal(size=400)).astype(np.float32)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu", name="hidden"), keras.layers.Dense(1, name="out")]
    )
    _fit(model, x[:300], target[:300], "mse", epochs=40)
    _save(model, folder / "regression.keras")
    np.savez(folder / "regression.npz", x=x[300:], y=target[300:])

    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(8, activation="relu", name="shared")(inputs)
    classes = keras.layers.Dense(3, activation="softmax", name="kind")(hidden)
    number = keras.layers.Dense(1, name="amount")(hidden)
    heads = keras.Model(inputs, [classes, number])
    kind = np.digitize(x[:, 1], [-0.5, 0.5])
    heads.compile(optimizer="adam", loss=["sparse_categorical_crossentropy", "mse"])
    heads.fit(x[:300], [kind[:300], target[:300]], epochs=30, batch_size=32, verbose=0)
    _save(heads, folder / "two_heads.keras")
    np.savez(folder / "two_heads.npz", x_test=x[300:], y_test_0=kind[300:], y_test_1=target[300:])

    generator = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, activation="relu", name="g1"),
            keras.layers.Dense(64, activation="tanh", name="g2"),
            keras.layers.Reshape((8, 8, 1)),
        ]
    )
    _save(generator, folder / "generator.keras")
    np.savez(folder / "latent.npz", x=rng.normal(size=(50, 8)).astype(np.float32))


LATENT = 16


def blob_targets(z: np.ndarray) -> np.ndarray:
    """What the image generator learns to draw for latents ``z``: on grey, a blob of the colour the
    largest of z[:3] names, placed by z[3:5]."""
    images = np.full((len(z), 32, 32, 3), 0.25, np.float32)
    rows, cols = np.mgrid[0:32, 0:32]
    for image, latent in zip(images, z):
        r, c = 16 + 7 * np.tanh(latent[3:5])
        blob = np.exp(-((rows - r) ** 2 + (cols - c) ** 2) / 30.0)
        image[..., int(np.argmax(latent[:3]))] += 0.7 * blob
    return np.clip(images, 0, 1)


def build_image_generator(folder: Path) -> None:
    import keras

    keras.utils.set_random_seed(5)
    rng = np.random.default_rng(12)
    z = rng.normal(size=(600, LATENT)).astype(np.float32)
    generator = keras.Sequential(
        [
            keras.Input((LATENT,)),
            keras.layers.Dense(8 * 8 * 12, activation="relu", name="project"),
            keras.layers.Reshape((8, 8, 12)),
            keras.layers.Conv2DTranspose(3, 4, strides=4, padding="same", activation="sigmoid", name="upsample"),
        ]
    )
    generator.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    generator.fit(z, blob_targets(z), epochs=25, batch_size=32, verbose=0)
    _save(generator, folder / "image_generator.keras")
    np.savez(folder / "noise.npz", x=rng.normal(size=(40, LATENT)).astype(np.float32))


def _idx(path: Path, array: np.ndarray) -> None:
    magic = 0x00000803 if array.ndim == 3 else 0x00000801
    header = struct.pack(">II", magic, len(array)) + b"".join(struct.pack(">I", d) for d in array.shape[1:])
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def build_keras_cache(folder: Path) -> None:
    """The files keras.datasets leaves in ~/.keras/datasets, with few samples."""
    datasets = folder / "keras_home" / "datasets"
    fashion = datasets / "fashion-mnist"
    fashion.mkdir(parents=True)
    rng = np.random.default_rng(9)
    for name, n in (("train", 60), ("t10k", 40)):
        _idx(fashion / f"{name}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        _idx(fashion / f"{name}-labels-idx1-ubyte.gz", rng.integers(0, 10, n))
    cifar = datasets / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    cifar.mkdir(parents=True)
    x, y = colour_images(6 * 20, 32, 11)
    flat = x.transpose(0, 3, 1, 2).reshape(len(x), -1)  # CIFAR's rows: 1024 red, 1024 green, 1024 blue
    cifar_labels = np.array([0, 1, 2])[y]  # any of the ten classes will do
    for i, name in enumerate([f"data_batch_{b}" for b in range(1, 6)] + ["test_batch"]):
        part = slice(20 * i, 20 * (i + 1))
        with open(cifar / name, "wb") as f:
            pickle.dump({b"data": flat[part], b"labels": cifar_labels[part].tolist()}, f, protocol=2)
    with open(cifar / "batches.meta", "wb") as f:
        names = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
        pickle.dump({b"label_names": names}, f, protocol=2)
    (datasets / "cifar-10-batches-py-target_archive").write_bytes(b"not checked")
    ranks_train, ranks_test = np.empty(30, dtype=object), np.empty(20, dtype=object)
    for out in (ranks_train, ranks_test):
        for i in range(len(out)):
            out[i] = list(rng.integers(1, 200, rng.integers(5, 40)))  # ragged, as imdb.npz holds them
    np.savez(
        datasets / "imdb.npz",
        x_train=ranks_train,
        y_train=rng.integers(0, 2, 30),
        x_test=ranks_test,
        y_test=rng.integers(0, 2, 20),
    )


def build(folder: Path) -> None:
    build_colours(folder)
    build_tokens(folder)
    build_table(folder)
    build_regression_and_heads(folder)
    build_image_generator(folder)
    build_keras_cache(folder)
    (folder / "done").write_text("ok")
