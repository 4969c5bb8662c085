"""The block-wise Keras 3 reader must give exactly the model ``keras.saving.load_model`` gives,
and hand over to Keras's loader for anything it does not understand."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from prune_viz.core import file_range, keras_weights, model_io, row_blocks
from prune_viz.core.layers import find_prunable_layers
from prune_viz.core.pruning import Pruner, PruningConfig
from tests.core import model_factory as factory


def _batchnorm_dropout_model(keras):
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(6, 5, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Dropout(0.3, seed=1, name="drop")(x)  # a SeedGenerator: a variable of its own
    x = keras.layers.Dense(40, activation="relu", name="fc")(x)
    return keras.Model(inputs, keras.layers.Dense(10, name="head")(x), name="bn_drop")


def _trained(keras, model):
    """Compiled and fitted for one step, so that the archive also holds optimizer variables."""
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = factory.reference_input(model.inputs[0].shape)
    model.fit(x, np.arange(len(x)) % 10, epochs=1, verbose=0)
    return model


BUILDERS = {
    "mlp": factory.keras3_mlp,
    "functional": factory.keras3_functional,
    "bn_drop": _batchnorm_dropout_model,
    "trained_mlp": lambda keras: _trained(keras, factory.keras3_mlp(keras)),
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict:
    import keras

    folder = tmp_path_factory.mktemp("keras_weights")
    paths = {}
    for name, build in BUILDERS.items():
        keras.utils.set_random_seed(11)
        paths[name] = folder / f"{name}.keras"
        build(keras).save(paths[name])
    return paths


def _without_keras_loader(monkeypatch):
    import keras

    def refuse(*args, **kwargs):
        raise AssertionError("keras.saving.load_model was used")

    monkeypatch.setattr(keras.saving, "load_model", refuse)


def _only_reader(reader: str, monkeypatch) -> list:
    """Make ``model_io`` use ``reader`` ("in place" or "h5py"); returns the list of readers that ran."""
    ran = []
    real_in_place, real_h5py = keras_weights.read_in_place, keras_weights.read_with_h5py

    def in_place(*args):
        if reader != "in place":
            raise keras_weights.Unsupported("this test reads through h5py")
        ran.append("in place")
        return real_in_place(*args)

    def with_h5py(*args):
        ran.append("h5py")
        return real_h5py(*args)

    monkeypatch.setattr(keras_weights, "read_in_place", in_place)
    monkeypatch.setattr(keras_weights, "read_with_h5py", with_h5py)
    return ran


@pytest.mark.parametrize("name", list(BUILDERS))
@pytest.mark.parametrize("block_elements", [row_blocks.BLOCK_ELEMENTS, 64])
@pytest.mark.parametrize("reader", ["in place", "h5py"])
def test_block_reader_gives_the_keras_model(name, block_elements, reader, saved, monkeypatch):
    import keras

    reference = keras.saving.load_model(saved[name], compile=False)
    monkeypatch.setattr(row_blocks, "BLOCK_ELEMENTS", block_elements)  # 64: rows of every kernel in blocks
    monkeypatch.setattr(keras_weights, "READ_BLOCK_ELEMENTS", block_elements)  # handed over in many blocks
    monkeypatch.setattr(keras_weights, "CHECK_CHUNK_BYTES", 64)  # and the rest checked in many chunks
    _without_keras_loader(monkeypatch)
    ran = _only_reader(reader, monkeypatch)
    loaded = model_io.load_model(saved[name])
    assert ran == [reader]
    ours = loaded.keras_model
    assert [w.path for w in ours.weights] == [w.path for w in reference.weights]
    for mine, theirs in zip(ours.weights, reference.weights):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy(), err_msg=mine.path)
    x = factory.reference_input(reference.inputs[0].shape)
    np.testing.assert_array_equal(ours(x, training=False), reference(x, training=False))
    # what it did not rebuild, it must not have changed: the config the user's file describes
    assert ours.get_config() == reference.get_config()


def test_block_read_kernels_prune_and_restore(saved, monkeypatch):
    monkeypatch.setattr(row_blocks, "BLOCK_ELEMENTS", 64)
    loaded = model_io.load_model(saved["mlp"])
    layers = find_prunable_layers(loaded)
    pruner = Pruner(layers)
    h1 = layers[0]
    pruner.apply(pruner.prune(PruningConfig("weight", 50, "layer", frozenset({"h1"}))))
    assert np.count_nonzero(h1.variable.numpy() == 0) == h1.size // 2
    pruner.restore()
    np.testing.assert_array_equal(h1.variable.numpy(), h1.original)


def test_no_variable_is_left_for_keras_to_initialise(saved):
    import keras
    from keras.src.backend.common import global_state

    model_io.load_model(saved["bn_drop"])
    assert not global_state.get_global_attribute("uninitialized_variables")
    with keras.StatelessScope():  # leaving a scope initialises pending variables: none, and no error
        pass


def test_unknown_entries_hand_over_to_keras(saved, tmp_path, monkeypatch):
    """A weights file with an entry the model does not have is not guessed at."""
    import h5py

    source = saved["mlp"]
    odd = tmp_path / "odd.keras"
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(odd, "w") as out:
        for item in archive.infolist():
            data = archive.read(item)
            if item.filename == "model.weights.h5":
                weights = tmp_path / "w.h5"
                weights.write_bytes(data)
                with h5py.File(weights, "a") as h5:
                    h5.create_dataset("layers/ghost/vars/0", data=np.ones(3, np.float32))
                data = weights.read_bytes()
            out.writestr(item.filename, data)
    used = []
    import keras

    real = keras.saving.load_model
    monkeypatch.setattr(keras.saving, "load_model", lambda *a, **k: used.append(a) or real(*a, **k))
    loaded = model_io.load_model(odd)
    assert used, "Keras's loader should have read this archive"
    with zipfile.ZipFile(odd) as archive:
        config = archive.read("config.json").decode()
    for read in (keras_weights.read_in_place, keras_weights.read_with_h5py):
        with pytest.raises(keras_weights.Unsupported):
            read(config, file_range.whole_file(weights))
    np.testing.assert_array_equal(loaded.keras_model.get_layer("h1").kernel.numpy(),
                                  real(source).get_layer("h1").kernel.numpy())


def test_in_place_reader_needs_neither_libhdf5_nor_a_child_process(saved, monkeypatch):
    import h5py

    def refuse(*args, **kwargs):
        raise AssertionError("libhdf5 was used")

    monkeypatch.setattr(h5py, "File", refuse)
    monkeypatch.setattr(model_io, "_check_hdf5_in_subprocess", refuse)
    loaded = model_io.load_model(saved["bn_drop"])
    assert loaded.non_finite_read == {}
    assert loaded.format == "Keras 3 archive (.keras)"


def _with_weights_bytes_changed(source, target, change) -> None:
    """A copy of the archive ``source`` whose stored model.weights.h5 went through ``change``
    (bytearray -> None), its CRC left as it was."""
    data = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as archive:
        member = file_range.stored_member(source, archive, "model.weights.h5")
    weights = data[member.offset:member.offset + member.size]
    change(weights, member)
    data[member.offset:member.offset + member.size] = weights
    target.write_bytes(bytes(data))


def test_weights_that_fail_their_crc_are_damaged(saved, tmp_path):
    from prune_viz.core import hdf5_index

    flipped = tmp_path / "flipped.keras"

    def flip_a_kernel_bit(weights, member):
        kernel = hdf5_index.datasets(member)["layers/dense/vars/0"]
        weights[kernel.offset + 5] ^= 0x10  # still a plausible float: only the CRC can tell

    _with_weights_bytes_changed(saved["mlp"], flipped, flip_a_kernel_bit)
    with pytest.raises(model_io.ModelLoadError, match=r"flipped.keras is damaged \(its member model.weights.h5"):
        model_io.load_model(flipped)


@pytest.mark.parametrize("chunk_bytes", [keras_weights.CHECK_CHUNK_BYTES, 24])
def test_non_finite_weights_are_counted_while_reading(saved, tmp_path, monkeypatch, chunk_bytes):
    """The in-place reader counts NaN and infinities as it checks the CRC: the same counts as
    reading every variable back, in both the big kernel (row blocks) and a small one."""
    import keras

    model = keras.saving.load_model(saved["mlp"], compile=False)
    h1, out = model.get_layer("h1").kernel, model.get_layer("out").kernel
    values = h1.numpy()
    values.flat[[0, 7, values.size - 1]] = [np.nan, np.inf, -np.inf]
    h1.assign(values)
    values = out.numpy()
    values.flat[3] = np.nan
    out.assign(values)
    path = tmp_path / "nan.keras"
    model.save(path)
    monkeypatch.setattr(row_blocks, "BLOCK_ELEMENTS", 64)
    monkeypatch.setattr(keras_weights, "READ_BLOCK_ELEMENTS", 64)
    monkeypatch.setattr(keras_weights, "CHECK_CHUNK_BYTES", chunk_bytes)
    loaded = model_io.load_model(path)
    assert loaded.non_finite_read is not None, "the in-place reader should have read this archive"
    expected = loaded.non_finite_weights()  # read back from the variables
    assert expected == {"h1": 3, "out": 1}
    assert model_io._by_layer(loaded.non_finite_read) == expected
    assert sorted(loaded.notes) == ["layer h1 has 3 NaN or infinite weights", "layer out has 1 NaN or infinite weights"]


def test_a_failed_row_write_stops_the_reader_and_hands_over(saved, monkeypatch):
    """If writing rows fails half-way, the reader thread stops (no hang, no thread left behind) and
    the checked h5py path reads the archive instead."""
    import threading

    import keras

    monkeypatch.setattr(row_blocks, "BLOCK_ELEMENTS", 64)
    monkeypatch.setattr(keras_weights, "READ_BLOCK_ELEMENTS", 64)
    real_write = row_blocks.write_rows

    def fail_after_one_block(variable, blocks):
        real_write(variable, [next(iter(blocks))])
        raise RuntimeError("a write failed")

    monkeypatch.setattr(row_blocks, "write_rows", fail_after_one_block)
    ran = _only_reader("in place", monkeypatch)
    monkeypatch.setattr(keras_weights, "read_with_h5py", lambda *a: ran.append("h5py") or keras_weights.Loaded(
        keras.saving.load_model(saved["mlp"], compile=False)))
    loaded = model_io.load_model(saved["mlp"])
    assert ran == ["in place", "h5py"]
    assert loaded.non_finite_read is None
    assert not [t for t in threading.enumerate() if t.name == "prune-viz weights reader"]
