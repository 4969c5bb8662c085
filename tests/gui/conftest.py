"""Fixtures shared by the GUI tests."""

from __future__ import annotations

import pytest

from prune_viz.core.session import open_model


@pytest.fixture(scope="module")
def opened_mlp(trained_mlp_path):
    """The small trained MLP, opened once per test module (pruning never changes it for good)."""
    return open_model(trained_mlp_path)
