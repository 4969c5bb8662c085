"""Job and JobQueue on superqt workers: one job at a time, the newest waiting job of a kind wins, cancel
disconnects, errors arrive as `failed`, progress and partial results on the GUI thread, no worker left."""

from __future__ import annotations

import os
import threading

import pytest

from prune_viz.core.tasks import TaskState
from prune_viz.gui.workers import BACKGROUND_NICE, Job, JobQueue, running_job_threads

from gui_helpers import job_threads

WAIT_MS = 10_000


def _active_workers() -> int:
    return len(running_job_threads())


@pytest.fixture
def queue(qtbot):
    jobs = JobQueue()
    yield jobs
    jobs.shutdown()
    assert job_threads() == []


def _blocking(release: threading.Event, log: list, name: str):
    def run(task: TaskState):
        log.append(f"{name} started")
        while not release.wait(0.01):
            task.check()  # a cancel lands here
        task.progress(1.0, "done")
        return name

    return run


def _outcomes(job: Job, name: str, into: list) -> Job:
    job.succeeded.connect(into.append)
    job.failed.connect(lambda exc: into.append(f"{name} failed: {type(exc).__name__}"))
    job.cancelled.connect(lambda: into.append(f"{name} cancelled"))
    return job


def test_one_job_at_a_time_and_the_newest_waiting_job_wins(qtbot, queue):
    release, log, outcomes = threading.Event(), [], []
    first = _outcomes(Job(_blocking(release, log, "first"), "evaluate"), "first", outcomes)
    second = _outcomes(Job(_blocking(release, log, "second"), "evaluate"), "second", outcomes)
    third = _outcomes(Job(_blocking(release, log, "third"), "evaluate"), "third", outcomes)
    queue.submit(first)
    queue.submit(second)  # waits behind first
    queue.submit(third)  # replaces second, which never runs
    assert queue.current is first and queue.has_waiting("evaluate")
    with qtbot.waitSignal(queue.idle, timeout=WAIT_MS):
        release.set()
    assert outcomes == ["second cancelled", "first", "third"]
    assert log == ["first started", "third started"]
    qtbot.waitUntil(lambda: _active_workers() == 0, timeout=WAIT_MS)  # no worker outlives its job
    assert not queue.busy and queue.current is None


def test_a_cancelled_result_never_arrives_even_if_the_function_returns(qtbot, queue):
    """Cancel disconnects: a function that ignores the cancel and returns still ends as cancelled."""
    inside, release, outcomes, progress = threading.Event(), threading.Event(), [], []

    def stubborn(task):
        task.progress(0.1, "before the cancel")
        inside.set()
        release.wait(WAIT_MS / 1000)
        task.publish("a partial result after the cancel")
        task.on_progress(0.9, "after the cancel")  # straight to the hook: no cancel check
        return "a result nobody asked for any more"

    job = _outcomes(Job(stubborn, "evaluate"), "stubborn", outcomes)
    job.progressed.connect(lambda f, m: progress.append(m))
    job.partial.connect(outcomes.append)
    queue.submit(job)
    assert inside.wait(WAIT_MS / 1000)
    qtbot.waitUntil(lambda: progress == ["before the cancel"], timeout=WAIT_MS)
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
        queue.cancel_all("evaluate")
        release.set()
    assert outcomes == ["stubborn cancelled"]
    assert progress == ["before the cancel"]


def test_a_newer_request_cancels_the_running_one_and_errors_arrive_as_failed(qtbot, queue):
    release, log, outcomes = threading.Event(), [], []
    running = _outcomes(Job(_blocking(release, log, "long"), "evaluate"), "long", outcomes)
    with qtbot.waitSignal(running.cancelled, timeout=WAIT_MS):
        queue.submit(running)
        failing = queue.submit(Job(lambda task: 1 / 0, "open"), cancel_running_kinds=("evaluate",))
    with qtbot.waitSignal(failing.failed, timeout=WAIT_MS) as blocker:
        pass
    assert isinstance(blocker.args[0], ZeroDivisionError)
    assert outcomes == ["long cancelled"]
    qtbot.waitUntil(lambda: not queue.busy, timeout=WAIT_MS)


