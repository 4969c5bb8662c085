"""Data in single files: ``.npz`` archives of arrays and CSV tables.

An ``.npz`` is read member by member with numpy's own ``.npy`` reader. A member of Python objects
(the ragged token sequences of Keras's imdb.npz and reuters.npz) is unpickled by ``SafeUnpickler``,
which rebuilds numpy arrays, lists and numbers and refuses anything else, so a crafted file cannot
run code.
"""

from __future__ import annotations

import csv
import io
import pickle
import re
import zipfile
from pathlib import Path

import numpy as np

from prune_viz.core.data_base import MAX_IDX_BYTES, DataError, DataFit, Dataset, check_zip
from prune_viz.core.errors import clipped_words

LABEL_COLUMNS = ("label", "labels", "class", "target", "y")
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # bytes in a protocol-2 pickle written by Python 3
}


class SafeUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and plain Python values only."""

    def find_class(self, module, name):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a data file")


def safe_unpickle(stream, encoding: str = "ASCII"):
    return SafeUnpickler(stream, encoding=encoding).load()


def _read_member(archive: zipfile.ZipFile, member: str) -> np.ndarray:
    with archive.open(member) as raw:
        buffer = io.BytesIO(raw.read())
    try:
        return np.lib.format.read_array(buffer, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" not in str(exc):
            raise
    buffer.seek(0)
    version = np.lib.format.read_magic(buffer)
    if version == (1, 0):
        np.lib.format.read_array_header_1_0(buffer)
    else:
        np.lib.format.read_array_header_2_0(buffer)
    return np.asarray(safe_unpickle(buffer, encoding="latin1"))


def npz_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of the archive at ``path``, by name (checked by ``check_zip`` first)."""
    check_zip(path, "data")
    try:
        with zipfile.ZipFile(path) as archive:
            return {m[: -len(".npy")]: _read_member(archive, m) for m in archive.namelist() if m.endswith(".npy")}
    except DataError:
        raise
    except Exception as exc:  # zipfile/pickle/ValueError: all mean "not a usable npz"
        reason = clipped_words(exc, 160).rstrip(".") or type(exc).__name__
        raise DataError(f"Cannot read {path.name} as an .npz of arrays: {reason}.") from exc


def _labels(arrays: dict, prefix: str) -> np.ndarray | tuple | None:
    """``prefix`` ("y_test", "y"), or one array per model output as ``prefix_0``, ``prefix_1`` ..."""
    if prefix in arrays:
        return arrays[prefix]
    heads = sorted((int(m.group(1)), key) for key in arrays if (m := re.fullmatch(re.escape(prefix) + r"_(\d+)", key)))
    return tuple(arrays[key] for _, key in heads) if heads else None


def read_npz(path: Path, *, name: str | None = None, fit: DataFit | None = None) -> Dataset:
    """``x_test``/``y_test`` (+ ``x_train``/``y_train``), or ``x``/``y``, or ``x`` alone; optional
    ``class_names``; labels of a multi-output model as ``y_test_0``, ``y_test_1`` ..."""
    if path.exists() and not path.is_file():
        raise DataError(f"{path.name} is not a regular file (it is a pipe, socket or device).")
    arrays = npz_arrays(path)
    if "x_test" in arrays:
        x_test, y_test = arrays["x_test"], _labels(arrays, "y_test")
        if y_test is None and _labels(arrays, "y") is not None:
            y_test = _labels(arrays, "y")
    elif "x" in arrays:
        x_test, y_test = arrays["x"], _labels(arrays, "y")
    else:
        found = ", ".join(sorted(arrays)) or "nothing"
        raise DataError(f"{path.name} lacks x_test (or x): it holds {clipped_words(found, 100)}.")
    x_train = arrays.get("x_train")
    y_train = _labels(arrays, "y_train")
    if x_train is None or y_train is None:
        x_train, y_train = x_test[:0], None
    class_names = None
    if "class_names" in arrays:
        names = arrays["class_names"]
        if names.ndim != 1:
            raise DataError(f"{path.name}: class_names is not a list of names.")
        class_names = tuple(str(n) for n in names.tolist())
    return make_dataset(
        x_train, y_train, x_test, y_test, source=str(path), name=name or path.name, class_names=class_names, fit=fit
    )


def make_dataset(
    x_train,
    y_train,
    x_test,
    y_test,
    *,
    source: str,
    name: str,
    class_names: tuple[str, ...] | None = None,
    fit: DataFit | None = None,
    notes: tuple[str, ...] = (),
) -> Dataset:
    """A Dataset of arrays checked for the one sentence a mismatch deserves; its kind read from them."""
    x_test = np.asarray(x_test)
    for xs, ys, what in ((x_train, y_train, "training"), (x_test, y_test, "test")):
        if xs is None:
            continue
        if np.ndim(xs) == 0:
            raise DataError(f"{name}: the {what} inputs are a single value, not a list of samples.")
        if what == "test" and len(xs) == 0:
            raise DataError(f"{name} holds no test samples.")
        for head in ys if isinstance(ys, tuple) else (ys,):
            if head is None:
                continue
            if np.ndim(head) == 0:
                raise DataError(f"{name}: the {what} labels are a single value, not one per sample.")
            if len(head) != len(xs):
                raise DataError(f"{name}: {len(xs):,} {what} samples but {len(head):,} labels.")
    y_test, class_names = _class_labels(y_test, class_names)
    y_train, _ = _class_labels(y_train, class_names)
    kind = _kind(x_test, fit)
    if kind == "images" and x_test.dtype != np.uint8:
        x_test = x_test.astype(np.uint8)
        x_train = np.asarray(x_train).astype(np.uint8)
    if class_names is not None and isinstance(y_test, np.ndarray) and y_test.ndim == 1 and len(y_test):
        if np.issubdtype(y_test.dtype, np.integer) and (y_test.min() < 0 or y_test.max() >= len(class_names)):
            raise DataError(
                f"{name} names {len(class_names)} classes but its labels run from {int(y_test.min())} "
                f"to {int(y_test.max())}."
            )
    return Dataset(np.asarray(x_train), y_train, x_test, y_test, source, class_names, name, kind, notes=tuple(notes))


