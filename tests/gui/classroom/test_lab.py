"""The classroom lab in the window: the drawing pad and the flip gallery, on real MNIST and a trained model."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from prune_viz.core.drawing import digit_from_strokes
from prune_viz.core.flips import run_flip_scan, scan_image
from prune_viz.core.inputs import preprocess
from prune_viz.core.pruning import PruningConfig
from prune_viz.core.session import Session
from prune_viz.gui.experiments.draw import DrawPanel
from prune_viz.gui.experiments.flips import NEVER, SCAN_DEPENDS_ON, FlipGallery
from prune_viz.gui.workers import JobQueue

from gui_helpers import WAIT_MS, screenshot_pixels

# a "7": a top bar, then a diagonal down to the left (widget pixels on the 252-pixel pad)
SEVEN = [[(60, 50), (120, 48), (190, 52)], [(190, 52), (150, 120), (120, 180), (100, 215)]]


@pytest.fixture
def session(opened_mlp, mnist_dir):
    s = Session(data_path=str(mnist_dir), preprocessing="scale")
    s.set_model(opened_mlp)
    return s


def direct_probabilities(session, digit, config):
    """The model called directly on the pixels, with ``config``'s kernels written in."""
    model, pruner = session.model.loaded.keras_model, session.model.pruner
    x = preprocess(digit[None], "scale").reshape(1, -1)
    if config.k:
        pruner.apply(pruner.prune(config))
    try:
        return model(x, training=False).numpy()[0]
    finally:
        pruner.restore()


def on_pad(pad, strokes):
    """``strokes`` drawn on the 252-pixel pad, in the pixels of ``pad`` as it is sized now."""
    scale = pad.width() / 252
    return [[(round(x * scale), round(y * scale)) for x, y in stroke] for stroke in strokes]


def draw(qtbot, pad, strokes):
    for stroke in on_pad(pad, strokes):
        qtbot.mousePress(pad, Qt.MouseButton.LeftButton, pos=QPoint(*stroke[0]))
        for point in stroke[1:]:
            qtbot.mouseMove(pad, QPoint(*point))
        qtbot.mouseRelease(pad, Qt.MouseButton.LeftButton, pos=QPoint(*stroke[-1]))


def test_drawn_strokes_are_the_models_input(qtbot, session):
    jobs = JobQueue()
    panel = DrawPanel(session, jobs)
    qtbot.addWidget(panel)
    panel.show()
    side = panel.pad.width()
    with qtbot.waitSignal(panel.flip_found, timeout=WAIT_MS):
        draw(qtbot, panel.pad, SEVEN)
    expected_strokes = [[[x / side, y / side] for x, y in stroke] for stroke in on_pad(panel.pad, SEVEN)]
    assert panel.pad.strokes() == expected_strokes
    expected = digit_from_strokes(expected_strokes)
    assert expected.sum() > 255 * 40  # a real drawing, not an empty field
    qtbot.waitUntil(
        lambda: panel.shown_input is not None and np.array_equal(panel.shown_input, expected), timeout=WAIT_MS
    )
    qtbot.waitUntil(lambda: not jobs.busy, timeout=WAIT_MS)  # the model is ours alone again
    unpruned, pruned = panel.probabilities
    config = session.config
    np.testing.assert_allclose(unpruned, direct_probabilities(session, expected, config), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pruned, unpruned)  # k = 0
    # the flip k is the one-image scan of the same input
    scan = scan_image(session, expected, PruningConfig(config.method, 0, config.scope, config.included))
    assert panel.image_scan.flip_k == scan.flip_k
    assert ("flips at" in panel.flip_label.text()) == (scan.flip_k is not None)

    # dragging k: the pruned bars follow, the unpruned ones stay
    with qtbot.waitSignal(panel.shown, timeout=WAIT_MS):
        session.configure(method="unit", k=70)
    qtbot.waitUntil(lambda: panel.shown_config == session.config and not jobs.busy, timeout=WAIT_MS)
    unpruned_after, pruned_after = panel.probabilities
    np.testing.assert_allclose(unpruned_after, unpruned, rtol=1e-6)
    np.testing.assert_allclose(
        pruned_after, direct_probabilities(session, expected, session.config), rtol=1e-5, atol=1e-6
    )
    assert not np.allclose(pruned_after, unpruned, atol=1e-3)
    assert (
        panel.image_scan.flip_k
        == scan_image(session, expected, PruningConfig("unit", 0, "layer", config.included)).flip_k
    )

    # undo drops the last stroke; clear empties the pad and the bars
    panel.pad.undo()
    assert panel.pad.strokes() == expected_strokes[:1]
    panel.pad.clear()
    assert panel.pad.is_empty and panel.probabilities is None
    panel.pad.set_strokes(expected_strokes)
    assert np.array_equal(panel.pad.digit(), expected)
    jobs.shutdown()


