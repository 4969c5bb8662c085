"""Fixtures shared by the CLI tests."""

from __future__ import annotations

import pytest

from prune_viz.cli import main


@pytest.fixture(scope="session")
def trained_file(tmp_path_factory, mnist_dir):
    """A LeNet-300-100 trained for one epoch by ``prune-viz train``."""
    path = tmp_path_factory.mktemp("cli") / "lenet.keras"
    assert main(["train", "--arch", "lenet-300-100", "--epochs", "1", "--seed", "5", "--data", str(mnist_dir),
                 "--batch-size", "64", "--out", str(path)]) == 0
    return path
