"""MNIST from wherever the user has it: an IDX folder, an .npz, the Keras cache, the bundled
test set, or a download.

Resolution order: an explicit path, then ``$PRUNE_VIZ_MNIST``, then the Keras
cache (``~/.keras/datasets/mnist.npz``). Past those, evaluation uses the MNIST
test set that ships inside the package (no training images), and work that
needs training images tries ``keras.datasets.mnist.load_data()``.
Every result says where it came from and whether its training set is the full
60,000 images, so no number is ever presented as a full-MNIST result when it is not.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from prune_viz.core.errors import UserError, clipped_words
from prune_viz.resources import mnist_test_set_folder

ENV_VAR = "PRUNE_VIZ_MNIST"
FULL_TRAIN_SIZE = 60_000
_IMAGES_MAGIC = 0x00000803
_LABELS_MAGIC = 0x00000801


class DataError(UserError):
    """The data could not be found or read; the message is one sentence for the user."""

    def __init__(self, message: str):
        # one printable line, even when a file name on disk holds a newline or an escape sequence
        super().__init__("".join(c if c.isprintable() else "?" for c in " ".join(str(message).split())))


class MissingData(DataError):
    """The data a job needs is not on this machine. The sentence names no command-line flag or
    button: the window and the command line each add how to point prune-viz at some."""


BUNDLED_TEST_SET = mnist_test_set_folder()
BUNDLED_SOURCE = "MNIST test set bundled with prune-viz"


@dataclass(frozen=True)
class MnistData:
    x_train: np.ndarray  # (n, 28, 28) uint8
    y_train: np.ndarray  # (n,) uint8
    x_test: np.ndarray  # (10000, 28, 28) uint8
    y_test: np.ndarray
    source: str  # where it was read from, for display

    @property
    def train_description(self) -> str:
        n = len(self.x_train)
        if n == 0:
            return "no MNIST training images"
        if n >= FULL_TRAIN_SIZE:
            return "full MNIST training set (60,000 images)"
        return f"MNIST {n:,}-image training subset"

    @property
    def is_full_training_set(self) -> bool:
        return len(self.x_train) >= FULL_TRAIN_SIZE


# The largest IDX file worth reading: the 60,000-image training set is 47 MB; allow ten times that.
MAX_IDX_BYTES = 500 * 2**20


def _read_maybe_gzip(path: Path) -> bytes:
    """The file's bytes, gunzipped if it is gzip; never more than MAX_IDX_BYTES (a gzip bomb stops there)."""
    with open(path, "rb") as f:
        head = f.read(2)
    opener = gzip.open if head == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        raw = f.read(MAX_IDX_BYTES + 1)
    if len(raw) > MAX_IDX_BYTES:
        raise DataError(f"{path.name} holds more than {MAX_IDX_BYTES // 2**20} MB of data; it is not MNIST.")
    return raw


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (gzip or raw) of uint8 images (magic 2051) or labels (2049)."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise DataError(f"{path.name} is not a regular file.")
    try:
        raw = _read_maybe_gzip(path)
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        raise DataError(f"Cannot read IDX file {path.name}: {reason}.") from exc
    if len(raw) < 8:
        raise DataError(f"{path.name} is too short to be an IDX file.")
    magic, count = struct.unpack(">II", raw[:8])
    if magic == _LABELS_MAGIC:
        header, shape = 8, (count,)
    elif magic == _IMAGES_MAGIC:
        if len(raw) < 16:
            raise DataError(f"{path.name} is too short to be an IDX image file.")
        rows, cols = struct.unpack(">II", raw[8:16])
        header, shape = 16, (count, rows, cols)
    else:
        raise DataError(f"{path.name} is not an MNIST IDX file (bad magic number {magic:#010x}).")
    expected = math.prod(shape)  # Python ints: a hostile header cannot overflow the check
    if len(raw) - header != expected:
        raise DataError(
            f"{path.name} says it holds {count:,} items but its size does not match "
            f"({len(raw) - header:,} bytes of data, expected {expected:,})."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _find_one(folder: Path, *needles: str) -> Path | None:
    try:
        entries = list(folder.iterdir())
    except OSError as exc:
        raise DataError(f"Cannot list the folder {folder}: {exc.strerror or exc}.") from exc
    hits = sorted(p for p in entries if p.is_file() and all(n in p.name.lower() for n in needles))
    return hits[0] if hits else None


def load_idx_folder(folder: str | os.PathLike) -> MnistData:
    """A folder holding t10k-{images,labels} and optionally train*-{images,labels} IDX files."""
    folder = Path(folder)
    test_images = _find_one(folder, "t10k", "images")
    test_labels = _find_one(folder, "t10k", "labels")
    if test_images is None or test_labels is None:
        raise DataError(
            f"{folder} has no MNIST test files (expected t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz])."
        )
    x_test, y_test = _pair(test_images, test_labels)
    train_images = _find_one(folder, "train", "images")
    train_labels = _find_one(folder, "train", "labels")
    if train_images is not None and train_labels is not None:
        x_train, y_train = _pair(train_images, train_labels)
    else:
        x_train, y_train = np.zeros((0, 28, 28), np.uint8), np.zeros((0,), np.uint8)
    return MnistData(x_train, y_train, x_test, y_test, source=str(folder))


def _pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1:
        raise DataError(f"{images_path.name} / {labels_path.name} are not an image/label pair.")
    if images.shape[1:] != (28, 28):
        raise DataError(f"{images_path.name} holds {images.shape[1]}x{images.shape[2]} images, not 28x28 MNIST digits.")
    if len(images) != len(labels):
        raise DataError(
            f"{images_path.name} has {len(images):,} images but {labels_path.name} has {len(labels):,} labels."
        )
    return images, labels


def load_npz(path: str | os.PathLike) -> MnistData:
    """An .npz with x_train, y_train, x_test, y_test (the layout of Keras's mnist.npz)."""
    path = Path(path)
    if path.exists() and not path.is_file():
        raise DataError(f"{path.name} is not a regular file (it is a pipe, socket or device).")
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise DataError(f"Cannot read {path.name}: {exc.strerror or exc}.") from exc
    if not head.startswith(b"PK"):  # an .npz is a zip archive
        raise DataError(f"{path.name} is not an .npz archive; MNIST must be an .npz or a folder of IDX files.")
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path.name} is a damaged .npz archive ({clipped_words(exc, 120)}).") from exc
    if unpacked > MAX_IDX_BYTES * 4:
        raise DataError(f"{path.name} would unpack to {unpacked / 2**20:,.0f} MB; it is not MNIST.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = {"x_test", "y_test"} - set(npz.files)
            if missing:
                raise DataError(f"{path.name} lacks {', '.join(sorted(missing))}.")
            arrays = {k: np.asarray(npz[k]) for k in ("x_train", "y_train", "x_test", "y_test") if k in npz.files}
    except DataError:
        raise
    except Exception as exc:  # zipfile/pickle/ValueError: all mean "not a usable npz"
        reason = clipped_words(exc, 160).rstrip(".") or type(exc).__name__
        raise DataError(f"Cannot read {path.name} as an .npz of MNIST arrays: {reason}.") from exc
    x_train = arrays.get("x_train", np.zeros((0, 28, 28), np.uint8))
    y_train = arrays.get("y_train", np.zeros((0,), np.uint8))
    for xs, ys, what in ((x_train, y_train, "training"), (arrays["x_test"], arrays["y_test"], "test")):
        if xs.ndim == 0 or ys.ndim != 1:
            raise DataError(f"{path.name}: the {what} arrays are not a list of images and a list of labels.")
        if len(xs) != len(ys):
            raise DataError(f"{path.name}: {len(xs):,} {what} images but {len(ys):,} labels.")
        if xs.ndim != 3 or xs.shape[1:] != (28, 28):
            raise DataError(f"{path.name}: {what} images have shape {xs.shape}, expected (n, 28, 28).")
    return MnistData(
        x_train.astype(np.uint8, copy=False),
        y_train.astype(np.uint8, copy=False),
        arrays["x_test"].astype(np.uint8, copy=False),
        arrays["y_test"].astype(np.uint8, copy=False),
        source=str(path),
    )


def load_path(path: str | os.PathLike) -> MnistData:
    """An IDX folder or an .npz file."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"MNIST data path {path} does not exist.")
    if path.is_dir():
        return load_idx_folder(path)
    if not path.is_file():
        raise DataError(f"MNIST data path {path.name} is not a regular file (it is a pipe, socket or device).")
    return load_npz(path)


def keras_cache_path() -> Path:
    base = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(base) / "datasets" / "mnist.npz"


def search_order(need_training: bool = False) -> str:
    """Where load_mnist looks when no path is given, in words for --help and tooltips."""
    found = f"${ENV_VAR}, then the Keras cache, then "
    if need_training:
        return found + f"a download: the {BUNDLED_SOURCE} has no training images"
    return found + f"the {BUNDLED_SOURCE}"


def load_mnist(
    path: str | os.PathLike | None = None, *, need_training: bool = False, allow_download: bool = True
) -> MnistData:
    """Find MNIST: ``path``, then ``$PRUNE_VIZ_MNIST``, then the Keras cache; then the bundled test
    set, or, when ``need_training``, a download through Keras."""
    if path:
        return load_path(path)
    env = os.environ.get(ENV_VAR)
    if env:
        return load_path(env)
    cache = keras_cache_path()
    if cache.is_file():
        return load_npz(cache)
    if not need_training:
        return load_bundled_test_set()
    reason = "downloading is switched off"
    if allow_download:
        try:
            import keras

            (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        except Exception as exc:  # no network, proxy, disk full: all end the same way
            reason = _download_failure(exc)
        else:
            return MnistData(x_train, y_train, x_test, y_test, source="keras.datasets.mnist")
    raise MissingData(
        f"This needs the MNIST training images, which are not on this machine and could not be downloaded ({reason})."
    )


def load_bundled_test_set() -> MnistData:
    """The 10,000-image MNIST test set shipped inside the package; it has no training images."""
    data = load_idx_folder(BUNDLED_TEST_SET)
    return MnistData(data.x_train, data.y_train, data.x_test, data.y_test, source=BUNDLED_SOURCE)


def _download_failure(exc: BaseException) -> str:
    """Why a download failed, in words: the exception's own message, never just its class name."""
    found: BaseException | None = exc
    while found is not None:
        reason = getattr(found, "reason", None) or getattr(found, "strerror", None) or str(found)
        reason = clipped_words(reason, 120)
        if reason:
            return reason.rstrip(".")
        found = found.__cause__ or found.__context__
    return "no internet connection was found"
