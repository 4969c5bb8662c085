"""``prune-viz [MODEL] [options]`` run in this process: the command's own code (prune_viz.cli.main, then
cli.window and gui.shell.app.run_app: start-up window, MainWindow, app.exec() until the window is ready, the
screenshot saved, the exit code) on pytest-qt's QApplication, with its settings in a folder of its own under
tmp_path, as conftest's run_prune_viz gives its process. For the tests where the process itself is not the
point: a process costs a Python, Qt and TensorFlow start (~6-8 s CPU) on top of the model and the window.

Import the fixture into a test module: ``from window_runs import run_window  # noqa: F401``."""

from __future__ import annotations

from typing import NamedTuple

import pytest


class Done(NamedTuple):  # the fields of subprocess.CompletedProcess that the tests read
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run_window(qapp, capsys, monkeypatch, tmp_path):
    """``run_window(*argv, timeout=300, **env)``: ``prune-viz ARGV`` in this process, with ENV set; returns a
    Done with the exit code and what it printed. As run_prune_viz's process, a window still open after
    TIMEOUT seconds fails the test instead of waiting for ever (its event loop is left with code 124)."""
    from PySide6.QtCore import QSettings, QStandardPaths, QTimer

    from prune_viz.cli import main

    config = tmp_path / "config"
    user_scope = (QSettings.Format.NativeFormat, QSettings.Scope.UserScope)
    before = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericConfigLocation)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    QSettings.setPath(*user_scope, str(config))  # remembered.default_settings() reads and writes there

    def run(*argv, timeout: float = 300, **env) -> Done:
        for name, value in env.items():
            monkeypatch.setenv(name, str(value))
        capsys.readouterr()
        watchdog = QTimer()
        watchdog.setSingleShot(True)
        watchdog.timeout.connect(lambda: qapp.exit(124))
        watchdog.start(int(timeout * 1000))
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse's errors
            code = exc.code
        finally:
            timed_out = not watchdog.isActive()
            watchdog.stop()
        out, err = capsys.readouterr()
        assert not timed_out, f"prune-viz {' '.join(map(str, argv))} was still running after {timeout} s: {err[-2000:]}"
        return Done(code, out, err)

    yield run
    QSettings.setPath(*user_scope, before)
