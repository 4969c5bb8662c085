"""Helpers shared by the GUI tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

WAIT_MS = 120_000  # generous: a worker may share 2 cores with the rest of the suite


def job_workers_end(timeout_ms: int = WAIT_MS) -> bool:
    """Whether every job worker (superqt runnables in Qt's global thread pool) has ended: after a
    job reported, its runnable only has its last signals to emit."""
    from PySide6.QtCore import QThreadPool

    pool = QThreadPool.globalInstance()
    return pool.waitForDone(timeout_ms) and pool.activeThreadCount() == 0
