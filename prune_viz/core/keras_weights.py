"""Build a Keras 3 model from its config and read its weights in row blocks.

``keras.saving.load_model`` initialises every variable randomly, holds the
whole ``model.weights.h5`` in memory and reads each variable as one array
before assigning it: for a 120M-weight model its peak was 5.5x the weights.
Here the model is built inside a ``StatelessScope`` (variables exist but hold
no values), Keras's own save walk says which file entry belongs to which
variable, and each variable is created once and filled block by block: the
peak stays near 1.2x the weights.

Two readers fill the variables:

- ``read_in_place`` finds the data with ``hdf5_index`` (pure Python, no libhdf5).
  A second thread reads the archive member once, in order: it checks its CRC,
  counts NaN and infinite weights, and hands the rows of the big variables to
  the loading thread, which writes them. libhdf5 never sees the file, so it
  needs no crash check in a child process: 0.20-0.21 s instead of 0.43-0.50 s
  for a 456 MiB model (``prune-viz bench --only scale``).
- ``read_with_h5py`` reads through h5py, for files the index does not read
  (chunked or compressed data, newer HDF5 layouts); the caller runs the
  child-process crash check first.

Anything neither recognises (quantized layers, bfloat16 entries, sharded or
.npz weights, a missing entry) raises ``Unsupported`` before any value is read,
and the caller falls back to ``keras.saving.load_model``.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from dataclasses import dataclass, field

import numpy as np
from zlib_ng.zlib_ng import crc32

from prune_viz.core import hdf5_index, row_blocks
from prune_viz.core.file_range import FileRange

CHECK_CHUNK_BYTES = 1 << 23  # a multiple of every item size
# rows handed from the reader thread to the loading thread: small enough that both buffers stay in
# the shared L3 cache between the read, the CRC and the scatter (first load of the 120M model in a
# process: blocks of 16 MiB 261-270 ms, 8 MiB 216-219 ms, 4 MiB 196-209 ms, 2 MiB 218-236 ms)
READ_BLOCK_ELEMENTS = 1 << 20


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

    reader = None
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
                        big.append((dataset.offset, dataset.path, variable))
                    else:
                        values = np.empty(dataset.shape, dataset.dtype)
                        _read_into(file, weights.offset + dataset.offset, values)
                        variable._initialize(values)
            # the reader reads and checks on the second core; this thread writes the rows it hands over
            reader = _MemberReader(weights, found.values(), member_crc, {path for _, path, _ in big})
            reader.start()
            for _, path, variable in sorted(big):  # in file order, as the reader reads
                row_blocks.write_rows(variable._value, reader.row_blocks(found[path]))
            reader.finish()
            for key, variable in entries.items():
                bad = reader.non_finite.get(paired[key], 0)
                if bad:
                    non_finite[variable.path] = non_finite.get(variable.path, 0) + bad
            return Loaded(model, non_finite)
    finally:
        if reader is not None:
            reader.stop()


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


class _MemberReader(threading.Thread):
    """Reads the HDF5 member once, in file order, on a thread of its own: its CRC-32, the NaN and
    infinite values of each contiguous float dataset, and the row blocks of the big datasets, which
    it hands to the loading thread through two buffers. File reads, CRC and NumPy release the GIL,
    so reading and checking run on one core while the loading thread writes rows on the other."""

    _END = object()

    def __init__(self, weights: FileRange, datasets, member_crc: int | None, handed_over: set[str]):
        """``handed_over``: the paths of the big datasets whose rows the loading thread takes."""
        super().__init__(name="prune-viz weights reader", daemon=True)
        self.weights = weights
        self.expected_crc = member_crc
        self.stored = sorted((d.offset, d.path, d) for d in datasets if d.offset is not None)
        self.big = handed_over
        self.non_finite: dict[str, int] = {}
        self._ready: queue.Queue = queue.Queue()  # (first row, rows, buffer), then _END or an exception
        self._free: queue.Queue = queue.Queue()  # buffers the loading thread is done with
        block_bytes = max([row_blocks.rows_per_block(d.shape, READ_BLOCK_ELEMENTS) * d.nbytes // d.shape[0]
                           for _, path, d in self.stored if path in self.big], default=0)
        for _ in range(2):
            self._free.put(np.empty(block_bytes, np.uint8))
        self._stop_asked = threading.Event()

    # -- the loading thread's side
    def row_blocks(self, dataset: hdf5_index.Dataset):
        """(first row, rows) of a big ``dataset``, in order, as the reader reads them; each buffer
        goes back to the reader once the caller asks for the next block."""
        done = 0
        while done < dataset.shape[0]:
            item = self._ready.get()
            if isinstance(item, BaseException):
                raise item
            r0, rows, buffer = item
            if r0 != done or rows.dtype != dataset.dtype or rows.shape[1:] != dataset.shape[1:]:
                raise RuntimeError(f"the reader handed over rows of another dataset than {dataset.path}")
            yield r0, rows
            self._free.put(buffer)
            done = r0 + len(rows)

    def finish(self) -> None:
        """Wait for the end of the member; raise what went wrong, or Damaged on a CRC mismatch."""
        item = self._ready.get()
        if isinstance(item, BaseException):
            raise item
        if item is not self._END:
            raise RuntimeError("the reader handed over rows nobody asked for")

    def stop(self) -> None:
        self._stop_asked.set()
        self._free.put(None)  # wakes the reader if it waits for a buffer
        if self.ident is not None:  # started
            self.join()

    # -- the reader's side
    def run(self) -> None:
        try:
            crc = self._read_all()
            if self.expected_crc is not None and crc != self.expected_crc:
                raise Damaged("the weights do not match the archive's CRC")
            self._ready.put(self._END)
        except BaseException as exc:  # handed to the loading thread, which raises it
            self._ready.put(exc)

    def _read_all(self) -> int:
        scratch = bytearray(CHECK_CHUNK_BYTES)
        crc, position = 0, 0
        with open(self.weights.path, "rb", buffering=0) as file:
            def read(start: int, end: int, into) -> memoryview:
                chunk = memoryview(into).cast("B")[: end - start]
                _read_into(file, self.weights.offset + start, chunk)
                return chunk

            for offset, path, dataset in self.stored:
                for start in range(position, offset, CHECK_CHUNK_BYTES):  # bytes between datasets
                    crc = crc32(read(start, min(offset, start + CHECK_CHUNK_BYTES), scratch), crc)
                if path in self.big:
                    row_bytes = dataset.nbytes // dataset.shape[0]
                    for r0, r1 in row_blocks.row_starts(dataset.shape, READ_BLOCK_ELEMENTS):
                        buffer = self._free.get()
                        if buffer is None or self._stop_asked.is_set():
                            return crc
                        chunk = read(offset + r0 * row_bytes, offset + r1 * row_bytes, buffer)
                        crc = crc32(chunk, crc)
                        rows = np.frombuffer(chunk, dataset.dtype).reshape(r1 - r0, *dataset.shape[1:])
                        self._count(path, rows)
                        self._ready.put((r0, rows, buffer))
                else:
                    for start in range(offset, offset + dataset.nbytes, CHECK_CHUNK_BYTES):
                        chunk = read(start, min(offset + dataset.nbytes, start + CHECK_CHUNK_BYTES), scratch)
                        crc = crc32(chunk, crc)
                        self._count(path, np.frombuffer(chunk, dataset.dtype))
                position = offset + dataset.nbytes
                if self._stop_asked.is_set():
                    return crc
            for start in range(position, self.weights.size, CHECK_CHUNK_BYTES):
                crc = crc32(read(start, min(self.weights.size, start + CHECK_CHUNK_BYTES), scratch), crc)
        return crc

    def _count(self, path: str, values: np.ndarray) -> None:
        bad = _count_non_finite(values)
        if bad:
            self.non_finite[path] = self.non_finite.get(path, 0) + bad
