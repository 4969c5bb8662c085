"""The window's shortcuts work wherever the focus is, a number field's included."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QAbstractSpinBox, QWidget


class WindowShortcutsFirst(QObject):
    """An event filter that lets a field's window take its shortcuts: a focused spin box otherwise
    claims Ctrl+E (end of line on Linux) and Ctrl+Left/Right (word moves), which a number needs not."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(watched, QWidget):
            key = QKeySequence(event.keyCombination())
            if any(action.isEnabled() and key in action.shortcuts() for action in watched.window().actions()):
                event.ignore()  # not overridden: Qt hands the key to the window's action
                return True
        return False


def give_window_shortcuts(*fields: QAbstractSpinBox) -> None:
    """Let the windows of ``fields`` take their shortcuts when one of them has the focus."""
    for field in fields:
        keys_filter = WindowShortcutsFirst(field)
        field.installEventFilter(keys_filter)
        field.lineEdit().installEventFilter(keys_filter)  # the line edit may get the key when it has the focus
