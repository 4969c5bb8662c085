"""The Keras built-in data sets by name, read from the Keras cache (``$KERAS_HOME/datasets``, else
``~/.keras/datasets``) in the layout ``keras.datasets`` leaves there, and downloaded through
``keras.datasets`` when they are not cached (and the machine is online).

The cache is read here rather than through ``keras.datasets.*.load_data()``: those check a hash of
the cached file and download again when it differs, which fails offline. Token sequences (imdb,
reuters) get Keras's conventions: 1 starts a sequence, word ids are shifted by 3, and a word id the
model's vocabulary does not hold becomes 2 (out of vocabulary); reuters is split 80/20 after Keras's
seeded shuffle, so its test split is the one ``keras.datasets.reuters.load_data()`` gives.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from prune_viz.core.data_base import (
    DIGITS,
    FASHION_CLASSES,
    FASHION_MNIST,
    MNIST,
    DataError,
    DataFit,
    Dataset,
    MissingData,
    download_failure,
    keras_datasets_folder,
    load_idx_folder,
)

KERAS_DATASETS = ("mnist", "fashion_mnist", "cifar10", "cifar100", "imdb", "reuters")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
IMDB_CLASSES = ("negative", "positive")
TITLES = {
    "mnist": MNIST,
    "fashion_mnist": FASHION_MNIST,
    "cifar10": "CIFAR-10",
    "cifar100": "CIFAR-100",
    "imdb": "IMDB reviews",
    "reuters": "Reuters newswires",
}
START, OOV, INDEX_FROM, SEED = 1, 2, 3, 113


def cached_location(name: str, folder: Path | None = None) -> Path | None:
    """Where ``name`` is in the Keras cache (a file or a folder), or None when it is not there."""
    folder = folder or keras_datasets_folder()
    candidates = {
        "mnist": [folder / "mnist.npz"],
        "fashion_mnist": [folder / "fashion-mnist"],
        "cifar10": [folder / "cifar-10-batches-py-target" / "cifar-10-batches-py", folder / "cifar-10-batches-py"],
        "cifar100": [folder / "cifar-100-python-target" / "cifar-100-python", folder / "cifar-100-python"],
        "imdb": [folder / "imdb.npz"],
        "reuters": [folder / "reuters.npz"],
    }[name]
    return next((p for p in candidates if p.exists()), None)


def load_keras_dataset(
    name: str, *, fit: DataFit | None = None, allow_download: bool = True, need_training: bool = False
) -> Dataset:
    """The Keras data set ``name`` (one of KERAS_DATASETS), from the cache or downloaded."""
    if name not in KERAS_DATASETS:
        raise DataError(f"{name} is not a Keras data set prune-viz reads ({', '.join(KERAS_DATASETS)}).")
    where = cached_location(name)
    if where is not None:
        return _from_cache(name, where, fit)
    reason = "downloading is switched off"
    if allow_download:
        try:
            return _download(name, fit)
        except DataError:
            raise
        except Exception as exc:  # no network, proxy, disk full: all end the same way
            reason = download_failure(exc)
    raise MissingData(
        f"The {TITLES[name]} data set is not in the Keras cache ({keras_datasets_folder()}) "
        f"and could not be downloaded ({reason})."
    )


def _from_cache(name: str, where: Path, fit: DataFit | None) -> Dataset:
    from prune_viz.core.data_files import make_dataset, npz_arrays

    source = f"{where} (Keras cache)"
    if name == "mnist":
        arrays = npz_arrays(where)
        return Dataset(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"], source)
    if name == "fashion_mnist":
        data = load_idx_folder(where)
        return Dataset(data.x_train, data.y_train, data.x_test, data.y_test, source, FASHION_CLASSES, FASHION_MNIST)
    if name in ("cifar10", "cifar100"):
        return _cifar(name, where, source)
    arrays = npz_arrays(where)
    if name == "imdb":
        missing = {"x_train", "y_train", "x_test", "y_test"} - set(arrays)
        if missing:
            raise DataError(f"{where.name} in the Keras cache lacks {', '.join(sorted(missing))}.")
        x_train, x_test = arrays["x_train"], arrays["x_test"]
        y_train, y_test = arrays["y_train"], arrays["y_test"]
        classes = IMDB_CLASSES
    else:
        if not {"x", "y"} <= set(arrays):
            raise DataError(f"{where.name} in the Keras cache lacks x and y.")
        order = np.arange(len(arrays["x"]))
        np.random.RandomState(SEED).shuffle(order)
        xs, ys = arrays["x"][order], arrays["y"][order]
        cut = int(len(xs) * 0.8)
        x_train, y_train, x_test, y_test = xs[:cut], ys[:cut], xs[cut:], ys[cut:]
        classes = reuters_classes(int(np.max(ys)) + 1)
    vocabulary = fit.vocabulary if fit is not None else None
    return make_dataset(
        keras_tokens(x_train, vocabulary),
        np.asarray(y_train, np.int64),
        keras_tokens(x_test, vocabulary),
        np.asarray(y_test, np.int64),
        source=source,
        name=TITLES[name],
        class_names=classes,
        notes=_vocabulary_note(vocabulary),
    )


def _vocabulary_note(vocabulary: int | None) -> tuple[str, ...]:
    if not vocabulary:
        return ()
    return (f"word ids from {vocabulary:,} on read as {OOV} (out of the model's vocabulary)",)


def reuters_classes(count: int) -> tuple[str, ...] | None:
    try:
        import keras

        names = tuple(keras.datasets.reuters.get_label_names())
    except Exception:  # a Keras without the names
        return None
    return names if len(names) == count else None


def keras_tokens(sequences, vocabulary: int | None) -> np.ndarray:
    """Keras's imdb/reuters conventions on raw word ranks: a start token, ids shifted by 3, and ids
    outside the vocabulary read as the out-of-vocabulary id 2; an object array of int32 arrays."""
    out = np.empty(len(sequences), dtype=object)
    for i, sequence in enumerate(sequences):
        ids = np.concatenate([[START], np.asarray(sequence, np.int64) + INDEX_FROM]).astype(np.int32)
        if vocabulary:
            ids[ids >= vocabulary] = OOV
        out[i] = ids
    return out


def _cifar(name: str, where: Path, source: str) -> Dataset:
    from prune_viz.core.data_files import safe_unpickle

    def batch(path: Path, label_key: bytes):
        try:
            with open(path, "rb") as f:
                content = safe_unpickle(f, encoding="bytes")
        except FileNotFoundError as exc:
            raise DataError(f"The Keras cache's {where.name} folder lacks {path.name}.") from exc
        except Exception as exc:
            raise DataError(f"Cannot read {path.name} in the Keras cache: {exc}.") from exc
        images = np.asarray(content[b"data"], np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        return np.ascontiguousarray(images), np.asarray(content[label_key], np.int64)

    if name == "cifar10":
        found = [where / f"data_batch_{i}" for i in range(1, 6) if (where / f"data_batch_{i}").exists()]
        parts = [batch(path, b"labels") for path in found]
        x_test, y_test = batch(where / "test_batch", b"labels")
        meta, meta_key, classes = where / "batches.meta", b"label_names", CIFAR10_CLASSES
    else:
        parts = [batch(where / "train", b"fine_labels")] if (where / "train").exists() else []
        x_test, y_test = batch(where / "test", b"fine_labels")
        meta, meta_key, classes = where / "meta", b"fine_label_names", None
    if meta.exists():
        try:
            with open(meta, "rb") as f:
                names = safe_unpickle(f, encoding="bytes")[meta_key]
            classes = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
        except Exception:  # the names are a nicety: a damaged meta file leaves the defaults
            pass
    x_train = np.concatenate([p[0] for p in parts]) if parts else x_test[:0]
    y_train = np.concatenate([p[1] for p in parts]) if parts else None
    return Dataset(x_train, y_train, x_test, y_test, source, classes, TITLES[name])


def _download(name: str, fit: DataFit | None) -> Dataset:
    """Through ``keras.datasets`` (which caches what it downloads for next time)."""
    import keras

    module = getattr(keras.datasets, name)
    source = f"keras.datasets.{name}"
    if name in ("imdb", "reuters"):
        vocabulary = fit.vocabulary if fit is not None else None
        (x_train, y_train), (x_test, y_test) = module.load_data(num_words=vocabulary)
        classes = IMDB_CLASSES if name == "imdb" else reuters_classes(int(np.max(y_train)) + 1)
        as_ids = [np.empty(len(x), dtype=object) for x in (x_train, x_test)]
        for out, sequences in zip(as_ids, (x_train, x_test)):
            for i, s in enumerate(sequences):
                out[i] = np.asarray(s, np.int32)
        return Dataset(
            as_ids[0], np.asarray(y_train, np.int64), as_ids[1], np.asarray(y_test, np.int64), source, classes,
            TITLES[name], "tokens", notes=_vocabulary_note(vocabulary),
        )  # fmt: skip
    (x_train, y_train), (x_test, y_test) = module.load_data()
    y_train, y_test = np.asarray(y_train).reshape(-1), np.asarray(y_test).reshape(-1)
    classes = {"mnist": DIGITS, "fashion_mnist": FASHION_CLASSES, "cifar10": CIFAR10_CLASSES}.get(name)
    return Dataset(x_train, y_train, x_test, y_test, source, classes, TITLES[name])
