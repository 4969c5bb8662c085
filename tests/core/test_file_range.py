"""Reading model.weights.h5 in place inside a .keras zip, and the child-process HDF5 check on it."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from prune_viz.core import file_range, model_io


@pytest.fixture()
def archive_with_h5(tmp_path):
    import h5py

    h5 = tmp_path / "w.h5"
    with h5py.File(h5, "w") as f:
        f.create_dataset("layers/dense/vars/0", data=np.arange(5000 * 9, dtype=np.float32).reshape(5000, 9))
        f.attrs["note"] = "kept"
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", "{}")
        z.write(h5, "model.weights.h5")  # stored, as Keras writes it
        z.write(h5, "deflated.h5", compress_type=zipfile.ZIP_DEFLATED)
    return path, h5.read_bytes()


def test_a_stored_member_reads_as_its_own_file(archive_with_h5):
    path, expected = archive_with_h5
    with zipfile.ZipFile(path) as z:
        where = file_range.stored_member(path, z, "model.weights.h5")
        assert file_range.stored_member(path, z, "deflated.h5") is None  # needs decompressing
    assert where.size == len(expected)
    with where.open() as reader:
        assert reader.read() == expected
        reader.seek(-10, io.SEEK_END)
        assert reader.read() == expected[-10:]
        assert reader.read(5) == b""  # never past the member's end
        reader.seek(3)
        buffer = bytearray(4)
        assert reader.readinto(buffer) == 4 and bytes(buffer) == expected[3:7]


def test_h5py_reads_the_member_in_place(archive_with_h5):
    import h5py

    path, _ = archive_with_h5
    with zipfile.ZipFile(path) as z:
        where = file_range.stored_member(path, z, "model.weights.h5")
    with where.h5_source() as source, h5py.File(source, "r") as f:
        assert not isinstance(source, str)  # a reader, since the member is part of the zip
        np.testing.assert_array_equal(f["layers/dense/vars/0"][100:102], [np.arange(900, 909), np.arange(909, 918)])
        assert f.attrs["note"] == "kept"


@pytest.mark.parametrize("whole", [True, False])
def test_the_child_check_reads_good_files_without_error(archive_with_h5, tmp_path, whole):
    """A child that fails on a good file would silently switch off the crash check."""
    path, data = archive_with_h5
    if whole:
        (tmp_path / "alone.h5").write_bytes(data)
        where = file_range.whole_file(tmp_path / "alone.h5")
    else:
        with zipfile.ZipFile(path) as z:
            where = file_range.stored_member(path, z, "model.weights.h5")
    done = subprocess.run([sys.executable, "-c", model_io._HDF5_READ_ALL, file_range.__file__, where.path,
                           str(where.offset), str(where.size)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
