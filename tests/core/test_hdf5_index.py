"""The pure-Python HDF5 index must find exactly what h5py finds in the files Keras writes, decline
everything else with ``Unsupported``, and never fail another way on damaged bytes."""

from __future__ import annotations

import random
import signal
import struct
import zipfile

import numpy as np
import pytest

from prune_viz.core import file_range, hdf5_index
from tests.core import model_factory as factory


def _as_h5py_sees_it(source: file_range.FileRange) -> dict:
    import h5py

    found = {}
    with source.h5_source() as raw, h5py.File(raw, "r") as h5:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                contiguous = obj.id.get_create_plist().get_layout() == h5py.h5d.CONTIGUOUS
                found[name] = (np.dtype(obj.dtype), tuple(obj.shape), obj.id.get_offset() if contiguous else None,
                               frozenset(obj.attrs), obj[()].tobytes())
        h5.visititems(visit)
    return found


def _as_index_sees_it(source: file_range.FileRange) -> dict:
    found = {}
    with open(source.path, "rb") as f:
        for name, dataset in hdf5_index.datasets(source).items():
            data = dataset.compact
            if data is None:
                f.seek(source.offset + dataset.offset)
                data = f.read(dataset.nbytes)
            found[name] = (dataset.dtype, dataset.shape, dataset.offset, dataset.attributes, data)
    return found


def _weights_member(path) -> file_range.FileRange:
    with zipfile.ZipFile(path) as archive:
        return file_range.stored_member(path, archive, "model.weights.h5")


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory) -> dict:
    import keras

    folder = tmp_path_factory.mktemp("hdf5 index")
    models = {
        "mlp": factory.keras3_mlp(keras),
        "functional": factory.keras3_functional(keras),
        # 300 layers: more name nodes than one B-tree node points to, so that group's B-tree has two levels
        "deep": keras.Sequential([keras.Input((4,))] + [keras.layers.Dense(4) for _ in range(300)]),
    }
    trained = factory.keras3_mlp(keras)
    trained.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    x = factory.reference_input(trained.inputs[0].shape)
    trained.fit(x, np.arange(len(x)) % 10, epochs=1, verbose=0)
    models["trained"] = trained  # optimizer variables too, some of them integer
    paths = {}
    for name, model in models.items():
        paths[name] = folder / f"{name}.keras"
        model.save(paths[name])
    return paths


@pytest.mark.parametrize("name", ["mlp", "functional", "deep", "trained"])
def test_index_finds_what_h5py_finds_in_keras_archives(name, keras_files):
    member = _weights_member(keras_files[name])
    assert member is not None
    ours = _as_index_sees_it(member)
    assert ours == _as_h5py_sees_it(member)
    assert len(ours) >= (600 if name == "deep" else 4)


def test_index_reads_compact_scalar_integer_and_float_datasets(tmp_path):
    import h5py

    path = tmp_path / "kinds.h5"
    with h5py.File(path, "w") as h5:
        layout = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        layout.set_layout(h5py.h5d.COMPACT)
        space = h5py.h5s.create_simple((4, 3))
        compact = h5py.h5d.create(h5.id, b"compact", h5py.h5t.IEEE_F32LE, space, layout)
        compact.write(h5py.h5s.ALL, h5py.h5s.ALL, np.arange(12, dtype=np.float32).reshape(4, 3))
        for dtype in ("int64", "uint8", "int32", "float16", "float64"):
            h5.create_dataset(f"kinds/{dtype}", data=np.arange(-2, 5).astype(dtype))
        h5.create_dataset("scalar", data=np.float32(3.5))
        h5["kinds/float64"].attrs["dtype"] = "bfloat16"  # attribute names are reported
        for i in range(40):  # enough attributes to need a header continuation block
            h5["kinds"].attrs[f"note{i}"] = np.arange(50)
    source = file_range.whole_file(path)
    ours = _as_index_sees_it(source)
    assert ours == _as_h5py_sees_it(source)
    assert ours["compact"][2] is None and ours["kinds/float64"][3] == {"dtype"}
    assert ours["scalar"][1] == ()


