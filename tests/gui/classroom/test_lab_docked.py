"""Issue 30, items 3 and 5: the drawing pad and the flip gallery docked in presenter mode on a 1280x720
projector (their text whole, no scroll bars), enlarged, and in a separate window of a sensible size
beside the k slider, where the arrows move k; the gallery opens on what pruning broke. Driven with the
keys and clicks a user makes, offscreen, on the small trained MLP."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from prune_viz.gui.experiments.draw import PAD_SIDE
from prune_viz.gui.features import Action, Dock, Menu
from prune_viz.gui.views.pictures import READABLE_POINTS

from gui_helpers import WAIT_MS

PROJECTOR = (1280, 720)
ONE = [(60, 50), (70, 120), (80, 200)]  # a stroke down the 252-pixel pad


def _rect_in(widget: QWidget, window: QWidget) -> QRect:
    return QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())


def _whole_on_screen(label: QLabel, window: QWidget) -> bool:
    """Shown inside the window, and as tall as its wrapped text needs (or as wide as its one line)."""
    if not (label.isVisible() and window.rect().contains(_rect_in(label, window))):
        return False
    if label.wordWrap():
        return label.height() >= label.heightForWidth(label.width())
    return all(
        label.contentsRect().width() >= label.fontMetrics().horizontalAdvance(line) for line in label.text().split("\n")
    )


def _small_texts(widget: QWidget) -> list:
    return [
        type(w).__name__
        for w in widget.findChildren(QWidget)
        if w.isVisible() and w.font().pointSizeF() < READABLE_POINTS
    ]


def _presenting(qtbot, make_window, opened_mlp, trained_mlp_path, size):
    """A presenter-mode window of ``size`` on the trained MLP, active (its shortcuts work)."""
    window = make_window(size=size)
    window.set_opened_model(str(trained_mlp_path), opened_mlp)
    window.set_presenter_mode(True)
    with qtbot.waitActive(window):
        window.activateWindow()
    return window


@pytest.fixture
def projector(qtbot, make_window, opened_mlp, trained_mlp_path):
    return _presenting(qtbot, make_window, opened_mlp, trained_mlp_path, PROJECTOR)


def _settle(qtbot):
    qtbot.wait(150)  # the dock's layout, then the drawer's fit after it


def _draw(qtbot, pad, stroke):
    scale = pad.width() / 252
    points = [QPoint(round(x * scale), round(y * scale)) for x, y in stroke]
    qtbot.mousePress(pad, Qt.MouseButton.LeftButton, pos=points[0])
    for point in points[1:]:
        qtbot.mouseMove(pad, point)
    qtbot.mouseRelease(pad, Qt.MouseButton.LeftButton, pos=points[-1])


def test_the_pad_docked_at_1280x720_is_whole_and_the_arrows_move_k(qtbot, projector):
    window, draw = projector, projector.lab.draw
    qtbot.keyClick(window, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    _settle(qtbot)
    assert (window.width(), window.height()) == PROJECTOR and window.lab.is_showing("draw")
    # no room for the heatmap too: the pad takes its place, a handle leads back to it
    assert window.lab_drawer.covering and not window.heatmaps.isVisible() and window.drawer_handle.isVisible()
    scroll = window.experiments.scroll_of(draw)
    assert scroll.verticalScrollBar().maximum() == 0 and scroll.horizontalScrollBar().maximum() == 0
    for label in (draw.caption, draw.preview_caption, draw.legend):
        assert _whole_on_screen(label, window), label.text()
    assert draw.pad.width() == draw.pad.height() >= PAD_SIDE - 12  # about as large as it was, all of it on screen
    assert window.rect().contains(_rect_in(draw.pad, window))
    assert _small_texts(window.features.docks[Dock.EXPERIMENTS]) == []
    assert window.controls.slider.isVisible() and window.rect().contains(_rect_in(window.controls.slider, window))

    with qtbot.waitSignal(draw.shown, timeout=WAIT_MS):
        _draw(qtbot, draw.pad, ONE)
    qtbot.waitUntil(lambda: not window.jobs.busy, timeout=WAIT_MS)
    assert draw.probabilities is not None and _whole_on_screen(draw.caption, window)
    assert QApplication.focusWidget() is draw.pad  # drawing gave the pad the keys: arrows move k
    for key, k in ((Qt.Key.Key_Right, 1), (Qt.Key.Key_PageUp, 11), (Qt.Key.Key_Left, 10), (Qt.Key.Key_PageDown, 0)):
        qtbot.keyClick(draw.pad, key)
        assert window.session.config.k == k and window.controls.slider.value() == k

    qtbot.mouseClick(window.drawer_handle.button, Qt.MouseButton.LeftButton)  # back to the heatmap
    _settle(qtbot)
    assert not window.features.docks[Dock.EXPERIMENTS].isVisible()
    assert window.heatmaps.view.canvas.isVisible() and not window.lab_drawer.covering


def test_a_tall_window_shows_the_pad_under_the_heatmap(qtbot, make_window, opened_mlp, trained_mlp_path):
    window = _presenting(qtbot, make_window, opened_mlp, trained_mlp_path, (1920, 1080))
    qtbot.keyClick(window, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    _settle(qtbot)
    draw = window.lab.draw
    assert not window.lab_drawer.covering and window.heatmaps.view.canvas.isVisible()
    assert window.heatmaps.view.canvas.height() >= 240  # the matrix keeps its height beside the pad
    scroll = window.experiments.scroll_of(draw)
    assert scroll.verticalScrollBar().maximum() == 0
    for label in (draw.caption, draw.preview_caption, draw.legend):
        assert _whole_on_screen(label, window), label.text()


@pytest.mark.slow
def test_the_gallery_docked_at_1280x720_opens_on_what_pruning_broke(qtbot, projector):
    window, flips = projector, projector.lab.flips
    with qtbot.waitSignal(flips.scanned, timeout=WAIT_MS):
        qtbot.keyClick(window, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)  # shows it and scans
    _settle(qtbot)
    assert (window.width(), window.height()) == PROJECTOR and window.lab.is_showing("flips")
    scroll = window.experiments.scroll_of(flips)
    assert scroll.verticalScrollBar().maximum() == 0 and scroll.horizontalScrollBar().maximum() == 0
    assert _whole_on_screen(flips.caption, window) and _whole_on_screen(flips.scrub_label, window)
    assert _small_texts(window.features.docks[Dock.EXPERIMENTS]) == []

    scan, model, view = flips.scan, flips.thumbnails, flips.list_view
    breaking = scan.breaking_k
    broken = int(np.sum(breaking > 0))
    assert 0 < model.rowCount() == broken < len(breaking)  # not the images wrong at k = 0
    assert "Broken by pruning" in flips.group_combo.currentText() and f"({broken:,})" in flips.group_combo.currentText()
    cell = view.gridSize().width() - 4
    metrics = view.fontMetrics()
    for row in range(12):  # what the room sees first: the digit, what it is taken for and when, whole
        image = model.image_index(row)
        caption = model.data(model.index(row))
        taken = int(scan.predicted[np.argmax(scan.wrong[:, image]), image])
        assert breaking[image] > 0 and caption == f"{scan.labels[image]} -> {taken}\nat k = {breaking[image]:g}%"
        assert all(metrics.horizontalAdvance(line) <= cell for line in caption.split("\n")) and "…" not in caption
    assert [breaking[model.image_index(r)] for r in range(12)] == sorted(breaking[breaking > 0])[:12]

    # the images already wrong unpruned are a choice away, said as what the model reads them as
    flips.group_combo.setCurrentIndex(flips.group_combo.findData("wrong"))
    assert model.rowCount() == int(np.sum(breaking == 0))
    image = model.image_index(0)
    assert model.data(model.index(0)) == f"{scan.labels[image]} -> {int(scan.predicted[0, image])}\nunpruned"

    # a click on a thumbnail sends it to the pad
    flips.group_combo.setCurrentIndex(flips.group_combo.findData("broken"))
    first = model.image_index(0)
    qtbot.waitUntil(lambda: view.viewport().rect().contains(view.visualRect(model.index(0))))  # laid out
    with qtbot.waitSignal(window.lab.draw.flip_found, timeout=WAIT_MS):
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(model.index(0)).center())
    assert window.lab.is_showing("draw") and window.lab.draw.pad.label == int(scan.labels[first])
    assert window.lab.draw.image_scan.flip_k == breaking[first]


def test_the_pad_and_the_gallery_can_be_enlarged(qtbot, projector):
    window, draw = projector, projector.lab.draw
    enlarge = next(a.menu() for a in window.features.menus[Menu.VIEW].actions() if a.menu() is not None)
    names = [action.text() for action in enlarge.actions()]
    assert "Draw a digit" in names and "Which images break first" in names
    qtbot.keyClick(window, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    _settle(qtbot)
    docked_side = draw.pad.width()

    key = Qt.Key(Qt.Key.Key_1 + names.index("Draw a digit"))
    qtbot.keyClick(window, key, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
    dialog = window.enlarged
    qtbot.waitExposed(dialog)
    qtbot.wait(50)
    assert draw.window() is dialog and draw.pad.width() > docked_side  # the same pad, larger
    with qtbot.waitSignal(draw.shown, timeout=WAIT_MS):
        _draw(qtbot, draw.pad, ONE)
    strokes = draw.strokes()
    assert len(strokes) == 1
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: window.enlarged is None)
    assert draw.window() is window and window.experiments.scroll_of(draw).widget() is draw
    assert draw.strokes() == strokes  # what was drawn enlarged is on the docked pad
    with qtbot.waitActive(window):  # the main window has the keys again
        window.activateWindow()

    flips = window.lab.flips
    key = Qt.Key(Qt.Key.Key_1 + names.index("Which images break first"))
    qtbot.keyClick(window, key, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
    qtbot.waitExposed(window.enlarged)
    assert flips.window() is window.enlarged and flips.width() > window.width() * 0.9
    window.enlarged.close()
    qtbot.waitUntil(lambda: window.enlarged is None)
    assert flips.window() is window


def test_the_separate_window_opens_beside_the_k_slider_and_its_arrows_move_k(qtbot, projector):
    window, draw = projector, projector.lab.draw
    dock = window.features.docks[Dock.EXPERIMENTS]
    qtbot.keyClick(window, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    window.features.actions[Action.EXPERIMENTS_WINDOW].trigger()
    qtbot.waitUntil(lambda: dock.isFloating() and dock.width() > 400, timeout=5000)
    _settle(qtbot)
    page = window.experiments.scroll_of(draw)
    assert dock.width() >= window.width() * 0.5 and dock.height() >= window.height() * 0.5  # not 804x144
    assert page.verticalScrollBar().maximum() == 0 and page.horizontalScrollBar().maximum() == 0
    side = QRect(window.side_scroll.mapToGlobal(QPoint(0, 0)), window.side_scroll.size())
    assert not dock.frameGeometry().intersects(side)  # the k slider stays in view
    assert window.heatmaps.view.canvas.isVisible()  # nothing docked covers the heatmap now

    qtbot.mouseClick(draw.pad, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))  # a dot: the pad has the keys
    for key, k in ((Qt.Key.Key_Right, 1), (Qt.Key.Key_Right, 2), (Qt.Key.Key_PageUp, 12), (Qt.Key.Key_Left, 11)):
        qtbot.keyClick(draw.pad, key)
        assert window.session.config.k == k
    qtbot.keyClick(dock, Qt.Key.Key_PageDown)  # nothing in it focused: the window itself
    assert window.session.config.k == 1