@pytest.mark.slow
def test_flip_gallery_shows_the_core_scan(qtbot, session, mnist):
    jobs = JobQueue()
    gallery = FlipGallery(session, jobs)
    qtbot.addWidget(gallery)
    gallery.resize(1000, 600)
    gallery.show()
    session.configure(method="unit", scope="global")
    with qtbot.waitSignal(gallery.scanned, timeout=WAIT_MS):
        gallery.run()
    core = run_flip_scan(session, PruningConfig("unit", 0, "global", session.config.included))
    np.testing.assert_array_equal(gallery.scan.predicted, core.predicted)
    breaking = core.breaking_k
    heights = np.asarray(gallery.histogram_bars.opts["height"])
    assert heights[NEVER] == np.isnan(breaking).sum()
    for k in (0, 1, 50, 80, 100):
        assert heights[k] == np.sum(breaking == k)
    assert heights.sum() == len(mnist.y_test)
    for digit in (0, 4, 9):
        np.testing.assert_allclose(gallery.curves[digit].yData, 100 * core.per_digit_accuracy()[:, digit])
    # the thumbnails are the images pruning broke, in breaking order, each captioned with its breaking k
    model = gallery.thumbnails
    broken = core.order("broken")
    assert 0 < model.rowCount() == len(broken) < len(mnist.y_test)
    assert [model.image_index(r) for r in range(50)] == broken[:50].tolist()
    last = model.index(model.rowCount() - 1)
    image = broken[-1]
    taken = int(core.predicted[np.argmax(core.wrong[:, image]), image])
    assert model.data(last) == f"{core.labels[image]} -> {taken}\nat k = {breaking[image]:g}%"
    gallery.show_group("all")  # every test image, those that never break last
    assert model.rowCount() == len(mnist.y_test)
    assert [model.image_index(r) for r in range(50)] == core.order()[:50].tolist()
    last = model.index(model.rowCount() - 1)
    image = core.order()[-1]
    assert model.data(last).split("\n")[1] == (
        "never breaks" if np.isnan(breaking[image]) else f"at k = {breaking[image]:g}%"
    )
    gallery.show_group("broken")
    # the scrubber replays the confusion matrix along the scan
    gallery.scrubber.setValue(60)
    np.testing.assert_array_equal(gallery.matrix.counts, core.confusion(60))
    assert f"{100 * core.accuracy()[60]:.2f}%" in gallery.scrub_label.text()
    # a click on a thumbnail sends that test image to the pad
    first = model.index(0)
    with qtbot.waitSignal(gallery.image_chosen, timeout=5000) as sent:
        gallery.list_view.clicked.emit(first)
    image, label = sent.args
    index = int(core.order("broken")[0])
    assert np.array_equal(image, mnist.x_test[index]) and label == int(mnist.y_test[index])
    # the scan spans every k: moving k leaves it current, another criterion makes it stale (why_stale)
    session.configure(k=40)
    assert gallery.strip.message.text() == ""
    session.configure(criterion="random")
    assert gallery.strip.message.text() == (
        session.why_stale(gallery.scan_key, "scan", SCAN_DEPENDS_ON) + " Scan again to update."
    )
    assert "criterion" in gallery.strip.message.text()
    jobs.shutdown()


@pytest.mark.slow
def test_a_test_image_on_the_pad_breaks_where_the_gallery_says(qtbot, session, mnist):
    from prune_viz.gui.shell.main_window import MainWindow

    window = MainWindow(session)
    qtbot.addWidget(window)
    window.show()
    session.configure(method="unit", scope="layer")
    flips = window.lab.flips
    with qtbot.waitSignal(flips.scanned, timeout=WAIT_MS):
        flips.run()
    breaking = flips.scan.breaking_k
    index = int(np.flatnonzero(breaking == np.nanmedian(breaking))[0])
    row = int(np.flatnonzero(flips.thumbnails.order == index)[0])
    with qtbot.waitSignal(window.lab.draw.flip_found, timeout=WAIT_MS):
        flips.list_view.clicked.emit(flips.thumbnails.index(row))
    draw = window.lab.draw
    assert window.experiments.currentWidget() is draw
    assert np.array_equal(draw.pad.digit(), mnist.x_test[index]) and draw.pad.label == int(mnist.y_test[index])
    assert draw.image_scan.flip_k == breaking[index]
    assert f"breaks at <b>k = {breaking[index]:g}%" in draw.flip_label.text()
    # a cell of the evaluation's confusion matrix sends its first test image
    session.configure(k=80)
    with qtbot.waitSignal(window.controller.shown, timeout=WAIT_MS):
        window.controller.request()
    predicted = session.last_evaluation.result.predicted
    members = np.flatnonzero((mnist.y_test == 4) & (predicted == 9))
    assert len(members)
    window.details.matrix.cell_clicked.emit(4, 9)
    qtbot.waitUntil(lambda: draw.pad.label == 4, timeout=WAIT_MS)
    assert np.array_equal(draw.pad.digit(), mnist.x_test[members[0]]) and draw.pad.label == 4
    window.close()


@pytest.mark.slow
def test_panel_draw_screenshot_shows_the_pad(tmp_path, trained_mlp_path, mnist_dir, run_window):
    out = tmp_path / "draw.png"
    done = run_window(trained_mlp_path, "--panel", "draw", "--data", mnist_dir, "--screenshot", out)
    assert done.returncode == 0, done.stderr[-2000:]
    black = np.all(screenshot_pixels(out) == 0, axis=2)
    # the empty pad: a black square of at least 240x240 pixels somewhere in the window
    table = np.pad(black.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    side = 240
    windows = table[side:, side:] - table[:-side, side:] - table[side:, :-side] + table[:-side, :-side]
    assert windows.max() == side * side