def test_a_job_cancelled_before_its_worker_starts_never_calls_the_function(qtbot):
    called = []
    job = Job(lambda task: called.append("called"), "evaluate")
    job.cancel()
    with qtbot.waitSignal(job.cancelled, timeout=WAIT_MS):
        job.start()
    assert called == []


def test_progress_and_partial_results_arrive_on_the_gui_thread(qtbot, queue):
    seen, parts = [], []

    def steps(task):
        for i in range(5):
            task.progress(i / 4, f"step {i}")
            task.publish(i * i)
        return "ok"

    job = Job(steps, "sweep")
    job.progressed.connect(lambda f, m: seen.append((f, m, threading.current_thread() is threading.main_thread())))
    job.partial.connect(lambda v: parts.append((v, threading.current_thread() is threading.main_thread())))
    with qtbot.waitSignal(job.succeeded, timeout=WAIT_MS) as blocker:
        queue.submit(job)
    assert blocker.args == ["ok"]
    assert [m for _, m, _ in seen] == [f"step {i}" for i in range(5)]
    assert parts == [(i * i, True) for i in range(5)]
    assert all(on_main for *_, on_main in seen)


def test_progress_is_throttled(qtbot, queue):
    """Thousands of reports with one message reach the GUI as a handful (the first and the last kept)."""
    seen = []

    def chatty(task):
        for i in range(20_001):
            task.progress(i / 20_000, "epoch 1/1")
        return "done"

    job = Job(chatty, "train")
    job.progressed.connect(lambda f, m: seen.append(f))
    with qtbot.waitSignal(job.succeeded, timeout=WAIT_MS):
        queue.submit(job)
    assert seen[0] == 0.0 and seen[-1] == 1.0
    assert len(seen) < 2_000


def test_shutdown_waits_for_the_running_worker(qtbot):
    queue = JobQueue()
    inside, ended = threading.Event(), threading.Event()

    def slow_to_stop(task):
        inside.set()
        while True:
            try:
                task.check()
            except Exception:
                ended.wait(0.2)  # still tidying up after the cancel
                ended.set()
                raise
            threading.Event().wait(0.01)

    job = queue.submit(Job(slow_to_stop, "export"))
    assert inside.wait(WAIT_MS / 1000)
    queue.shutdown()
    assert ended.is_set()  # shutdown returned only after the function had ended
    assert _active_workers() == 0  # and its pool thread went idle
    assert job.wait(0)


def test_a_base_exception_in_a_job_still_ends_it(qtbot, queue):
    def exits(task):
        raise SystemExit(3)

    job = Job(exits, "open")
    with qtbot.waitSignal(job.failed, timeout=WAIT_MS) as blocker:
        queue.submit(job)
    assert "SystemExit" in str(blocker.args[0])
    qtbot.waitUntil(lambda: not queue.busy, timeout=WAIT_MS)


@pytest.mark.skipif(
    not hasattr(os, "setpriority") or not os.path.isdir("/proc/self/task"),
    reason="thread priorities are set on Linux only",
)
def test_a_job_runs_below_the_gui_threads_priority(qtbot, queue):
    """A sweep or an evaluation gives way to the slider when both want a core."""

    def priorities(_task: TaskState) -> tuple[int, int]:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), threading.get_native_id()

    gui_nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    if gui_nice >= BACKGROUND_NICE:
        pytest.skip("the tests themselves run at a low priority")
    job = Job(priorities, "measure")
    with qtbot.waitSignal(job.succeeded, timeout=WAIT_MS) as blocker:
        queue.submit(job)
    job_nice, job_thread = blocker.args[0]
    assert job_thread != threading.get_native_id()
    assert job_nice >= BACKGROUND_NICE > gui_nice
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == gui_nice  # the GUI thread is untouched
