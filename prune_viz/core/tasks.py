"""Progress and cancel hooks shared by every long-running job.

Long work is written once as a plain function taking a ``TaskState``; the CLI
passes one that prints, the GUI one whose flags a worker thread watches.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field


class Cancelled(Exception):
    """Raised inside a job when its TaskState was cancelled."""


ProgressCallback = Callable[[float, str], None]


@dataclass
class TaskState:
    """Carries progress out of, and a cancel request into, a running job.

    ``on_progress(fraction, message)`` is called from the job's thread.
    """

    on_progress: ProgressCallback | None = None
    _cancel: threading.Event = field(default_factory=threading.Event)

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        """Raise Cancelled if a cancel was requested."""
        if self._cancel.is_set():
            raise Cancelled()

    def progress(self, fraction: float, message: str = "") -> None:
        self.check()
        if self.on_progress is not None:
            self.on_progress(min(max(float(fraction), 0.0), 1.0), message)

    def sub(self, start: float, stop: float) -> TaskState:
        """A child state mapping its 0..1 progress into [start, stop] of this one."""
        parent = self

        def forward(fraction: float, message: str) -> None:
            parent.progress(start + (stop - start) * fraction, message)

        child = TaskState(on_progress=forward)
        child._cancel = self._cancel
        return child


def quiet() -> TaskState:
    return TaskState()
