"""Fuzzing the loaders: broken variants of real model and IDX files raise only ModelLoadError /
DataError (or load), never another exception and never hang.

A short derandomized run; tests/fuzz/fuzz_loaders.py runs the same mutations for as long as you like.
"""

from __future__ import annotations

import random
import signal
import struct
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_profiles import examples

import fuzz_mutations as mutations

SECONDS_PER_EXAMPLE = 20
FUZZ_SETTINGS = settings(
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: int):
    """Raise Hang if the body runs longer than ``seconds`` (SIGALRM; the tests run in the main thread)."""

    def expire(signum, frame):
        raise Hang(f"took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def seed_models(tmp_path_factory) -> dict[str, bytes]:
    """A small MLP and a small CNN with a nested block, as Keras 3 .keras and .h5 files."""
    import keras

    import model_factory

    folder = tmp_path_factory.mktemp("fuzz seeds")
    files = {}
    for name, build in (("mlp", model_factory.keras3_mlp), ("cnn", model_factory.keras3_functional)):
        keras.utils.set_random_seed(11)
        model = build(keras)
        for suffix in (".keras", ".h5"):
            path = folder / f"{name}{suffix}"
            model.save(path)
            files[path.name] = path.read_bytes()
    return files


@pytest.fixture(scope="module")
def seed_idx(mnist) -> dict[str, bytes]:
    """Real MNIST test images and labels (the first 200) as uncompressed IDX files."""
    images, labels = mnist.x_test[:200], mnist.y_test[:200]
    return {
        "images": struct.pack(">IIII", 0x803, len(images), 28, 28) + images.tobytes(),
        "labels": struct.pack(">II", 0x801, len(labels)) + labels.tobytes(),
    }


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz scratch")


def test_seed_files_load_unmutated(seed_models, seed_idx, scratch):
    """The mutations start from files that load: a failure below is the mutation's doing."""
    from prune_viz.core.data import read_idx
    from prune_viz.core.io import load_model

    for name, data in seed_models.items():
        (scratch / name).write_bytes(data)
        assert load_model(scratch / name).keras_model is not None
    (scratch / "labels-idx1-ubyte").write_bytes(seed_idx["labels"])
    assert read_idx(scratch / "labels-idx1-ubyte").shape == (200,)


@pytest.mark.slow
@settings(FUZZ_SETTINGS, max_examples=examples(150))
@given(
    base=st.sampled_from(["mlp.keras", "mlp.h5", "cnn.keras", "cnn.h5"]),
    kind=st.sampled_from(mutations.MODEL_KINDS),
    seed=st.integers(0, 2**32 - 1),
)
def test_mutated_models_raise_only_model_load_error(base, kind, seed, seed_models, scratch):
    from prune_viz.core.io import ModelLoadError, load_model
    from prune_viz.core.layers import find_prunable_layers

    broken = mutations.mutate_model(seed_models[base], kind, random.Random(seed))
    path = scratch / f"fuzzed{Path(base).suffix}"
    path.write_bytes(broken)
    with time_limit(SECONDS_PER_EXAMPLE):
        try:
            loaded = load_model(path)
        except ModelLoadError as exc:
            message = str(exc)
            assert message and "\n" not in message and "Traceback" not in message
            return
        find_prunable_layers(loaded)  # whatever loads must also list its layers


@settings(FUZZ_SETTINGS, max_examples=examples(250))
@given(
    which=st.sampled_from(["images", "labels"]),
    kind=st.sampled_from(mutations.IDX_KINDS),
    seed=st.integers(0, 2**32 - 1),
)
def test_mutated_idx_files_raise_only_data_error(which, kind, seed, seed_idx, scratch):
    from prune_viz.core.data import DataError, load_path, read_idx

    broken = mutations.mutate_idx(seed_idx[which], kind, random.Random(seed))
    folder = scratch / "idx"
    folder.mkdir(exist_ok=True)
    for name in ("images", "labels"):
        (folder / f"t10k-{name}-idx-ubyte").write_bytes(broken if name == which else seed_idx[name])
    with time_limit(SECONDS_PER_EXAMPLE):
        try:
            array = read_idx(folder / f"t10k-{which}-idx-ubyte")
            assert array.dtype.name == "uint8"
        except DataError as exc:
            assert str(exc) and "\n" not in str(exc)
        try:
            data = load_path(folder)
            assert data.x_test.shape[1:] == (28, 28) and len(data.x_test) == len(data.y_test)
        except DataError as exc:
            assert str(exc) and "\n" not in str(exc)


# (seed file, mutation, seed, sha256 prefix of the seed file when found, what the user must see)
FUZZER_FINDINGS = [
    ("cnn.h5", "zip-names", 101691, "f9c8ca92f093fb04", "crashed the HDF5 library (signal 11)"),
]


@pytest.mark.parametrize("base, kind, seed, seed_hash, says", FUZZER_FINDINGS)
def test_fuzzer_findings_stay_fixed(base, kind, seed, seed_hash, says, seed_models, scratch):
    """Files that once crashed (SIGSEGV inside libhdf5) the process now give one sentence."""
    import hashlib

    from prune_viz.core.io import ModelLoadError, load_model

    path = scratch / f"finding{Path(base).suffix}"
    path.write_bytes(mutations.mutate_model(seed_models[base], kind, random.Random(seed)))
    with time_limit(60), pytest.raises(ModelLoadError) as error:
        load_model(path)
    if hashlib.sha256(seed_models[base]).hexdigest().startswith(seed_hash):  # else Keras wrote other bytes
        assert says in str(error.value)


@pytest.fixture(scope="module")
def seed_npz(mnist) -> bytes:
    """Real MNIST (the first 200 test and training images) as an .npz, the layout of Keras's mnist.npz."""
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.savez(
        buffer,
        x_train=mnist.x_train[:200],
        y_train=mnist.y_train[:200],
        x_test=mnist.x_test[:200],
        y_test=mnist.y_test[:200],
    )
    return buffer.getvalue()


@settings(FUZZ_SETTINGS, max_examples=examples(150))
@given(kind=st.sampled_from(mutations.NPZ_KINDS), seed=st.integers(0, 2**32 - 1))
def test_mutated_npz_files_raise_only_data_error(kind, seed, seed_npz, scratch):
    from prune_viz.core.data import DataError, load_path

    path = scratch / "mnist.npz"
    path.write_bytes(mutations.mutate_npz(seed_npz, kind, random.Random(seed)))
    with time_limit(SECONDS_PER_EXAMPLE):
        try:
            data = load_path(path)
        except DataError as exc:
            assert str(exc) and "\n" not in str(exc)
            return
    # any .npz of arrays is data now (issue 27): what reads must be consistent, with or without labels
    assert len(data.x_test) > 0 and data.kind in ("images", "tokens", "features")
    assert data.y_test is None or len(data.x_test) == len(data.y_test)
