"""Test (and training) data from wherever the user has it: MNIST IDX folders, ``.npz`` archives,
CSV files, folders of images, the Keras data sets by name, and the MNIST test set bundled with
prune-viz (the default).

``load_data(source, fit=...)`` picks the reader: ``None`` is MNIST found as ``load_mnist`` finds it
(an explicit path, then ``$PRUNE_VIZ_MNIST``, then the Keras cache, then the bundled test set, or a
download when training images are needed); a path is read by its kind (``load_path``); a Keras data
set name (``fashion_mnist``, ``cifar10`` ...) is read from the Keras cache or downloaded
(``core.data_keras``). ``fit`` (a ``DataFit``) says what the model takes, so an image folder is
decoded at the model's size and colour mode, and token sequences are cut to its vocabulary.

Every reader returns a ``Dataset``: the test split (``x``, ``y``; ``y`` is None without labels), a
training split when there is one, the class names, and where it came from. ``MnistData`` is its old
name. Every result says where it came from and whether an MNIST training set is the full 60,000
images, so no number is ever presented as a full-MNIST result when it is not.
"""

from __future__ import annotations

import os
from pathlib import Path

from prune_viz.core.data_base import (  # noqa: F401  (re-exported: core.data is where callers look)
    DIGITS,
    FASHION_CLASSES,
    FASHION_MNIST,
    FULL_TRAIN_SIZE,
    KINDS,
    MAX_IDX_BYTES,
    MNIST,
    DataError,
    DataFit,
    Dataset,
    MissingData,
    MnistData,
    check_zip,
    download_failure,
    is_idx_folder,
    keras_datasets_folder,
    load_idx_folder,
    read_idx,
)
from prune_viz.core.data_files import read_csv, read_npz
from prune_viz.core.data_images import is_image_folder, load_image_folder
from prune_viz.core.data_keras import KERAS_DATASETS, load_keras_dataset
from prune_viz.core.tasks import TaskState
from prune_viz.resources import mnist_test_set_folder

ENV_VAR = "PRUNE_VIZ_MNIST"
BUNDLED_TEST_SET = mnist_test_set_folder()
BUNDLED_SOURCE = "MNIST test set bundled with prune-viz"


def load_npz(path: str | os.PathLike, *, name: str | None = None, fit: DataFit | None = None) -> Dataset:
    """An .npz of arrays (``core.data_files.read_npz``): ``x_test``/``y_test`` (and ``x_train``/
    ``y_train``, the layout of Keras's mnist.npz), or ``x``/``y``, or ``x`` alone; optional
    ``class_names``. ``name``: what sentences call it (default: the file's name)."""
    return read_npz(Path(path), name=name, fit=fit)


def load_path(path: str | os.PathLike, fit: DataFit | None = None, task: TaskState | None = None) -> Dataset:
    """A folder of MNIST IDX files or of images (one sub-folder per class), an .npz, or a CSV file.
    ``task``: progress and Cancel while an image folder is decoded."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"The data path {path} does not exist.")
    if path.is_dir():
        if is_idx_folder(path):
            return load_idx_folder(path)
        if is_image_folder(path):
            return load_image_folder(path, fit, task)
        return load_idx_folder(path)  # says what an MNIST folder should hold
    if not path.is_file():
        raise DataError(f"The data path {path.name} is not a regular file (it is a pipe, socket or device).")
    if path.suffix.lower() in (".csv", ".tsv", ".txt"):
        return read_csv(path, fit)
    return load_npz(path, fit=fit)


DATA_SUFFIXES = (".npz", ".csv", ".tsv")
MODEL_MARKERS = ("saved_model.pb", "saved_model.pbtxt")


def is_data_path(path: str | os.PathLike) -> bool:
    """Whether ``path`` is test data rather than a model (what a file dropped on the window is): an
    .npz or CSV file, a folder of MNIST IDX files, or a folder of images that is not a SavedModel."""
    path = Path(path)
    if path.is_file():
        return path.suffix.lower() in DATA_SUFFIXES
    if not path.is_dir() or any((path / marker).exists() for marker in MODEL_MARKERS):
        return False
    return is_idx_folder(path) or is_image_folder(path)


def source_name(source: str | os.PathLike | None) -> str:
    """What a data source is called before it is read: MNIST for the default or a folder of MNIST IDX
    files, a Keras data set's name, else the file's or folder's name."""
    text = str(source or "")
    if text.lower().startswith("keras:"):
        text = text[len("keras:") :]
    path = Path(text).expanduser()
    if not text or text.lower() == "mnist":
        return MNIST
    if not path.exists():
        return text
    if path.is_dir() and is_idx_folder(path) and "fashion" not in path.resolve().name.lower():
        return MNIST
    return path.name


