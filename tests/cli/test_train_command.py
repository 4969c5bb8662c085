"""prune-viz train, run as the user runs it, on real MNIST."""

from __future__ import annotations

import pytest

from cli_helpers import assert_one_line_error, run


@pytest.mark.slow
@pytest.mark.usefixtures("mnist_train")
def test_train_writes_an_honestly_labelled_model(capsys, mnist_dir, tmp_path):
    """The suite's one run of ``prune-viz train`` itself; the other tests share tests/conftest.py's model."""
    from prune_viz.core.io import load_model

    path = tmp_path / "lenet.keras"
    code, out, err = run(
        capsys,
        "train",
        "--arch",
        "lenet-300-100",
        "--epochs",
        "1",
        "--seed",
        "5",
        "--data",
        mnist_dir,
        "--batch-size",
        "64",
        "--out",
        path,
    )
    assert code == 0, err
    assert "Trained on:   MNIST 5,000-image training subset" in out
    meta = load_model(path).metadata
    assert meta["trained_on"] == "MNIST 5,000-image training subset"
    assert meta["arch"] == "lenet-300-100" and meta["seed"] == 5 and meta["epochs"] == 1
    assert meta["test_accuracy"] > 0.8
    code, out, err = run(capsys, "inspect", path)
    assert code == 0 and "Trained on:   MNIST 5,000-image training subset" in out


def test_train_refuses_to_overwrite_without_force(trained_mlp_path, capsys, mnist_dir, tmp_path):
    existing = tmp_path / "mlp.keras"
    existing.write_bytes(trained_mlp_path.read_bytes())
    code, out, err = run(
        capsys, "train", "--arch", "lenet-300-100", "--epochs", "1", "--data", mnist_dir, "--out", existing
    )
    assert_one_line_error(code, err, "already exists", "--force")
    assert existing.read_bytes() == trained_mlp_path.read_bytes()


def test_train_errors_are_one_line(capsys, tmp_path):
    code, _, err = run(
        capsys, "train", "--arch", "lenet-300-100", "--data", tmp_path / "nowhere", "--out", tmp_path / "m.keras"
    )
    assert_one_line_error(code, err, "does not exist")
    code, _, err = run(capsys, "train", "--arch", "vgg", "--out", tmp_path / "m.keras")
    assert_one_line_error(code, err, "invalid choice")
    code, _, err = run(capsys, "train", "--arch", "fc-1000", "--epochs", "0", "--out", tmp_path / "m.keras")
    assert_one_line_error(code, err, "at least 1")
    assert not (tmp_path / "m.keras").exists()


def test_train_offline_without_training_data_says_how_to_point_at_some(capsys, tmp_path, monkeypatch):
    import keras

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / ".keras"))
    monkeypatch.delenv("PRUNE_VIZ_MNIST", raising=False)

    def offline():
        raise OSError(101, "Network is unreachable")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    code, _, err = run(capsys, "train", "--arch", "lenet-300-100", "--out", tmp_path / "m.keras")
    assert_one_line_error(code, err, "training images", "Network is unreachable", "--data SOURCE", "PRUNE_VIZ_MNIST")
    assert not (tmp_path / "m.keras").exists()
