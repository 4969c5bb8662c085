"""Run core jobs off the GUI thread on superqt workers, one at a time, and report back on the GUI thread.

A ``Job`` wraps a plain ``fn(task) -> value`` from the core in a superqt
``FunctionWorker``, run on a new Python thread of its own (not a pooled Qt
thread: see ``Job.start``). The core function
gets a ``JobTask``: the core's TaskState (progress and cancel) plus ``publish``
for partial results, such as a sweep's points. Everything a Job emits reaches
its slots on the GUI thread. Habits kept from Orange3's concurrent helpers:

- progress is throttled in the worker (a new message or ``PROGRESS_INTERVAL_S``
  passed), so a fast loop cannot flood the GUI thread's event queue;
- cancel disconnects: once ``cancel()`` has returned, neither the result, an
  error, progress nor a partial result of that job reaches a view, even if the
  function goes on to return normally. The job ends with ``cancelled``.

``JobQueue`` keeps one job running and at most one waiting per kind: a newer
request of the same kind replaces the waiting one (latest wins). It only orders
jobs; the core's TensorFlow job lock (core.tasks.tensorflow_job) is what keeps
TensorFlow work from overlapping.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal, Slot
from superqt.utils import FunctionWorker, create_worker

from prune_viz.core.tasks import Cancelled, TaskState

PROGRESS_INTERVAL_S = 0.05
BACKGROUND_NICE = 10  # jobs' threads yield the CPU to the GUI thread when both want it (Linux)
log = logging.getLogger(__name__)

_threads_lock = threading.Lock()
_job_threads: set[threading.Thread] = set()  # the threads of jobs still running


def running_job_threads(wait_s: float = 0.0) -> list[threading.Thread]:
    """The job threads still alive after waiting up to ``wait_s`` seconds for them all to end."""
    deadline = time.monotonic() + wait_s
    with _threads_lock:
        threads = list(_job_threads)
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return [thread for thread in threads if thread.is_alive()]


def yield_to_the_gui_thread() -> None:
    """Lower the CPU priority of the calling job thread and of TensorFlow's own thread pools (their
    threads are named "tf_..."; ones TensorFlow creates later from a job thread inherit it), so a
    sweep or an evaluation on every core does not slow the slider. Linux only; raising a nice value
    needs no privilege, and a thread already lower is left alone."""
    if not hasattr(os, "setpriority") or not os.path.isdir("/proc/self/task"):
        return
    threads = {threading.get_native_id()}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                if f.read().startswith("tf_"):
                    threads.add(int(tid))
        except OSError:  # the thread has ended
            continue
    for tid in threads:
        try:
            if os.getpriority(os.PRIO_PROCESS, tid) < BACKGROUND_NICE:
                os.setpriority(os.PRIO_PROCESS, tid, BACKGROUND_NICE)
        except OSError:
            continue


@dataclass
class JobTask(TaskState):
    """The core's TaskState, plus ``publish(value)`` for a partial result (called from the job's thread)."""

    on_partial: Callable[[object], None] | None = None

    def publish(self, value: object) -> None:
        if self.on_partial is not None:
            self.on_partial(value)


class Job(QObject):
    progressed = Signal(float, str)
    partial = Signal(object)  # a partial result the function published
    succeeded = Signal(object)
    failed = Signal(object)  # the exception
    cancelled = Signal()
    finished = Signal()  # after exactly one of succeeded / failed / cancelled

    # emitted from the worker thread, delivered queued to the slots below
    _progress_from_thread = Signal(float, str)
    _partial_from_thread = Signal(object)

    def __init__(self, fn: Callable[[JobTask], object], kind: str, parent: QObject | None = None):
        super().__init__(parent)
        self.fn = fn
        self.kind = kind
        self.label = kind.capitalize()  # what the status bar calls the job while it runs
        self.task = JobTask(on_progress=self._report_progress, on_partial=self._partial_from_thread.emit)
        self.worker: FunctionWorker | None = None
        self._thread: threading.Thread | None = None
        self.running = False
        self._cancel_requested = False
        self._outcome: tuple[str, object] | None = None
        self._function_ended = threading.Event()
        self._last_progress = (float("-inf"), None)  # (monotonic time, message) of the last one sent
        self._progress_from_thread.connect(self._relay_progress)
        self._partial_from_thread.connect(self._relay_partial)

    def start(self) -> None:
        self.running = True
        worker = create_worker(self._work, _start_thread=False, _ignore_errors=True)
        worker.returned.connect(self._on_returned)
        worker.errored.connect(self._on_errored)
        worker.warned.connect(_log_warning)
        worker.finished.connect(self._on_worker_finished)
        self.worker = worker
        # A new Python thread per job, started here and now. Not Qt's thread pool: a pooled thread
        # outlives the Python thread state PySide gives each run, and TensorFlow's bindings kept the
        # old one, so the next TensorFlow job on that thread crashed (SIGSEGV taking the GIL).
        self._thread = threading.Thread(target=self._run_worker, name=f"prune-viz {self.kind} job", daemon=True)
        with _threads_lock:
            _job_threads.add(self._thread)
        self._thread.start()

    def _run_worker(self) -> None:
        try:
            self.worker.run()
        finally:
            with _threads_lock:
                _job_threads.discard(threading.current_thread())

    def cancel(self) -> None:
        """Ask the function to stop (it raises Cancelled at its next progress report) and drop
        whatever it still reports; the job then ends with ``cancelled``."""
        self._cancel_requested = True
        self.task.cancel()
        if self.worker is not None:
            self.worker.quit()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the function has returned and the pool thread is idle; True if both happened."""
        if self.worker is None:
            return True
        started = time.monotonic()
        if not self._function_ended.wait(timeout):
            return False
        # the worker emits its last signals after the function, then its thread ends
        self._thread.join(None if timeout is None else max(0.0, timeout - (time.monotonic() - started)))
        return not self._thread.is_alive()

    # -- the worker thread ------------------------------------------------------------------------
    def _work(self) -> object:
        yield_to_the_gui_thread()
        try:
            self.task.check()  # cancelled before the pool got to it
            return self.fn(self.task)
        except Exception:
            raise
        except BaseException as exc:  # superqt reports Exceptions only; never leave the queue waiting
            raise RuntimeError(f"{type(exc).__name__}: {exc}") from exc
        finally:
            self._function_ended.set()

    def _report_progress(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        last_time, last_message = self._last_progress
        if message != last_message or fraction >= 1.0 or now - last_time >= PROGRESS_INTERVAL_S:
            self._last_progress = (now, message)
            self._progress_from_thread.emit(fraction, message)

    # -- the GUI thread ---------------------------------------------------------------------------
    @Slot(float, str)
    def _relay_progress(self, fraction: float, message: str) -> None:
        if self.running and not self._cancel_requested:
            self.progressed.emit(fraction, message)

    @Slot(object)
    def _relay_partial(self, value: object) -> None:
        if self.running and not self._cancel_requested:
            self.partial.emit(value)

    @Slot(object)
    def _on_returned(self, value: object) -> None:
        self._outcome = ("succeeded", value)

    @Slot(object)
    def _on_errored(self, exc: BaseException) -> None:
        self._outcome = ("cancelled", None) if isinstance(exc, Cancelled) else ("failed", exc)

    @Slot()
    def _on_worker_finished(self) -> None:
        self.running = False
        outcome, value = self._outcome or ("cancelled", None)  # superqt holds back the result after quit()
        if self._cancel_requested:
            outcome = "cancelled"
        if outcome == "succeeded":
            self.succeeded.emit(value)
        elif outcome == "failed":
            self.failed.emit(value)
        else:
            self.cancelled.emit()
        self.finished.emit()


_warned: set[tuple] = set()


def _log_warning(showwarning_args: tuple) -> None:
    """superqt routes a job's Python warnings here (on the GUI thread) with the filter "always";
    each one is logged once, as Python's default filter would show it."""
    message, category, filename, lineno, *_ = showwarning_args
    seen = (str(message), category, filename, lineno)
    if seen not in _warned:
        _warned.add(seen)
        log.warning(warnings.formatwarning(message, category, filename, lineno).rstrip())


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
            self._drop(old)
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
            self._drop(job)
        if self.current is not None and (kind is None or self.current.kind == kind):
            self.current.cancel()

    def shutdown(self, timeout: float = 30.0) -> None:
        """Cancel everything and wait for the running job's thread (used when the window closes)."""
        self.cancel_all()
        if self.current is not None:
            self.current.wait(timeout)

    def _drop(self, job: Job) -> None:
        self._waiting.remove(job)
        job.cancelled.emit()
        job.finished.emit()

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