def keras_cache_path() -> Path:
    return keras_datasets_folder() / "mnist.npz"


def search_order(need_training: bool = False) -> str:
    """Where load_mnist looks when no path is given, in words for --help and tooltips."""
    found = f"${ENV_VAR}, then the Keras cache, then "
    if need_training:
        return found + f"a download: the {BUNDLED_SOURCE} has no training images"
    return found + f"the {BUNDLED_SOURCE}"


SOURCES_HELP = (
    "a folder of MNIST IDX files, a folder of images (one sub-folder per class; test/ and train/ inside "
    "recognised), an .npz (x_test/y_test, x/y or x alone; optional class_names), a CSV with a label "
    "column (named label, class, target or y, else the last), or a Keras data set name "
    "(fashion_mnist, cifar10, cifar100, mnist, imdb, reuters)"
)


def load_data(
    source: str | os.PathLike | None = None,
    *,
    need_training: bool = False,
    allow_download: bool = True,
    fit: DataFit | None = None,
    task: TaskState | None = None,
) -> Dataset:
    """The data ``source`` names: None is MNIST as ``load_mnist`` finds it; an existing path is read
    by its kind (``load_path``); a Keras data set name is read from the Keras cache or downloaded.
    ``task``: progress and Cancel while an image folder is decoded."""
    if source is None or str(source) == "":
        return load_mnist(need_training=need_training, allow_download=allow_download)
    text = str(source)
    if text.lower().startswith("keras:"):  # how lessons record a name (core.lesson.data_reference)
        text = text[len("keras:") :]
    path = Path(text).expanduser()
    if not path.exists() and text.lower() in KERAS_DATASETS:
        return load_keras_dataset(text.lower(), fit=fit, allow_download=allow_download, need_training=need_training)
    return load_path(path, fit, task)


def load_mnist(
    path: str | os.PathLike | None = None, *, need_training: bool = False, allow_download: bool = True
) -> Dataset:
    """Find MNIST: ``path``, then ``$PRUNE_VIZ_MNIST``, then the Keras cache; then the bundled test
    set, or, when ``need_training``, a download through Keras."""
    if path:
        return load_data(path, need_training=need_training, allow_download=allow_download)
    env = os.environ.get(ENV_VAR)
    if env:
        return load_path(env)
    cache = keras_cache_path()
    if cache.is_file():
        return load_npz(cache, name=MNIST)
    if not need_training:
        return load_bundled_test_set()
    reason = "downloading is switched off"
    if allow_download:
        try:
            import keras

            (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        except Exception as exc:  # no network, proxy, disk full: all end the same way
            reason = download_failure(exc)
        else:
            return Dataset(x_train, y_train, x_test, y_test, source="keras.datasets.mnist")
    raise MissingData(
        f"This needs the MNIST training images, which are not on this machine and could not be downloaded ({reason})."
    )


def load_bundled_test_set() -> Dataset:
    """The 10,000-image MNIST test set shipped inside the package; it has no training images."""
    data = load_idx_folder(BUNDLED_TEST_SET)
    return Dataset(data.x_train, data.y_train, data.x_test, data.y_test, source=BUNDLED_SOURCE)


_download_failure = download_failure
