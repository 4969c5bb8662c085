"""Issue 30, item 4: F1's list of shortcuts on a 720-pixel projector in presenter mode: it scrolls, and its
OK button is on screen. Offscreen, on the small trained MLP."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QKeySequence, QTextCursor

from prune_viz.gui.views.pictures import READABLE_POINTS


def _global_rect(widget) -> QRect:
    return QRect(widget.mapToGlobal(QPoint(0, 0)), widget.size())


def test_f1_lists_every_shortcut_in_a_list_that_scrolls_with_ok_on_screen(
    qtbot, make_window, opened_mlp, trained_mlp_path
):
    window = make_window(size=(1280, 720))
    window.set_opened_model(str(trained_mlp_path), opened_mlp)
    window.set_presenter_mode(True)
    with qtbot.waitActive(window):
        window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_F1)
    dialog = window.shortcut_list
    assert dialog is not None
    qtbot.waitExposed(dialog)
    screen = _global_rect(window)  # the 1280x720 projector the window fills
    ok = dialog.buttons.button(dialog.buttons.StandardButton.Ok)
    assert dialog.height() <= 720 and screen.contains(_global_rect(dialog))
    assert ok.isVisible() and screen.contains(_global_rect(ok))  # not 2,344 pixels down
    assert dialog.view.font().pointSizeF() >= READABLE_POINTS and ok.font().pointSizeF() >= READABLE_POINTS

    text = dialog.view.toPlainText()
    for action in window.actions():
        for shortcut in action.shortcuts():
            assert shortcut.toString(QKeySequence.SequenceFormat.NativeText) in text
    assert "Page Up/Down" in text and "wheel: zoom" in text
    bar = dialog.view.verticalScrollBar()
    assert bar.isVisible() and bar.maximum() > 0  # longer than the screen: it scrolls
    qtbot.keyClick(dialog.view, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    assert bar.value() >= bar.maximum() - 10  # at the end (the document keeps a small margin)
    cursor = dialog.view.document().find("wheel: zoom")  # the last row, scrolled into view
    assert not cursor.isNull()
    cursor.movePosition(QTextCursor.MoveOperation.StartOfBlock)
    assert dialog.view.viewport().rect().contains(dialog.view.cursorRect(cursor))

    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.shortcut_list is None)
