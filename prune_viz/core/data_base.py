"""What every data reader shares: the ``Dataset`` a reader returns, the ``DataFit`` it shapes data
to, the one-sentence ``DataError``, MNIST's IDX files, and the archive checks. ``core.data`` picks the
reader (and re-exports these); the readers (``data_files``, ``data_images``, ``data_keras``) build on
this module only, so no import goes round in a circle."""

from __future__ import annotations

import gzip
import math
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from prune_viz.core.errors import UserError, clipped_words

FULL_TRAIN_SIZE = 60_000
_IMAGES_MAGIC = 0x00000803
_LABELS_MAGIC = 0x00000801
MNIST = "MNIST"
DIGITS = tuple(str(d) for d in range(10))
FASHION_MNIST = "Fashion-MNIST"
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
KINDS = ("images", "tokens", "features")


class DataError(UserError):
    """The data could not be found or read; the message is one sentence for the user."""

    def __init__(self, message: str):
        # one printable line, even when a file name on disk holds a newline or an escape sequence
        super().__init__("".join(c if c.isprintable() else "?" for c in " ".join(str(message).split())))


class MissingData(DataError):
    """The data a job needs is not on this machine. The sentence names no command-line flag or
    button: the window and the command line each add how to point prune-viz at some."""


@dataclass(frozen=True)
class DataFit:
    """What the model takes, for readers that shape the data to it: the image size (height, width)
    and channels (1 grey, 3 colour) an image folder is decoded to, the sequence length and
    vocabulary token ids are cut to, and how many numbers the model takes (a CSV whose width is
    that has no label column). Any of them None: not known or not needed."""

    image_size: tuple[int, int] | None = None
    channels: int | None = None
    sequence_length: int | None = None
    vocabulary: int | None = None
    features: int | None = None  # how many numbers one sample is, when the model's input size is known


@dataclass(frozen=True)
class Dataset:
    """A test split, maybe a training split, and what they are.

    ``x_test``: uint8 images (n, h, w) or (n, h, w, c) for ``kind`` "images"; integer token ids
    (n, length), or an object array of ragged sequences, for "tokens"; numbers (n, ...) for
    "features". ``y_test``: integer class labels (n,), targets (n, k), a tuple of one such array
    per model output (a multi-output model), or None when the data has no labels. The training
    split has the same form; ``x_train`` is empty when there is none.
    """

    x_train: np.ndarray
    y_train: np.ndarray | tuple | None
    x_test: np.ndarray
    y_test: np.ndarray | tuple | None
    source: str  # where it was read from, for display
    class_names: tuple[str, ...] | None = DIGITS
    name: str = MNIST  # what the sentences call it: "MNIST", "Fashion-MNIST", "flowers.npz" ...
    kind: str = "images"
    notes: tuple[str, ...] = field(default=())  # what reading it did: "resized from various sizes to 32x32" ...

    # -- the test split, by the names the issue gives them
    @property
    def x(self) -> np.ndarray:
        return self.x_test

    @property
    def y(self):
        return self.y_test

    @property
    def has_labels(self) -> bool:
        return self.y_test is not None

    @property
    def is_mnist(self) -> bool:
        """MNIST digits: evaluated exactly as prune-viz always did (28x28 grey, 10 classes)."""
        return self.name == MNIST

    @property
    def has_training_split(self) -> bool:
        return len(self.x_train) > 0 and self.y_train is not None

    @property
    def train(self) -> Dataset | None:
        """The training split as a Dataset of its own (its test split), or None."""
        if not self.has_training_split:
            return None
        return replace(self, x_test=self.x_train, y_test=self.y_train, x_train=self.x_train[:0], y_train=None)

    @property
    def num_classes(self) -> int | None:
        """How many classes the labels are drawn from: the class names', else the largest label + 1."""
        if self.class_names:
            return len(self.class_names)
        y = self.y_test
        if isinstance(y, np.ndarray) and y.ndim == 1 and len(y) and np.issubdtype(y.dtype, np.integer):
            return int(y.max()) + 1
        return None

    @property
    def description(self) -> str:
        """What was read, in words: 'Fashion-MNIST test set, 10,000 images, 10 classes (T-shirt/top, ...)'."""
        what = {"images": "images", "tokens": "sequences", "features": "rows"}[self.kind]
        shape = "x".join(str(d) for d in self.x_test.shape[1:]) if self.x_test.dtype != object else "ragged"
        text = f"{self.name}: {len(self.x_test):,} test {what} ({shape})"
        if self.class_names:
            names = ", ".join(self.class_names[:4]) + (", ..." if len(self.class_names) > 4 else "")
            text += f", {len(self.class_names)} classes ({names})"
        elif not self.has_labels:
            text += ", no labels"
        if self.has_training_split:
            text += f", {len(self.x_train):,} training {what}"
        return text

    def as_dict(self) -> dict:
        """The JSON shape of ``data`` in ``prune-viz evaluate --json``."""
        return {
            "name": self.name,
            "source": self.source,
            "kind": self.kind,
            "test_samples": int(len(self.x_test)),
            "sample_shape": None if self.x_test.dtype == object else [int(d) for d in self.x_test.shape[1:]],
            "labels": self.has_labels,
            "classes": self.num_classes,
            "class_names": list(self.class_names) if self.class_names else None,
            "training_samples": int(len(self.x_train)) if self.has_training_split else 0,
            "notes": list(self.notes),
            "description": self.description,
        }

    @property
    def train_description(self) -> str:
        n = len(self.x_train)
        if self.is_mnist:
            if n == 0:
                return "no MNIST training images"
            if n >= FULL_TRAIN_SIZE:
                return "full MNIST training set (60,000 images)"
            return f"MNIST {n:,}-image training subset"
        if n == 0:
            return f"no training data in {self.name}"
        return f"{self.name} training split ({n:,} samples)"

    @property
    def is_full_training_set(self) -> bool:
        """Whether the training split is the whole of it (MNIST: all 60,000 images; others: what there is)."""
        return len(self.x_train) >= FULL_TRAIN_SIZE if self.is_mnist else self.has_training_split


