"""Driving an experiment panel like a user: click Run, wait for its job, read its table."""

from __future__ import annotations

from PySide6.QtCore import Qt

from gui_helpers import WAIT_MS


def click_and_wait(qtbot, tab):
    qtbot.mouseClick(tab.strip.run_button, Qt.MouseButton.LeftButton)
    assert tab.strip.busy
    qtbot.waitUntil(lambda: not tab.strip.busy, timeout=WAIT_MS)


def table_texts(table) -> list[list[str]]:
    return [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]