def _chunked(h5):
    h5.create_dataset("a", data=np.ones((40, 40), np.float32), chunks=(10, 10))


def _compressed(h5):
    h5.create_dataset("a", data=np.ones((40, 40), np.float32), compression="gzip")


@pytest.mark.parametrize("write, libver", [
    (_chunked, None),
    (_compressed, None),
    (lambda h5: h5.create_dataset("a", data=np.ones(4, np.float32)), "latest"),  # newer superblock, headers
    (lambda h5: h5.create_dataset("a", data=np.arange(4, dtype=">f4")), None),  # big-endian
    (lambda h5: h5.create_dataset("a", data=np.array([b"text"])), None),  # strings
    (lambda h5: h5.create_dataset("a", shape=(8,), dtype="f4"), None),  # never written: no storage
], ids=["chunked", "compressed", "latest format", "big-endian", "strings", "unwritten"])
def test_index_declines_what_it_does_not_read(write, libver, tmp_path):
    import h5py

    path = tmp_path / "other.h5"
    with h5py.File(path, "w", libver=libver) as h5:
        write(h5)
    with pytest.raises(hdf5_index.Unsupported):
        hdf5_index.datasets(file_range.whole_file(path))


def test_index_declines_datasets_that_share_bytes(tmp_path):
    import h5py

    path = tmp_path / "shared.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("a", data=np.ones(64, np.float32))
        h5.create_dataset("b", data=np.zeros(64, np.float32))
    source = file_range.whole_file(path)
    found = hdf5_index.datasets(source)
    a, b = found["a"], found["b"]
    data = path.read_bytes()
    b_layout = struct.pack("<QQ", b.offset, b.nbytes)  # b's layout message: its data's address and size
    assert data.count(b_layout) == 1
    path.write_bytes(data.replace(b_layout, struct.pack("<QQ", a.offset + 8, b.nbytes)))
    with pytest.raises(hdf5_index.Unsupported, match="share bytes"):
        hdf5_index.datasets(source)


def _raise_hang(signum, frame):
    raise TimeoutError("the index did not finish within 5 s")


@pytest.mark.parametrize("name", ["trained", "deep"])
def test_damaged_bytes_give_unsupported_or_an_index_never_another_error(name, keras_files, tmp_path):
    member = _weights_member(keras_files[name])
    with open(member.path, "rb") as f:
        f.seek(member.offset)
        original = f.read(member.size)
    # the structures (superblock, headers, B-trees, heaps) lie before the first dataset's data
    structures_end = min(d.offset for d in hdf5_index.datasets(member).values() if d.offset is not None)
    rng = random.Random(7)
    outcomes = {"index": 0, "unsupported": 0}
    damaged = tmp_path / "damaged.h5"
    previous = signal.signal(signal.SIGALRM, _raise_hang)
    try:
        for _ in range(400):
            data = bytearray(original)
            for _ in range(rng.choice([1, 2, 4, 16])):
                at = rng.randrange(structures_end)
                data[at] = rng.choice([0, 0xFF, rng.randrange(256), data[at] ^ (1 << rng.randrange(8))])
            if rng.random() < 0.1:
                data = data[:rng.randrange(len(data))]
            damaged.write_bytes(data)
            signal.alarm(5)
            try:
                hdf5_index.datasets(file_range.whole_file(damaged))
                outcomes["index"] += 1
            except hdf5_index.Unsupported:
                outcomes["unsupported"] += 1
            finally:
                signal.alarm(0)
    finally:
        signal.signal(signal.SIGALRM, previous)
    # both happen: damage in padding or timestamps is harmless (the zip CRC catches it in an archive)
    assert outcomes["unsupported"] > 50 and outcomes["index"] > 50, outcomes
