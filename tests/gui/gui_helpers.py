"""Helpers shared by the GUI tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

WAIT_MS = 120_000  # generous: a worker may share 2 cores with the rest of the suite


def job_threads(timeout_ms: int = WAIT_MS) -> list[str]:
    """The job workers (superqt runnables in Qt's global thread pool) still running after waiting up to
    ``timeout_ms`` for them: after a job reported, its runnable only has its last signals to emit."""
    from PySide6.QtCore import QThreadPool

    pool = QThreadPool.globalInstance()
    pool.waitForDone(timeout_ms)
    return [f"pool worker {i + 1}" for i in range(pool.activeThreadCount())]
