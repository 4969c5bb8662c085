"""Run one TaskState job at a time off the GUI thread and report back on the GUI thread.

A ``Job`` wraps a plain ``fn(task) -> value`` from the core. The function runs in
a Python thread; its progress, result or error travel back through queued Qt
signals, so every slot connected to a Job runs on the GUI thread. ``JobQueue``
keeps at most one job running (TensorFlow work is serialised) and one waiting:
a newer request of the same kind replaces the waiting one (latest wins).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal, Slot

from prune_viz.core.tasks import Cancelled, TaskState


class Job(QObject):
    progressed = Signal(float, str)
    succeeded = Signal(object)
    failed = Signal(object)  # the exception
    cancelled = Signal()
    finished = Signal()  # after exactly one of succeeded / failed / cancelled

    # emitted from the worker thread, delivered queued to the slots below
    _progress_from_thread = Signal(float, str)
    _done_from_thread = Signal(str, object)

    def __init__(self, fn: Callable[[TaskState], object], kind: str, parent: QObject | None = None):
        super().__init__(parent)
        self.fn = fn
        self.kind = kind
        self.label = kind.capitalize()  # what the status bar calls the job while it runs
        self.task = TaskState(on_progress=self._progress_from_thread.emit)
        self._thread: threading.Thread | None = None
        self.running = False
        self._progress_from_thread.connect(self._relay_progress, Qt.ConnectionType.QueuedConnection)
        self._done_from_thread.connect(self._relay_done, Qt.ConnectionType.QueuedConnection)

    def start(self) -> None:
        self.running = True
        self._thread = threading.Thread(target=self._run, name=f"prune-viz {self.kind}", daemon=True)
        self._thread.start()

    def cancel(self) -> None:
        self.task.cancel()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the thread ends; True if it has."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _run(self) -> None:
        try:
            value = self.fn(self.task)
        except Cancelled:
            self._done_from_thread.emit("cancelled", None)
        except BaseException as exc:  # reported to the GUI, which decides what the user sees
            self._done_from_thread.emit("failed", exc)
        else:
            if self.task.cancelled:
                self._done_from_thread.emit("cancelled", None)
            else:
                self._done_from_thread.emit("succeeded", value)

    @Slot(float, str)
    def _relay_progress(self, fraction: float, message: str) -> None:
        if self.running:
            self.progressed.emit(fraction, message)

    @Slot(str, object)
    def _relay_done(self, outcome: str, value: object) -> None:
        self.running = False
        self.wait()  # the thread's last act was the emit; let it end so that none outlives its Job
        if outcome == "succeeded":
            self.succeeded.emit(value)
        elif outcome == "failed":
            self.failed.emit(value)
        else:
            self.cancelled.emit()
        self.finished.emit()


class JobQueue(QObject):
    """One running job, at most one waiting per kind; ``started`` fires when a job begins."""

    started = Signal(object)  # Job
    idle = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.current: Job | None = None
        self._waiting: list[Job] = []

    @property
    def busy(self) -> bool:
        return self.current is not None

    def submit(self, job: Job, cancel_running_kinds: tuple[str, ...] = ()) -> Job:
        """Queue ``job``; a waiting job of the same kind is dropped, and a running job whose
        kind is in ``cancel_running_kinds`` is asked to stop."""
        for old in [j for j in self._waiting if j.kind == job.kind]:
            self._waiting.remove(old)
            old.cancelled.emit()
            old.finished.emit()
        self._waiting.append(job)
        if self.current is not None and self.current.kind in cancel_running_kinds:
            self.current.cancel()
        self._start_next()
        return job

    def has_waiting(self, kind: str) -> bool:
        return any(job.kind == kind for job in self._waiting)

    def cancel_all(self, kind: str | None = None) -> None:
        """Drop waiting jobs and ask the running one to stop (all, or only those of ``kind``)."""
        for job in [j for j in self._waiting if kind is None or j.kind == kind]:
            self._waiting.remove(job)
            job.cancelled.emit()
            job.finished.emit()
        if self.current is not None and (kind is None or self.current.kind == kind):
            self.current.cancel()

    def shutdown(self, timeout: float = 30.0) -> None:
        """Cancel everything and wait for the running thread (used when the window closes)."""
        self.cancel_all()
        if self.current is not None:
            self.current.wait(timeout)

    def _start_next(self) -> None:
        if self.current is not None or not self._waiting:
            return
        job = self._waiting.pop(0)
        self.current = job
        job.finished.connect(self._on_finished)
        self.started.emit(job)
        job.start()

    @Slot()
    def _on_finished(self) -> None:
        self.current = None
        self._start_next()
        if self.current is None:
            self.idle.emit()