MnistData = Dataset  # the old name: MNIST is one Dataset among others


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


def is_idx_folder(folder: Path) -> bool:
    """Whether ``folder`` holds MNIST-style t10k IDX files."""
    return _find_one(folder, "t10k", "images") is not None and _find_one(folder, "t10k", "labels") is not None


def load_idx_folder(folder: str | os.PathLike) -> Dataset:
    """A folder holding t10k-{images,labels} and optionally train*-{images,labels} IDX files:
    MNIST, or Fashion-MNIST when the folder's name says so (Keras caches it in ``fashion-mnist``)."""
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
    if "fashion" in folder.resolve().name.lower():
        return Dataset(x_train, y_train, x_test, y_test, str(folder), FASHION_CLASSES, FASHION_MNIST)
    return Dataset(x_train, y_train, x_test, y_test, source=str(folder))


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


def keras_datasets_folder() -> Path:
    """The Keras cache of data sets: ``$KERAS_HOME/datasets``, else ``~/.keras/datasets``."""
    base = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(base) / "datasets"


def download_failure(exc: BaseException) -> str:
    """Why a download failed, in words: the exception's own message, never just its class name."""
    found: BaseException | None = exc
    while found is not None:
        reason = getattr(found, "reason", None) or getattr(found, "strerror", None) or str(found)
        reason = clipped_words(reason, 120)
        if reason:
            return reason.rstrip(".")
        found = found.__cause__ or found.__context__
    return "no internet connection was found"


def check_zip(path: Path, what: str) -> None:
    """``path`` is a readable zip archive that does not unpack beyond what prune-viz reads."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise DataError(f"Cannot read {path.name}: {exc.strerror or exc}.") from exc
    if not head.startswith(b"PK"):  # an .npz is a zip archive
        raise DataError(
            f"{path.name} is not an .npz archive; {what} must be an .npz, a CSV, or a folder of IDX files or images."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path.name} is a damaged .npz archive ({clipped_words(exc, 120)}).") from exc
    if unpacked > MAX_IDX_BYTES * 4:
        raise DataError(
            f"{path.name} would unpack to {unpacked / 2**20:,.0f} MB; it is not MNIST, "
            f"and prune-viz reads archives up to {MAX_IDX_BYTES * 4 // 2**20:,} MB."
        )
