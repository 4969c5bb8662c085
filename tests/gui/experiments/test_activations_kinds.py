"""The activations and filters pages on the models issue 29 names beyond a plain CNN: a transformer block's
attention heads drawn unpruned beside pruned ("heads for attention"), and the layers of nested models (a
Functional backbone and a Sequential block called as layers). Each model is built once in this file."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from nested_models import nested_model

from prune_viz.core.session import Session, open_model
from prune_viz.gui.experiments.activations import ActivationsPage
from prune_viz.gui.experiments.filters import FiltersPage
from prune_viz.gui.views.colours import background_rgb
from prune_viz.gui.workers import JobQueue

from gui_helpers import WAIT_MS, image_pixels, job_threads

TOKENS, WIDTH, HEADS = 10, 16, 2  # the kind checkpoints' transformer block: (10, 16) inputs, 2 heads of 8


@pytest.fixture(scope="module")
def transformer(tmp_path_factory):
    """The kind checkpoints' "transformer-block-fn" model (tests/core/kind_models.py, built alone rather than
    with every checkpoint) as .keras, and 20 random sequences labelled by its own answers as .npz."""
    import keras

    core = str(Path(__file__).resolve().parents[2] / "core")
    if core not in sys.path:
        sys.path.append(core)
    import kind_models

    kind = next(k for k in kind_models.KINDS if k.name == "transformer-block")
    model = kind_models.build(keras, kind, "fn")
    folder = tmp_path_factory.mktemp("transformer")
    model.save(folder / "transformer.keras")
    x = np.random.default_rng(5).normal(size=(20, TOKENS, WIDTH)).astype(np.float32)
    np.savez(folder / "sequences.npz", x_test=x, y_test=np.argmax(np.asarray(model(x)), axis=1))
    return open_model(folder / "transformer.keras"), folder / "sequences.npz"


@pytest.fixture(scope="module")
def nested(tmp_path_factory, mnist):
    """A Functional model calling a Functional backbone (a Conv2D) and a Sequential block (Conv2D, BatchNorm,
    ReLU) as layers, then MaxPool, Flatten, Dense; and 50 MNIST test images."""
    model = nested_model(seed=4)
    folder = tmp_path_factory.mktemp("nested")
    model.save(folder / "nested.keras")
    np.savez(folder / "mnist50.npz", x_test=mnist.x_test[:50], y_test=mnist.y_test[:50])
    return open_model(folder / "nested.keras"), folder / "mnist50.npz"


def shown(qtbot, page_class, opened, data, preprocessing: str):
    session = Session(data_path=str(data), preprocessing=preprocessing)
    session.set_model(opened)
    jobs = JobQueue()
    page = page_class(session, jobs)
    qtbot.addWidget(page)
    page.resize(1100, 900)
    with qtbot.waitSignal(page.shown, timeout=WAIT_MS):
        page.show()
    return session, jobs, page


def test_attention_heads_are_drawn_unpruned_beside_pruned(qtbot, transformer):
    opened, data = transformer
    session, jobs, page = shown(qtbot, ActivationsPage, opened, data, "raw")
    session.configure(method="weight", scope="layer", k=60.0)
    qtbot.waitUntil(lambda: page.is_settled() and page.activations.config.k == 60.0, timeout=WAIT_MS)
    kinds = [row.tiles.kind for row in page.rows]
    assert kinds[:2] == ["sequence", "heads"]  # the attention layer's output, then its heads right under it
    row = page.rows[1]
    assert row.caption.text().startswith(f"<b>attention: attention heads</b>: {HEADS} heads")
    heads = page.activations.layers[1]
    assert heads.unpruned.shape == heads.pruned.shape == (TOKENS, TOKENS, HEADS)
    np.testing.assert_allclose(heads.unpruned.sum(axis=1), 1.0, atol=1e-5)  # each query's weights over the keys
    assert not np.allclose(heads.unpruned, heads.pruned, atol=1e-3)  # pruning the projections moves them
    # drawn: each side a tile per head, in colours that are neither the page's background nor one flat fill
    background = np.array(background_rgb(page))
    for grid in (row.unpruned, row.pruned):
        assert grid.count == HEADS and grid.isVisible() and grid.width() > 0
        pixels = image_pixels(grid.grab().toImage())
        painted = np.any(np.abs(pixels.astype(int) - background) > 12, axis=2)
        assert painted.sum() > HEADS * 20 * 20  # two maps of 10x10 scaled up, not a line or a frame
        assert len(np.unique(pixels[painted], axis=0)) > 8  # the scores' colour scale, not one colour
    assert not np.array_equal(row.unpruned.tiles, row.pruned.tiles)
    jobs.shutdown()
    assert job_threads() == []


def test_nested_models_layers_have_rows_and_filters(qtbot, nested):
    opened, data = nested
    session, jobs, page = shown(qtbot, ActivationsPage, opened, data, "scale")
    session.configure(method="unit", scope="layer", k=50.0)
    qtbot.waitUntil(lambda: page.is_settled() and page.activations.config.k == 50.0, timeout=WAIT_MS)
    captions = [row.caption.text() for row in page.rows]
    assert [c.split("</b>")[0] for c in captions][:2] == ["<b>bb/bconv", "<b>block/iconv -> ibn -> irelu"]
    assert "2 pruned" in captions[0] and "3 pruned" in captions[1]  # half of 4 and of 6 filters, found by path
    assert [row.unpruned.count for row in page.rows] == [4, 6, 10]
    assert page.message.text() == ""  # nothing left out
    jobs.shutdown()

    session, jobs, filters = shown(qtbot, FiltersPage, opened, data, "scale")
    assert [filters.layer_box.itemData(i) for i in range(filters.layer_box.count())] == ["bb/bconv", "block/iconv"]
    with qtbot.waitSignal(filters.shown, timeout=WAIT_MS):
        filters.choose_layer("block/iconv")
    qtbot.waitUntil(lambda: filters.is_settled() and filters.grid.count == 6, timeout=WAIT_MS)
    jobs.shutdown()
    assert job_threads() == []
