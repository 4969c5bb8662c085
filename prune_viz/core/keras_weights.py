"""Build a Keras 3 model from its config and read its weights in row blocks.

``keras.saving.load_model`` initialises every variable randomly, holds the
whole ``model.weights.h5`` in memory and reads each variable as one array
before assigning it: for a 120M-weight model its peak was 5.5x the weights.
Here the model is built inside a ``StatelessScope`` (variables exist but hold
no values), Keras's own save walk says which file entry belongs to which
variable, and each variable is created once and filled block by block: the
peak stays near 1.2x the weights.

Two readers fill the variables:

- ``read_in_place`` finds the data with ``hdf5_index`` (pure Python, no libhdf5)
  and copies the bytes straight from the file, while a second thread checks the
  archive member's CRC and counts NaN and infinite weights. libhdf5 never sees
  the file, so it needs no crash check in a child process: 0.23-0.26 s
  instead of 0.43-0.50 s for a 456 MiB model (``prune-viz bench --only scale``).
- ``read_with_h5py`` reads through h5py, for files the index does not read
  (chunked or compressed data, newer HDF5 layouts); the caller runs the
  child-process crash check first.

Anything neither recognises (quantized layers, bfloat16 entries, sharded or
.npz weights, a missing entry) raises ``Unsupported`` before any value is read,
and the caller falls back to ``keras.saving.load_model``.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field

import numpy as np
from zlib_ng.zlib_ng import crc32

from prune_viz.core import hdf5_index, row_blocks
from prune_viz.core.file_range import FileRange

CHECK_CHUNK_BYTES = 1 << 23  # a multiple of every item size


class Unsupported(Exception):
    """This archive needs another reader."""


class Damaged(Exception):
    """The weights' bytes do not match the CRC the archive recorded for them."""


@dataclass
class Loaded:
    model: object
    # {variable path: count of NaN or infinite values}, for variables that have any; None when the
    # reader did not count them
    non_finite: dict[str, int] | None = field(default=None)


def read_in_place(config_json: str, weights: FileRange, member_crc: int | None = None) -> Loaded:
    """The model described by ``config_json`` with the weights stored at ``weights``, read without
    libhdf5. ``member_crc``: the CRC-32 the zip recorded for these bytes, checked while they are read."""
    try:
        found = hdf5_index.datasets(weights)
    except hdf5_index.Unsupported as exc:
        raise Unsupported(str(exc)) from exc
    import tensorflow as tf

    check = _MemberCheck(weights, found.values(), member_crc)
    try:
        with _fresh_model(config_json) as (model, entries):
            paired = _paired(entries, found)
            non_finite, big = {}, []
            with open(weights.path, "rb", buffering=0) as file:
                for key, variable in entries.items():
                    dataset = found[paired[key]]
                    if dataset.compact is not None:
                        values = np.frombuffer(dataset.compact, dataset.dtype).reshape(dataset.shape)
                        variable._initialize(values.copy())
                        bad = _count_non_finite(values)
                        if bad:
                            non_finite[variable.path] = bad
                    elif row_blocks.is_big(dataset.shape):
                        # zeros first, on both cores: the row writes then find their pages mapped
                        # (row writes into unmapped pages took 0.21 s for 411 MiB, zeros and rows 0.17 s)
                        variable._initialize(tf.zeros(dataset.shape, variable.dtype))
                        big.append((variable, dataset))
                    else:
                        values = np.empty(dataset.shape, dataset.dtype)
                        _read_into(file, weights.offset + dataset.offset, values)
                        variable._initialize(values)
                check.start()  # on the second core, beside the row writes, which use one
                for variable, dataset in big:
                    _write_rows_from_file(variable._value, file, weights.offset + dataset.offset, dataset)
            check.join()
            if check.error is not None:
                raise check.error
            if not check.crc_matches:
                raise Damaged("the weights do not match the archive's CRC")
            for key, variable in entries.items():
                bad = check.non_finite.get(paired[key], 0)
                if bad:
                    non_finite[variable.path] = non_finite.get(variable.path, 0) + bad
            return Loaded(model, non_finite)
    finally:
        check.stop()


