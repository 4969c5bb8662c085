"""Activations for a chosen input (issue 29 item 2), used as a user would: choose the test set's n-th item or
what the drawing pad shows, move k and see the pruned side change, removed units framed and counted; the
slider's step only queues the job, and a result for an older k is dropped. On the Conv+BatchNorm CNN fixture
and 200 MNIST test images."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from prune_viz.core.session import Session, open_model
from prune_viz.gui.experiments import activations as activations_module
from prune_viz.gui.experiments.activations import ACTIVATIONS_KIND, ActivationsPage
from prune_viz.gui.experiments.draw import DrawingPad
from prune_viz.gui.views.activation_tiles import FRAME
from prune_viz.gui.views.colours import DEAD_RGB, rgb32
from prune_viz.gui.workers import JobQueue

from gui_helpers import WAIT_MS, job_threads

REMOVE_CONV1 = dict(method="unit", scope="global", unit_mode="remove", k=50.0)  # every conv1 filter goes


@pytest.fixture(scope="module")
def small_mnist(mnist, tmp_path_factory):
    path = tmp_path_factory.mktemp("small") / "mnist200.npz"
    np.savez(path, x_test=mnist.x_test[:200], y_test=mnist.y_test[:200])
    return path


@pytest.fixture(scope="module")
def opened_cnn(conv_bn_cnn_path):
    return open_model(conv_bn_cnn_path)


def shown_page(qtbot, opened, data, pad=None):
    session = Session(data_path=str(data), preprocessing="scale")
    session.set_model(opened)
    jobs = JobQueue()
    page = ActivationsPage(session, jobs, pad=pad)
    qtbot.addWidget(page)
    page.resize(1000, 800)
    with qtbot.waitSignal(page.shown, timeout=WAIT_MS):
        page.show()
    return session, jobs, page


def test_the_chosen_test_item_gives_each_layers_units(qtbot, opened_cnn, small_mnist, mnist):
    session, _jobs, page = shown_page(qtbot, opened_cnn, small_mnist)
    assert page.activations.sample.index == 0
    page.item_box.setValue(5)
    qtbot.waitUntil(lambda: page.is_settled() and page.activations.sample.index == 5, timeout=WAIT_MS)
    assert page.caption.text().startswith("<b>Test item 5</b>")
    np.testing.assert_array_equal(page.activations.raw, mnist.x_test[5])
    assert [row.tiles.kind for row in page.rows] == ["maps", "maps", "bars"]
    assert page.rows[0].caption.text().startswith("<b>conv1 -> bn1 -> ")
    assert [grid.count for grid in (page.rows[0].unpruned, page.rows[1].pruned, page.rows[2].pruned)] == [8, 16, 10]
    assert "pruned" not in page.rows[0].caption.text()  # k = 0
    np.testing.assert_array_equal(page.rows[0].unpruned.tiles, page.rows[0].pruned.tiles)


def test_moving_k_queues_the_job_and_marks_removed_and_dead_units(qtbot, opened_cnn, small_mnist, monkeypatch):
    threads = []
    compute = activations_module.compute_activations

    def recording(*args, **kwargs):
        threads.append(threading.current_thread())
        return compute(*args, **kwargs)

    monkeypatch.setattr(activations_module, "compute_activations", recording)
    session, jobs, page = shown_page(qtbot, opened_cnn, small_mnist)
    before = page.activations
    session.configure(**REMOVE_CONV1)  # the slider's step: returns with the job queued, not run
    assert page.activations is before and not page.is_settled()
    assert page.job.kind == ACTIVATIONS_KIND and (page.job.running or jobs.has_waiting(ACTIVATIONS_KIND))
    qtbot.waitUntil(page.is_settled, timeout=WAIT_MS)
    assert threads and all(thread is not threading.main_thread() for thread in threads)
    conv1 = page.activations.layers[0]
    assert conv1.pruned_units.all() and not conv1.pruned.any()
    caption = page.rows[0].caption.text()
    assert "8 pruned" in caption and f"{int(conv1.dead_units.sum())} dead under this pruning" in caption
    dead = int(np.flatnonzero(conv1.dead_units)[0])
    frame = page.rows[0].pruned.tiles[dead][:FRAME, :-2]  # the top of a dead unit's frame (not the gap)
    assert (frame == rgb32(DEAD_RGB)).all()
    assert not np.array_equal(page.rows[0].unpruned.tiles, page.rows[0].pruned.tiles)
    assert "(k = 50%)" in page.pruned_title.text()
    assert job_threads() == []


def test_a_result_for_an_older_k_is_dropped(qtbot, opened_cnn, small_mnist):
    session, _jobs, page = shown_page(qtbot, opened_cnn, small_mnist)
    shown_ks = []
    page.shown.connect(lambda: shown_ks.append(page.activations.config.k))
    for k in (10.0, 20.0, 30.0):
        session.configure(k=k)
    qtbot.waitUntil(page.is_settled, timeout=WAIT_MS)
    assert shown_ks == [30.0] and page.activations.config.k == 30.0
    assert job_threads() == []


def test_what_the_pad_shows_is_the_input(qtbot, opened_cnn, small_mnist, mnist):
    pad = DrawingPad()
    qtbot.addWidget(pad)
    session, _jobs, page = shown_page(qtbot, opened_cnn, small_mnist, pad=pad)
    session.configure(k=40.0)
    qtbot.waitUntil(page.is_settled, timeout=WAIT_MS)
    page.choose_item(9)
    qtbot.waitUntil(lambda: page.is_settled() and page.activations.sample.index == 9, timeout=WAIT_MS)
    by_item = page.activations
    page.choose_pad()
    assert "Draw a digit on the pad" in page.message.text()  # an empty pad: nothing to compute
    pad.show_image(mnist.x_test[9], int(mnist.y_test[9]))  # as the flip gallery sends a test image
    qtbot.waitUntil(
        lambda: (
            page.is_settled() and page.activations is not None and page.activations.sample.source == "the drawing pad"
        ),
        timeout=WAIT_MS,
    )
    assert f"a test image of a {int(mnist.y_test[9])}" in page.caption.text()
    for a, b in zip(by_item.layers, page.activations.layers, strict=True):
        np.testing.assert_array_equal(a.pruned, b.pruned)


def test_a_model_that_cannot_run_says_why(qtbot, weights_only_models, small_mnist):
    session = Session(data_path=str(small_mnist))
    session.set_model(open_model(weights_only_models.path("custom.h5")))
    page = ActivationsPage(session, JobQueue())
    qtbot.addWidget(page)
    page.show()
    assert page.is_settled() and page.rows == []
    assert "weights only" in page.message.text()


def test_data_the_model_cannot_take_is_one_sentence(qtbot, vgg_shaped_path, small_mnist):
    session = Session(data_path=str(small_mnist))
    session.set_model(open_model(vgg_shaped_path))
    jobs = JobQueue()
    page = ActivationsPage(session, jobs)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: page.problem is not None, timeout=WAIT_MS)
    assert "224" in page.message.text() and page.rows == []
    assert job_threads() == []
