"""Help > Keyboard shortcuts (F1): every shortcut of the window in a list that scrolls, in a dialog that
fits the window's screen (presenter mode's 18 pt makes the list taller than a 720-pixel screen)."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

SCREEN_SHARE = 0.85  # of the screen's (or the window's, if smaller) height, at most
EXTRA_ROWS = (
    ("k slider (when focused)", "arrows: 1%, Page Up/Down: 10%"),
    ("Experiments panel (nothing in it focused)", "\u2190/\u2192: k 1%, Page Up/Down: 10%"),
    ("Heatmap", "wheel: zoom, drag: pan"),
)


def shortcut_rows(window: QWidget) -> list[tuple[str, str]]:
    """(what, keys) for each of the window's actions that has a shortcut, then the keys of its widgets."""
    rows = []
    for action in window.actions():
        if action.shortcuts():
            keys = ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts())
            rows.append((action.text().replace("&", ""), keys))
    return rows + list(EXTRA_ROWS)


class ShortcutList(QDialog):
    """The shortcuts as a table in a text view that scrolls, with OK below it, always on screen."""

    def __init__(self, window: QWidget):
        super().__init__(window)
        self.setWindowTitle("Keyboard shortcuts")
        self.rows = shortcut_rows(window)
        self.view = QTextBrowser()
        self.view.setOpenLinks(False)
        self.view.setTextInteractionFlags(  # the keys scroll it too (arrows, Page Up/Down, Ctrl+End)
            Qt.TextInteractionFlag.TextSelectableByMouse | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        cells = "".join(
            f"<tr><td>{html.escape(what)}</td><td>&nbsp;&nbsp;</td><td><b>{html.escape(keys)}</b></td></tr>"
            for what, keys in self.rows
        )
        self.view.setHtml(f"<table>{cells}</table>")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        self.buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.buttons)
        self._fit(window)

    def _fit(self, window: QWidget) -> None:
        """As large as the table, but no taller than a share of the screen and of the window."""
        document = self.view.document()
        document.adjustSize()
        margins = 2 * self.view.frameWidth() + 2 * int(document.documentMargin())
        width = int(document.idealWidth()) + margins + self.view.verticalScrollBar().sizeHint().width() + 24
        height = int(document.size().height()) + margins + self.buttons.sizeHint().height() + 40
        room = window.height()
        screen = window.screen()
        if screen is not None:
            room = min(room, screen.availableGeometry().height()) if room > 0 else screen.availableGeometry().height()
            width = min(width, screen.availableGeometry().width())
        self.resize(width, min(height, int(room * SCREEN_SHARE)))
