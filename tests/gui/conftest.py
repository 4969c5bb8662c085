"""Fixtures shared by the GUI tests."""

from __future__ import annotations

import pytest
from window_runs import run_window  # noqa: F401 (a fixture: prune-viz's window command in this process)

from prune_viz.core.session import open_model


@pytest.fixture(scope="module")
def opened_mlp(trained_mlp_path):
    """The small trained MLP, opened once per test module (pruning never changes it for good)."""
    return open_model(trained_mlp_path)


@pytest.fixture
def make_window(qtbot, tmp_path, mnist_dir):
    """Main windows, each with its own settings file unless one is named (two windows naming one file
    share it); after the test they are closed and gone, with no job left running."""
    import shiboken6
    from PySide6.QtCore import QEvent, QSettings
    from PySide6.QtWidgets import QApplication

    from prune_viz.core.session import Session
    from prune_viz.gui.shell.main_window import MainWindow

    from gui_helpers import job_threads

    windows = []

    def make(data_path=None, size=None, settings_file=None) -> MainWindow:
        name = settings_file or f"settings{len(windows)}.ini"
        settings = QSettings(str(tmp_path / name), QSettings.Format.IniFormat)
        window = MainWindow(Session(data_path=str(data_path or mnist_dir)), settings)
        if size:
            window.set_size(*size)
        window.show()
        qtbot.waitExposed(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()
        window.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert job_threads() == []
    assert not any(shiboken6.isValid(window) for window in windows)  # the windows and their children are gone
    assert [w for w in QApplication.topLevelWidgets() if w.isVisible()] == []


@pytest.fixture
def window(make_window, opened_mlp, trained_mlp_path):
    """A main window with the small trained MLP open."""
    window = make_window()
    window.set_opened_model(str(trained_mlp_path), opened_mlp)
    return window
