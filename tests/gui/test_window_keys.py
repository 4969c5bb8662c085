"""The window's shortcuts work while the k field has the focus (issue 30, item 7)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication

CTRL = Qt.KeyboardModifier.ControlModifier


def press(qtbot, widget, shortcut: str) -> None:
    key = QKeySequence(shortcut)[0]
    qtbot.keyClick(widget, key.key(), key.keyboardModifiers())


def test_window_shortcuts_work_after_typing_a_k(window, qtbot):
    field = window.controls.spin.lineEdit()
    qtbot.mouseClick(field, Qt.MouseButton.LeftButton)
    qtbot.keyClick(field, Qt.Key.Key_A, CTRL)
    qtbot.keyClicks(field, "40")
    qtbot.keyClick(field, Qt.Key.Key_Return)
    assert window.session.config.k == 40
    assert QApplication.focusWidget() is window.controls.spin  # the focus stays in the field

    press(qtbot, field, "Ctrl+E")  # a line edit takes it as end-of-line where the platform says so (X11)
    accuracy = window.evaluation.result_view.accuracy
    qtbot.waitUntil(lambda: accuracy.text().endswith("%"), timeout=60_000)
    assert window.evaluation.result_view.has_result and not window.evaluation.result_view.stale
    assert window.session.last_evaluation.config.k == 40

    # k steps: a line edit takes Ctrl+Left/Right (and with Shift) as word moves on every platform
    for shortcut, k in [("Ctrl+Left", 39), ("Ctrl+Right", 40), ("Ctrl+Shift+Left", 30), ("Ctrl+Shift+Right", 40)]:
        press(qtbot, field, shortcut)
        qtbot.waitUntil(lambda k=k: window.session.config.k == k)
        assert window.controls.spin.value() == k, shortcut

    for shortcut, setting in [("Ctrl+2", ("method", "unit")), ("Ctrl+4", ("scope", "global"))]:
        press(qtbot, field, shortcut)
        assert getattr(window.session.config, setting[0]) == setting[1], shortcut
    for shortcut, setting in [("Ctrl+1", ("method", "weight")), ("Ctrl+3", ("scope", "layer"))]:
        press(qtbot, field, shortcut)
        assert getattr(window.session.config, setting[0]) == setting[1], shortcut
    press(qtbot, field, "Ctrl+0")
    assert window.session.config.k == 0 and window.controls.spin.value() == 0
    assert QApplication.focusWidget() is window.controls.spin