def read_with_h5py(config_json: str, weights: FileRange) -> Loaded:
    """The same model, read through h5py; only after the child-process check of ``weights``."""
    import h5py

    with weights.h5_source() as source, h5py.File(source, "r") as h5:
        found = {}
        h5.visititems(lambda name, obj: found.__setitem__(name, obj) if isinstance(obj, h5py.Dataset) else None)
        with _fresh_model(config_json) as (model, entries):
            paired = _paired(entries, {name: _Described(tuple(d.shape), np.dtype(d.dtype), frozenset(d.attrs))
                                       for name, d in found.items()})
            for key, variable in entries.items():
                _fill_from_h5py(variable, found[paired[key]])
    return Loaded(model)


@dataclass(frozen=True)
class _Described:
    shape: tuple[int, ...]
    dtype: np.dtype
    attributes: frozenset[str]


@contextlib.contextmanager
def _fresh_model(config_json: str):
    """(model, {(h5 group path, key): variable}) with every saved variable still without a value;
    variables the file does not hold get their own initial values once the block exits."""
    import keras
    from keras.src.backend.common import global_state
    from keras.src.saving import saving_lib

    before = list(global_state.get_global_attribute("uninitialized_variables") or [])
    try:
        with keras.StatelessScope(initialize_variables=False):
            model = saving_lib._model_from_config(config_json, None, False, True)
        pending = [v for v in (global_state.get_global_attribute("uninitialized_variables") or [])
                   if not any(v is b for b in before)]
        entries = _variable_entries(model, saving_lib)
        fresh = {id(v) for v in pending}
        saved = {id(v) for v in entries.values()}
        if len(saved) != len(entries) or not saved <= fresh:
            raise Unsupported("the saved entries are not distinct variables of this model")
        yield model, entries
        for variable in pending:  # not saved (e.g. the seed state of RandomFlip): its own initial value,
            if variable._value is None:  # as Keras's loader leaves it
                variable._deferred_initialize()
    finally:
        # the variables this build registered are now filled (or the model is dropped): Keras must
        # not try to initialise them again when some later StatelessScope exits
        global_state.set_global_attribute("uninitialized_variables", before)


def _variable_entries(model, saving_lib) -> dict:
    """{(h5 group path, key): variable}, exactly as ``model.save`` would write them."""

    class Recorder(saving_lib.H5IOStore):
        def __init__(self):  # noqa: D107 - no file: it only records what save_own_variables stores
            self.entries: dict = {}
            self.path = ""

        def __bool__(self):
            return True

        def make(self, path, metadata=None):
            self.path = path
            return self

        def __setitem__(self, key, value):
            self.entries[(self.path, str(key))] = value

    recorder = Recorder()
    saving_lib._save_state(model, weights_store=recorder, assets_store=None, inner_path="",
                           visited_saveables=set())
    return recorder.entries


def _paired(entries: dict, datasets: dict) -> dict:
    """{entry: dataset path}, after checking that every entry has a dataset of its variable's shape
    and dtype, and that the file holds nothing else."""
    from keras.src.backend.common.variables import Variable

    paired = {}
    for (path, key), variable in entries.items():
        if not isinstance(variable, Variable) or variable._value is not None:
            raise Unsupported(f"entry {path}/{key} is not a fresh variable")
        name = f"{path}/vars/{key}" if path else f"vars/{key}"
        dataset = datasets.get(name)
        if dataset is None:
            raise Unsupported(f"no dataset for {name}")
        if tuple(dataset.shape) != tuple(variable.shape) or "dtype" in dataset.attributes:
            raise Unsupported(f"{name} has another shape or a special dtype")
        if np.dtype(dataset.dtype) != np.dtype(variable.dtype):
            raise Unsupported(f"{name} is {dataset.dtype}, the variable {variable.dtype}")
        paired[(path, key)] = name
    # left-over data means this reader misunderstood the file; compile=False ignores a saved
    # optimizer, as Keras's loader does
    if {name for name in datasets if not name.startswith("optimizer/")} != set(paired.values()):
        raise Unsupported("the file holds entries the model does not have")
    return paired


