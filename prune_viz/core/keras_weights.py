"""Build a Keras 3 model from its config and read its weights in row blocks.

``keras.saving.load_model`` initialises every variable randomly, holds the
whole ``model.weights.h5`` in memory and reads each variable as one array
before assigning it: for a 120M-weight model its peak was 5.5x the weights.
Here the model is built inside a ``StatelessScope`` (variables exist but hold
no values), Keras's own save walk says which file entry belongs to which
variable, and each variable is created once and filled block by block from
the HDF5 file: the peak stays near 1.2x the weights.

Anything this reader does not recognise (quantized layers, bfloat16 entries,
sharded or .npz weights, a missing entry) raises ``Unsupported`` before any
value is read, and the caller falls back to ``keras.saving.load_model``.
"""

from __future__ import annotations

import numpy as np

from prune_viz.core import row_blocks
from prune_viz.core.file_range import FileRange


class Unsupported(Exception):
    """This archive needs Keras's own loader."""


def load_keras3(config_json: str, weights: FileRange):
    """The model described by ``config_json`` with the weights in ``weights`` (an HDF5 file, or a
    stored member of the archive)."""
    import h5py
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
        with weights.h5_source() as source, h5py.File(source, "r") as h5:
            datasets = _matching_datasets(h5, entries, pending)
            for (path, key), variable in entries.items():
                _fill(variable, datasets[(path, key)])
        for variable in pending:  # not saved (e.g. the seed state of RandomFlip): its own initial value,
            if variable._value is None:  # as Keras's loader leaves it
                variable._deferred_initialize()
        return model
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


def _matching_datasets(h5, entries: dict, pending: list) -> dict:
    """The HDF5 dataset for every entry, after checking that entries and variables pair up one to one."""
    import h5py

    from keras.src.backend.common.variables import Variable

    fresh = {id(v) for v in pending}
    if len({id(v) for v in entries.values()}) != len(entries) or not {id(v) for v in entries.values()} <= fresh:
        raise Unsupported("the saved entries are not distinct variables of this model")
    found = {}
    for (path, key), variable in entries.items():
        if not isinstance(variable, Variable) or variable._value is not None:
            raise Unsupported(f"entry {path}/{key} is not a fresh variable")
        group = h5.get(f"{path}/vars" if path else "vars")
        dataset = group.get(key) if isinstance(group, h5py.Group) else None
        if not isinstance(dataset, h5py.Dataset):
            raise Unsupported(f"no dataset for {path}/{key}")
        if tuple(dataset.shape) != tuple(variable.shape) or "dtype" in dataset.attrs:
            raise Unsupported(f"{path}/{key} has another shape or a special dtype")
        if np.dtype(dataset.dtype) != np.dtype(variable.dtype):
            raise Unsupported(f"{path}/{key} is {dataset.dtype}, the variable {variable.dtype}")
        found[(path, key)] = dataset
    # every dataset of the file must be used: left-over data means this reader misunderstood the file
    in_file = []
    h5.visititems(lambda name, obj: in_file.append(name) if isinstance(obj, h5py.Dataset) else None)
    expected = {f"{path}/vars/{key}" if path else f"vars/{key}" for path, key in entries}
    # compile=False ignores a saved optimizer, as Keras's loader does; anything else is unexpected
    if {name for name in in_file if not name.startswith("optimizer/")} != expected:
        raise Unsupported("the file holds entries the model does not have")
    return found


def _fill(variable, dataset) -> None:
    """Create ``variable``'s tensor and copy ``dataset`` into it, big ones row block by row block."""
    import tensorflow as tf

    shape = tuple(variable.shape)
    if not row_blocks.is_big(shape):
        variable._initialize(np.asarray(dataset[()]))
        return
    variable._initialize(tf.zeros(shape, variable.dtype))
    row_blocks.write_rows(variable._value, ((r0, dataset[r0:r1]) for r0, r1 in row_blocks.row_starts(shape)))
