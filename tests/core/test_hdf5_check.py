"""The crash check's child reads a file's HDF5 data once per content: the same bytes opened again
(reopening, a lesson, a sweep) start no second child; other bytes do."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from prune_viz.core.io import hdf5_check
from prune_viz.core.io.loading import load_model
from prune_viz.resources import demo_model_path


@pytest.fixture
def children(monkeypatch):
    """The children the crash check starts, counted."""
    started = []
    real_popen = subprocess.Popen

    def popen(argv, *args, **kwargs):
        if argv[1:3] == ["-c", hdf5_check.READ_ALL_SCRIPT]:
            started.append(argv[3:])
        return real_popen(argv, *args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", popen)
    monkeypatch.setattr(hdf5_check, "_read_safely", {})
    return started


def _weights(loaded) -> list[np.ndarray]:
    return [np.asarray(v) for v in loaded.keras_model.weights]


def test_the_same_bytes_are_read_by_a_child_once_and_open_the_same(tmp_path, children):
    first_path = tmp_path / "first.keras"
    shutil.copyfile(demo_model_path(), first_path)
    first = load_model(first_path)
    assert len(children) == 1
    again = load_model(first_path)  # reopened
    copied = tmp_path / "copy.keras"
    shutil.copyfile(first_path, copied)  # the same bytes under another name
    third = load_model(copied)
    assert len(children) == 1
    for a, b, c in zip(_weights(first), _weights(again), _weights(third), strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_other_bytes_are_read_by_a_child_again(tmp_path, children):
    path = tmp_path / "model.keras"
    shutil.copyfile(demo_model_path(), path)
    load_model(path)
    import keras

    model = keras.saving.load_model(path)
    model.layers[-1].kernel.assign(model.layers[-1].kernel + 1.0)
    model.save(path)  # the file changed where it was
    changed = load_model(path)
    assert len(children) == 2
    np.testing.assert_array_equal(_weights(changed)[-2], np.asarray(model.layers[-1].kernel))
