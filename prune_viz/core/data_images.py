"""A folder of images with one sub-folder per class (the ``keras.utils.image_dataset_from_directory``
convention), ``test/`` and ``train/`` inside it recognised; a folder of images without sub-folders
is data without labels.

PNG, JPEG, GIF and BMP files are decoded by TensorFlow (``tf.io.decode_image``), converted to the
model's colour mode and resized (bilinear, as ``image_dataset_from_directory`` does) to its input
size, then kept as uint8. A folder is decoded once per (model size, colour mode) and kept for the
session: a second evaluation, sweep or model of the same size reads the cache.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from pathlib import Path

import numpy as np

from prune_viz.core.data_base import DataError, DataFit, Dataset
from prune_viz.core.errors import clipped_words
from prune_viz.core.tasks import TaskState, quiet

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp")
SPLITS = ("test", "train")
CACHE_SIZE = 2  # folders kept decoded (each at one size and colour mode)
_cache: OrderedDict[tuple, Dataset] = OrderedDict()


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError as exc:
        raise DataError(f"Cannot list the folder {folder}: {exc.strerror or exc}.") from exc


def is_image_folder(folder: Path) -> bool:
    """Whether ``folder`` holds images, directly or in sub-folders."""
    try:
        return any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.rglob("*"))
    except OSError:
        return False


def _split_roots(folder: Path) -> tuple[Path, Path | None]:
    """The folder the test images are in, and the training folder when there is one."""
    names = {p.name.lower(): p for p in _subfolders(folder)}
    if "test" in names:
        return names["test"], names.get("train")
    if "train" in names and len(names) == 1:
        raise DataError(f"{folder.name} has a train/ folder but no test/ folder to evaluate on.")
    return folder, None


def _listing(root: Path) -> tuple[list[Path], np.ndarray | None, tuple[str, ...] | None]:
    """Files, labels and class names of a split: one sub-folder per class, or images alone (no labels)."""
    classes = [p for p in _subfolders(root) if _images_in(p)]
    if not classes:
        files = _images_in(root)
        if not files:
            raise DataError(f"{root} holds no PNG, JPEG, GIF or BMP images.")
        return files, None, None
    loose = [p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    if loose:
        raise DataError(
            f"{root.name} holds images beside its class folders (e.g. {loose[0].name}); "
            "put every image in its class's folder."
        )
    files, labels = [], []
    for index, folder in enumerate(classes):
        found = _images_in(folder)
        files += found
        labels += [index] * len(found)
    return files, np.array(labels, np.int64), tuple(p.name for p in classes)


PROGRESS_EVERY = 64  # images decoded between progress reports (and Cancel checks)


def _decode(files: list[Path], size: tuple[int, int] | None, channels: int, name: str, task: TaskState):
    """uint8 (n, h, w, channels) images; ``size`` None: every image must have the same size. Cancel
    (``task``) is honoured between images."""
    import tensorflow as tf

    out = None
    sizes = set()
    for i, path in enumerate(files):
        if i % PROGRESS_EVERY == 0:
            task.progress(i / len(files), f"Decoding images: {i:,} / {len(files):,}")
        try:
            image = tf.io.decode_image(path.read_bytes(), channels=channels, expand_animations=False)
        except (OSError, tf.errors.InvalidArgumentError) as exc:
            raise DataError(f"Cannot decode {path.name} in {name}: {clipped_words(exc, 100)}.") from exc
        sizes.add(tuple(int(d) for d in image.shape[:2]))
        if size is None:
            size = tuple(int(d) for d in image.shape[:2])
        if tuple(image.shape[:2]) != size:
            image = tf.image.resize(image, size, method="bilinear")
            image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
        if out is None:
            out = np.empty((len(files), *size, channels), np.uint8)
        out[i] = image.numpy()
    return out, sizes


def _channels(files: list[Path], fit: DataFit | None) -> int:
    """The model's colour mode, else the first image's (grey or colour)."""
    if fit is not None and fit.channels in (1, 3):
        return fit.channels
    import tensorflow as tf

    first = tf.io.decode_image(files[0].read_bytes(), expand_animations=False)
    return 1 if int(first.shape[-1]) in (1, 2) else 3


def _stamp(folder: Path) -> tuple:
    """Changes when a file is added, removed or replaced in the folder's tree (the cache's freshness)."""
    return tuple((str(p), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*")) if p.is_dir()) + (
        folder.stat().st_mtime_ns,
    )


def load_image_folder(folder: Path, fit: DataFit | None = None, task: TaskState | None = None) -> Dataset:
    """The images under ``folder``, at the model's size and colour mode when ``fit`` gives them.
    ``task``: progress while decoding, and Cancel (``tasks.Cancelled``) between images; a cancelled
    folder is not cached."""
    task = task or quiet()
    folder = Path(folder)
    size = fit.image_size if fit is not None else None
    key = (str(folder.resolve()), size, fit.channels if fit is not None else None, _stamp(folder))
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    test_root, train_root = _split_roots(folder)
    files, labels, classes = _listing(test_root)
    channels = _channels(files, fit)
    start = time.perf_counter()
    train_listing = _listing(train_root) if train_root is not None else None
    share = len(files) / (len(files) + (len(train_listing[0]) if train_listing else 0))
    x_test, sizes = _decode(files, size, channels, folder.name, task.sub(0.0, share))
    x_train, y_train = x_test[:0], None
    if train_listing is not None:
        train_files, y_train, train_classes = train_listing
        if train_classes != classes:
            raise DataError(
                f"{folder.name}: train/ has the classes {', '.join(train_classes or ())} "
                f"but test/ has {', '.join(classes or ())}."
            )
        x_train, train_sizes = _decode(train_files, x_test.shape[1:3], channels, folder.name, task.sub(share, 1.0))
        sizes |= train_sizes
    seconds = time.perf_counter() - start
    shown = "x".join(str(d) for d in x_test.shape[1:3])
    found = "x".join(str(d) for d in next(iter(sizes))) if len(sizes) == 1 else "various sizes"
    notes = [f"decoded {len(x_test) + len(x_train):,} image files in {seconds:.1f} s"]
    if found != shown:
        notes.append(f"resized from {found} to {shown}")
    notes.append("grey" if channels == 1 else "colour (RGB)")
    data = Dataset(
        x_train,
        y_train,
        x_test,
        labels,
        str(folder),
        classes,
        folder.name + "/",
        "images",
        notes=tuple(notes),
    )
    _cache[key] = data
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return data


def forget_decoded() -> None:
    """Empty the cache of decoded folders (the next read decodes again)."""
    _cache.clear()


def decoding_seconds(data: Dataset) -> float | None:
    """How long the folder took to decode, from its notes (None for data that was not decoded)."""
    for note in data.notes:
        if note.startswith("decoded "):
            return float(note.rsplit(" in ", 1)[1].split(" ")[0])
    return None
