"""Filters as pictures (issue 29 item 1), used as a user would: hover a filter to read its unit, move k and
see the pruned filters go grey, draw one input channel, an RGB first layer in colour. On the Conv+BatchNorm
CNN fixture, an RGB CNN and the Dense demo."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from prune_viz.core.session import Session, open_model
from prune_viz.gui.experiments import filters as filters_module
from prune_viz.gui.experiments.filters import FILTERS_KIND, FiltersPage
from prune_viz.gui.views.colours import DIVERGING, PRUNED_RGB, rgb32, rgb_weights, weight_level
from prune_viz.gui.views.filter_data import GAP, TILE_PIXELS
from prune_viz.gui.workers import JobQueue
from prune_viz.resources import demo_model_path

from gui_helpers import WAIT_MS, job_threads

REMOVE_CONV1 = dict(method="unit", scope="global", unit_mode="remove", k=50.0)  # every conv1 filter goes


@pytest.fixture(scope="module")
def opened_cnn(conv_bn_cnn_path):
    return open_model(conv_bn_cnn_path)


@pytest.fixture(scope="module")
def rgb_cnn_path(tmp_path_factory):
    import keras

    keras.utils.set_random_seed(5)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(6, 5, name="rgb_conv"),
            keras.layers.ReLU(),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10, name="out"),
        ]
    )
    path = tmp_path_factory.mktemp("rgb") / "rgb.keras"
    model.save(path)
    return path


def shown_page(qtbot, opened):
    session = Session()
    session.set_model(opened)
    jobs = JobQueue()
    page = FiltersPage(session, jobs)
    qtbot.addWidget(page)
    page.resize(900, 700)
    with qtbot.waitSignal(page.shown, timeout=WAIT_MS):
        page.show()
    return session, jobs, page


def tile(page, index: int) -> np.ndarray:
    """The pixels of filter ``index`` as the grid draws them (without its gap)."""
    image = page.grid.image()
    pixels = np.frombuffer(image.constBits(), np.uint32).reshape(image.height(), image.width())
    _n, th, tw = page.grid.tiles.shape
    columns = page.grid.columns_for(page.grid.width())
    row, column = divmod(index, columns)
    return pixels[row * th : (row + 1) * th - GAP, column * tw : (column + 1) * tw - GAP]


def test_hovering_a_filter_says_its_units_statistics(qtbot, opened_cnn):
    session, _jobs, page = shown_page(qtbot, opened_cnn)
    assert page.tensor_name == "conv1" and page.picture.count == 8
    assert page.mode == "channel"  # one input channel: its weights with their signs
    qtbot.mouseMove(page.grid, page.grid.tile_centre(3))
    norm = opened_cnn.pruner.unit_norms("conv1")[3]
    qtbot.waitUntil(lambda: page.readout.text().startswith("Filter 3 (3x3x1), unit 3"), timeout=WAIT_MS)
    assert f"norm {norm:.4g}" in page.readout.text() and "0% zero" in page.readout.text()
    assert "pruned" not in page.readout.text()


def test_moving_k_queues_a_job_and_greys_the_pruned_filters(qtbot, opened_cnn, monkeypatch):
    threads = []
    drawn = filters_module.filter_picture

    def recording(*args, **kwargs):
        threads.append(threading.current_thread())
        return drawn(*args, **kwargs)

    monkeypatch.setattr(filters_module, "filter_picture", recording)
    session, jobs, page = shown_page(qtbot, opened_cnn)
    before = page.picture
    session.configure(**REMOVE_CONV1)  # the slider's step: returns with the job queued, not run
    assert page.picture is before and page.picture.key != page.current_key()
    assert page.job.kind == FILTERS_KIND and (page.job.running or jobs.has_waiting(FILTERS_KIND))
    qtbot.waitUntil(page.is_settled, timeout=WAIT_MS)
    assert threads and all(thread is not threading.main_thread() for thread in threads)
    assert page.picture.pruned.all()  # every conv1 filter is removed at this k
    grey = rgb32(PRUNED_RGB)
    assert all((tile(page, i) == grey).all() for i in range(8))
    qtbot.mouseMove(page.grid, page.grid.tile_centre(5))
    qtbot.waitUntil(lambda: page.readout.text().endswith("- pruned"), timeout=WAIT_MS)
    assert "100% zero" in page.readout.text()
    session.configure(k=0.0)
    qtbot.waitUntil(page.is_settled, timeout=WAIT_MS)
    assert not page.picture.pruned.any() and not (tile(page, 5) == grey).any()
    assert job_threads() == []


def test_one_input_channel_greys_exactly_the_plans_pruned_weights(qtbot, opened_cnn):
    session, _jobs, page = shown_page(qtbot, opened_cnn)
    page.choose_layer("conv2")
    page.choose_mode("channel", 5)
    session.configure(method="weight", scope="layer", k=60.0)
    qtbot.waitUntil(page.is_settled, timeout=WAIT_MS)
    tensor = next(t for t in opened_cnn.layers if t.name == "conv2")
    kept = session.result.plans["conv2"].kept(tensor.as_matrix(tensor.original)).reshape(tensor.shape)
    scale = TILE_PIXELS // 3
    for j in (0, 7, 15):
        pixels = tile(page, j)
        cells = pixels[scale // 2 :: scale, scale // 2 :: scale]  # one pixel per weight
        np.testing.assert_array_equal(cells == rgb32(PRUNED_RGB), ~kept[:, :, 5, j])
    assert 0 < (~kept[:, :, 5, :]).sum() < kept[:, :, 5, :].size


def test_norm_over_input_channels_is_chosen_by_the_user(qtbot, opened_cnn):
    _session, _jobs, page = shown_page(qtbot, opened_cnn)
    page.choose_layer("conv2")
    assert page.mode == "norm"  # eight input channels: their norm by default
    qtbot.waitUntil(page.is_settled, timeout=WAIT_MS)
    assert page.picture.mode == "norm" and page.picture.shape == (3, 3, 8)
    assert "norm over the input channels" in page.legend.text()
    page.mode_box.setCurrentIndex(page.mode_box.findData("channel"))
    qtbot.waitUntil(lambda: page.is_settled() and page.picture.mode == "channel", timeout=WAIT_MS)
    assert page.channel_box.isVisible() and "input channel 0 of 8" in page.legend.text()


def test_an_rgb_first_layer_is_in_colour(qtbot, rgb_cnn_path):
    opened = open_model(rgb_cnn_path)
    _session, _jobs, page = shown_page(qtbot, opened)
    assert page.mode == "colour" and page.picture.shape == (5, 5, 3)
    kernel = opened.layers[0].original
    level = weight_level(opened, "rgb_conv")
    scale = TILE_PIXELS // 5
    cells = tile(page, 2)[scale // 2 :: scale, scale // 2 :: scale]
    np.testing.assert_array_equal(cells, rgb_weights(kernel[:, :, :, 2], level))
    assert len({int(v) for v in cells.ravel()}) > 10  # colours, not one grey


def test_a_dense_model_says_why_it_has_no_filters(qtbot):
    session = Session()
    session.set_model(open_model(demo_model_path()))
    page = FiltersPage(session, JobQueue())
    qtbot.addWidget(page)
    page.show()
    assert page.is_settled() and page.grid.tiles is None
    assert "no convolution layers" in page.message.text()
    assert not page.layer_box.isVisible()


def test_high_contrast_redraws_with_its_colours(qtbot, opened_cnn):
    from prune_viz.gui.views.colours import HIGH_CONTRAST, HIGH_CONTRAST_THEME

    _session, _jobs, page = shown_page(qtbot, opened_cnn)
    light = tile(page, 0).copy()
    page.set_theme(HIGH_CONTRAST_THEME)
    qtbot.waitUntil(page.is_settled, timeout=WAIT_MS)
    assert page.spec is HIGH_CONTRAST and page.picture.key[-1] == HIGH_CONTRAST.key != DIVERGING.key
    assert not np.array_equal(light, tile(page, 0))
