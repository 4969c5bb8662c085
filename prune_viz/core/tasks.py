"""Progress and cancel hooks shared by every long-running job, and the one TensorFlow job lock.

Long work is written once as a plain function taking a ``TaskState``; the CLI
passes one that prints, the GUI one whose flags a worker thread watches.

Every TensorFlow job (opening a model, evaluating, sweeping, exporting, measuring,
training, fine-tuning) runs inside ``tensorflow_job()``: they write pruned kernels
into the one opened model and restore them after, so two of them must never
overlap, whichever thread or front end starts them. The GUI's job queue only
orders jobs; this lock is what keeps them apart.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


# re-entrant: a sweep holds it and calls Session.evaluate, which takes it again
_TENSORFLOW_LOCK = threading.RLock()


@contextmanager
def tensorflow_job() -> Iterator[None]:
    """Hold the one TensorFlow job lock for the block (or, as ``@tensorflow_job()``, the function)."""
    with _TENSORFLOW_LOCK:
        yield
