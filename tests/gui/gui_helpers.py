"""Helpers shared by the GUI tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import threading

WAIT_MS = 120_000  # generous: a worker may share 2 cores with the rest of the suite


def job_threads() -> list[threading.Thread]:
    """The app's worker threads still alive (they are named prune-viz-*)."""
    return [t for t in threading.enumerate() if t.name.startswith("prune-viz")]