def _write_rows_from_file(variable, file, position: int, dataset: hdf5_index.Dataset) -> None:
    """Copy the rows of ``dataset`` (at ``position`` in ``file``) into ``variable``, block by block
    through one reused buffer."""
    buffer = np.empty((row_blocks.rows_per_block(dataset.shape), *dataset.shape[1:]), dataset.dtype)
    row_bytes = buffer[0].nbytes

    def blocks():
        for r0, r1 in row_blocks.row_starts(dataset.shape):
            rows = buffer[: r1 - r0]
            _read_into(file, position + r0 * row_bytes, rows)
            yield r0, rows  # the scatter has copied it before the next block is read

    row_blocks.write_rows(variable, blocks())


def _read_into(file, position: int, buffer) -> None:
    """Fill ``buffer`` (an array or a memoryview) with the file's bytes from ``position`` on."""
    view = memoryview(buffer).cast("B")
    file.seek(position)
    done = 0
    while done < len(view):
        count = file.readinto(view[done:])
        if not count:
            raise Damaged("the weights end early")
        done += count


def _fill_from_h5py(variable, dataset) -> None:
    import tensorflow as tf

    shape = tuple(variable.shape)
    if not row_blocks.is_big(shape):
        variable._initialize(np.asarray(dataset[()]))
        return
    variable._initialize(tf.zeros(shape, variable.dtype))
    row_blocks.write_rows(variable._value, ((r0, dataset[r0:r1]) for r0, r1 in row_blocks.row_starts(shape)))


def _count_non_finite(values: np.ndarray) -> int:
    if values.size == 0 or not np.issubdtype(values.dtype, np.floating):
        return 0
    if np.isfinite(values.min()) and np.isfinite(values.max()):  # NaN and inf show in min or max
        return 0
    return int(values.size - np.count_nonzero(np.isfinite(values)))


class _MemberCheck(threading.Thread):
    """Reads the whole HDF5 member in order: its CRC-32, and the count of NaN and infinite values
    in each contiguous float dataset. File reads, CRC and NumPy release the GIL, so this runs beside the fill."""

    def __init__(self, weights: FileRange, datasets, member_crc: int | None):
        super().__init__(name="prune-viz weights check", daemon=True)
        self.weights = weights
        self.expected_crc = member_crc
        self.floats = sorted((d.offset, d) for d in datasets
                             if d.offset is not None and np.issubdtype(d.dtype, np.floating))
        self.non_finite: dict[str, int] = {}
        self.crc_matches = False
        self.error: BaseException | None = None
        self._stop_asked = threading.Event()

    def stop(self) -> None:
        self._stop_asked.set()
        if self.ident is not None:  # started
            self.join()

    def run(self) -> None:
        try:
            self._check()
        except BaseException as exc:  # handed to the loading thread, which raises it
            self.error = exc

    def _check(self) -> None:
        buffer = bytearray(CHECK_CHUNK_BYTES)
        crc, position, size = 0, 0, self.weights.size
        floats = list(self.floats)
        with open(self.weights.path, "rb", buffering=0) as file:
            while position < size:
                if self._stop_asked.is_set():
                    return
                while floats and floats[0][0] + floats[0][1].nbytes <= position:
                    floats.pop(0)
                end = min(size, position + CHECK_CHUNK_BYTES)
                inside = None
                if floats:  # stop at a dataset's start and end, so each chunk is all data or none
                    start, dataset = floats[0]
                    if start > position:
                        end = min(end, start)
                    else:
                        end, inside = min(end, start + dataset.nbytes), dataset
                chunk = memoryview(buffer)[: end - position]
                _read_into(file, self.weights.offset + position, chunk)
                crc = crc32(chunk, crc)
                if inside is not None:
                    bad = _count_non_finite(np.frombuffer(chunk, inside.dtype))
                    if bad:
                        self.non_finite[inside.path] = self.non_finite.get(inside.path, 0) + bad
                position = end
        self.crc_matches = self.expected_crc is None or crc == self.expected_crc
