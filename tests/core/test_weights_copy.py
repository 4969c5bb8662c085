"""A weights-only model's new weights written into a copy of its file: the code that built the
original loads the copy, and finds exactly the weights written (and every other weight as saved)."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from prune_viz.core.files import OutputExists, WriteRefused
from prune_viz.core.io import load_model
from prune_viz.core.io.weights_copy import write_weights_copy

pytestmark = pytest.mark.slow  # the checkpoints are saved by processes of their own

FILES = ["custom.keras", "custom.h5", "k2-lambda.h5", "k2-lambda-h5.keras", "k2-lambda.keras"]


def every_other_zero(values: np.ndarray) -> np.ndarray:
    pruned = np.array(values, copy=True)
    if pruned.ndim >= 2:
        pruned.reshape(-1)[::2] = 0
    return pruned


@pytest.mark.keras_floor
def test_the_code_that_built_it_loads_the_copy(weights_only_models, tmp_path):
    copies = {}
    for name in FILES:
        source = weights_only_models.path(name)
        loaded = load_model(source)
        assert loaded.weights_only
        arrays = {}
        for i, stored in enumerate(loaded.stored_variables):
            values = every_other_zero(stored.variable.numpy())
            arrays[stored if i % 2 else stored.dataset] = values  # by StoredVariable or by dataset path alike
        copy = tmp_path / f"{source.stem}-copy{source.suffix}"
        written = write_weights_copy(loaded, copy, arrays, metadata={"pruned": "every other weight"})
        assert written == copy and source.read_bytes() != copy.read_bytes()
        copies[copy] = name
    loads = weights_only_models.load_as_their_code_does(list(copies))
    for copy, name in copies.items():
        found, saved = loads[copy], weights_only_models.saved_weights(name)
        assert sorted(found) == sorted(saved), name
        for key, values in saved.items():
            np.testing.assert_array_equal(found[key], every_other_zero(values), err_msg=f"{name}: {key}")
        assert sum(values.ndim >= 2 for values in saved.values()) >= 5
        source = weights_only_models.path(name)
        if zipfile.is_zipfile(source):
            with zipfile.ZipFile(source) as before, zipfile.ZipFile(copy) as after:
                assert after.namelist() == before.namelist() + ["prune_viz.json"]
                for member in before.namelist():
                    if member != "model.weights.h5":
                        assert after.read(member) == before.read(member)
                assert "every other weight" in after.read("prune_viz.json").decode()
        else:
            import h5py

            with h5py.File(copy, "r") as h5:
                assert "every other weight" in h5.attrs["prune_viz"]


def test_the_copy_is_refused_where_it_would_mislead(weights_only_models, tmp_path, trained_mlp_path):
    source = weights_only_models.path("custom.h5")
    loaded = load_model(source)
    with pytest.raises(WriteRefused, match="must end in .h5 like custom.h5"):
        write_weights_copy(loaded, tmp_path / "copy.keras", {})
    with pytest.raises(WriteRefused, match="opened model"):
        write_weights_copy(loaded, source, {}, force=True)
    existing = tmp_path / "existing.h5"
    existing.write_bytes(b"mine")
    with pytest.raises(OutputExists):
        write_weights_copy(loaded, existing, {})
    assert existing.read_bytes() == b"mine"
    stored = loaded.stored_variables[0]
    with pytest.raises(ValueError, match="shape"):
        write_weights_copy(loaded, tmp_path / "wrong.h5", {stored: np.zeros((1, 2, 3))})
    assert not (tmp_path / "wrong.h5").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["existing.h5"]
    with pytest.raises(ValueError, match="whole model"):
        write_weights_copy(load_model(trained_mlp_path), tmp_path / "mlp.keras", {})
