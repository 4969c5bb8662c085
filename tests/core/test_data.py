"""MNIST loading from the real files, in every form a user may have them."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest

from prune_viz.core import data as data_module
from prune_viz.core.data import DataError, load_idx_folder, load_mnist, load_npz, read_idx

TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_real_test_set_and_5k_subset(mnist_train):
    assert mnist_train.x_test.shape == (10_000, 28, 28) and mnist_train.x_test.dtype == np.uint8
    assert np.bincount(mnist_train.y_test, minlength=10).tolist() == TEST_LABEL_COUNTS
    assert mnist_train.x_train.shape == (5_000, 28, 28)
    assert np.bincount(mnist_train.y_train, minlength=10).tolist() == [500] * 10
    assert not mnist_train.is_full_training_set
    assert mnist_train.train_description == "MNIST 5,000-image training subset"


def test_uncompressed_idx_reads_the_same(mnist_dir, tmp_path):
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with gzip.open(mnist_dir / f"{name}.gz") as src, open(tmp_path / name, "wb") as dst:
            shutil.copyfileobj(src, dst)
    raw = load_idx_folder(tmp_path)
    np.testing.assert_array_equal(raw.x_test, read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz"))
    assert len(raw.x_train) == 0 and raw.train_description == "no MNIST training images"


def test_npz_round_trip(mnist, tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=mnist.x_train, y_train=mnist.y_train, x_test=mnist.x_test, y_test=mnist.y_test)
    loaded = load_npz(path)
    np.testing.assert_array_equal(loaded.x_test, mnist.x_test)
    np.testing.assert_array_equal(loaded.y_train, mnist.y_train)
    assert loaded.source == str(path)


def test_resolution_order(mnist, mnist_dir, tmp_path, monkeypatch):
    cache_home = tmp_path / "keras_home"
    (cache_home / "datasets").mkdir(parents=True)
    np.savez(
        cache_home / "datasets" / "mnist.npz",
        x_train=mnist.x_train[:10],
        y_train=mnist.y_train[:10],
        x_test=mnist.x_test[:20],
        y_test=mnist.y_test[:20],
    )
    monkeypatch.setenv("KERAS_HOME", str(cache_home))
    monkeypatch.delenv(data_module.ENV_VAR, raising=False)
    assert len(load_mnist().x_test) == 20  # the Keras cache
    monkeypatch.setenv(data_module.ENV_VAR, str(mnist_dir))
    assert len(load_mnist().x_test) == 10_000  # the environment variable beats the cache
    other = tmp_path / "explicit.npz"
    np.savez(other, x_test=mnist.x_test[:30], y_test=mnist.y_test[:30])
    assert len(load_mnist(other).x_test) == 30  # an explicit path beats both


def _no_local_data(tmp_path, monkeypatch):
    """An empty home: no Keras cache, no environment variable."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / ".keras"))
    monkeypatch.delenv(data_module.ENV_VAR, raising=False)


def test_without_local_data_evaluation_uses_the_bundled_test_set(mnist, tmp_path, monkeypatch):
    import keras

    _no_local_data(tmp_path, monkeypatch)

    def no_download():
        raise AssertionError("evaluation data must not be downloaded")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", no_download)
    loaded = load_mnist()
    assert loaded.source == data_module.BUNDLED_SOURCE
    assert len(loaded.x_test) == 10_000 and len(loaded.x_train) == 0
    np.testing.assert_array_equal(loaded.x_test, mnist.x_test)
    np.testing.assert_array_equal(loaded.y_test, mnist.y_test)


def test_bundled_test_set_matches_its_checksums():
    import hashlib

    sums = (data_module.BUNDLED_TEST_SET / "SHA256SUMS").read_text().split("\n")
    listed = dict(reversed(line.split()) for line in sums if line.strip())
    assert set(listed) == {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}
    for name, digest in listed.items():
        assert hashlib.sha256((data_module.BUNDLED_TEST_SET / name).read_bytes()).hexdigest() == digest
    assert "LeCun" in (data_module.BUNDLED_TEST_SET / "README.md").read_text()


def test_training_data_offline_is_one_sentence_without_flags(tmp_path, monkeypatch):
    import keras

    _no_local_data(tmp_path, monkeypatch)

    def no_network():
        raise OSError(101, "Network is unreachable")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", no_network)
    with pytest.raises(data_module.MissingData) as info:
        load_mnist(need_training=True)
    message = str(info.value)
    assert "Network is unreachable" in message and "training images" in message
    assert "--data" not in message and "(OSError)" not in message and "(Exception)" not in message


def test_download_path_is_used_when_training_needs_it(mnist, tmp_path, monkeypatch):
    import keras

    _no_local_data(tmp_path, monkeypatch)
    fake_full = ((np.zeros((60_000, 28, 28), np.uint8), np.zeros(60_000, np.uint8)), (mnist.x_test, mnist.y_test))
    monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda: fake_full)
    loaded = load_mnist(need_training=True)
    assert loaded.is_full_training_set and loaded.source == "keras.datasets.mnist"
    assert load_mnist().source == data_module.BUNDLED_SOURCE  # evaluation never downloads


def test_bad_magic_and_count_mismatch(mnist_dir, tmp_path):
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x09\x99" + b"\x00" * 20)
    with pytest.raises(DataError, match="bad magic"):
        read_idx(tmp_path / "t10k-images-idx3-ubyte")
    with gzip.open(mnist_dir / "t10k-labels-idx1-ubyte.gz") as f:
        labels = f.read()
    (tmp_path / "short-labels").write_bytes(labels[:-5])
    with pytest.raises(DataError, match="size does not match"):
        read_idx(tmp_path / "short-labels")