def _class_labels(y, class_names):
    """Labels as they are scored: (n, 1) integer columns flattened, text labels as class indices."""
    if y is None or isinstance(y, tuple):
        return y, class_names
    y = np.asarray(y)
    if y.dtype.kind in "US":  # text labels: their sorted names are the classes
        names = class_names or tuple(sorted(set(y.astype(str).tolist())))
        index = {n: i for i, n in enumerate(names)}
        unknown = sorted(set(y.astype(str).tolist()) - set(index))
        if unknown:
            raise DataError(f"The label {clipped_words(unknown[0], 40)} is not one of the class names.")
        return np.array([index[v] for v in y.astype(str).tolist()], np.int64), tuple(names)
    if y.ndim == 2 and y.shape[1] == 1 and np.issubdtype(y.dtype, np.integer):
        y = y[:, 0]
    return y, class_names


def _kind(x: np.ndarray, fit: DataFit | None) -> str:
    """images: whole numbers 0-255 in two or more dimensions per sample (or flat when the model takes
    images); tokens: whole numbers in one dimension for a model with an Embedding, or ragged; features: the rest."""
    if x.dtype == object:
        return "tokens"
    whole = np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.bool_)
    if whole and x.ndim == 2 and fit is not None and fit.vocabulary:
        return "tokens"
    small = bool(whole and x.size and int(x.min()) >= 0 and int(x.max()) <= 255)
    if x.ndim >= 2 and (x.dtype == np.uint8 or small):
        return "images"  # flat pixels (a CSV of MNIST) too: the input scaling is chosen for them
    return "features"


MAX_CSV_BYTES = MAX_IDX_BYTES * 4


def read_csv(path: Path, fit: DataFit | None = None) -> Dataset:
    """A CSV (or TSV) table: one row per sample, a header optional, the label in the column named
    label, labels, class, target or y (any case), else the last column. A table with exactly as
    many columns as the model takes numbers has no label column."""
    try:
        if path.stat().st_size > MAX_CSV_BYTES:
            raise DataError(f"{path.name} is larger than the {MAX_CSV_BYTES // 2**20:,} MB prune-viz reads.")
        with open(path, newline="", encoding="utf-8-sig") as f:
            sample = f.read(65536)
            f.seek(0)
            delimiter = "\t" if path.suffix.lower() == ".tsv" or sample.count("\t") > sample.count(",") else ","
            rows = [row for row in csv.reader(f, delimiter=delimiter) if row and any(c.strip() for c in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"Cannot read {path.name} as a CSV table: {clipped_words(exc, 120)}.") from exc
    if not rows:
        raise DataError(f"{path.name} holds no rows.")
    header = None
    first, second = rows[0], rows[1] if len(rows) > 1 else []
    words = [not _is_number(cell) for cell in first]
    if all(words) or any(w and i < len(second) and _is_number(second[i]) for i, w in enumerate(words)):
        header, rows = [cell.strip() for cell in rows[0]], rows[1:]  # names where the rows hold numbers
    if not rows:
        raise DataError(f"{path.name} has a header but no rows.")
    width = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            raise DataError(f"{path.name}: row {i + 1 + (header is not None)} has {len(row)} columns, not {width}.")
    features_wanted = _flat_size(fit)
    label_at = None
    if header is not None:
        label_at = next((i for i, h in enumerate(header) if h.lower() in LABEL_COLUMNS), None)
    if label_at is None and width != features_wanted:
        label_at = width - 1
    columns = list(zip(*rows))
    label_column = None if label_at is None else columns.pop(label_at)
    try:
        x = np.array(columns, dtype=np.float64).T
    except ValueError as exc:
        raise DataError(f"{path.name}: a feature column holds something other than numbers.") from exc
    if x.shape[1] >= 64 and np.all(np.isfinite(x)) and np.all(x == np.round(x)):
        x = x.astype(np.int64)  # whole numbers 0-255 this wide are pixels (an MNIST CSV); a few are features
    y = None
    if label_column is not None:
        values = [v.strip() for v in label_column]
        if all(_is_number(v) for v in values):
            y = np.array(values, dtype=np.float64)
            if np.all(y == np.round(y)):
                y = y.astype(np.int64)
        else:
            y = np.array(values)
    what = "label column " + (repr(header[label_at]) if header and label_at is not None else "(the last)")
    notes = (f"{what}" if label_at is not None else "no label column: as many columns as the model takes",)
    return make_dataset(x[:0], None, x, y, source=str(path), name=path.name, fit=fit, notes=notes)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _flat_size(fit: DataFit | None) -> int | None:
    return None if fit is None else fit.features
