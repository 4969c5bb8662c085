"""Job and JobQueue: one job at a time, newest waiting job of a kind wins, cancel, errors, no stray threads."""

from __future__ import annotations

import threading

import pytest

from prune_viz.core.tasks import TaskState
from prune_viz.gui.workers import Job, JobQueue


def _threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("prune-viz")]


@pytest.fixture
def queue(qtbot):
    jobs = JobQueue()
    yield jobs
    jobs.shutdown()
    assert _threads() == []


def _blocking(release: threading.Event, log: list, name: str):
    def run(task: TaskState):
        log.append(f"{name} started")
        while not release.wait(0.01):
            task.check()  # a cancel lands here
        task.progress(1.0, "done")
        return name

    return run


def test_one_job_at_a_time_and_the_newest_waiting_job_wins(qtbot, queue):
    release, log, outcomes = threading.Event(), [], []
    first = Job(_blocking(release, log, "first"), "evaluate")
    second = Job(_blocking(release, log, "second"), "evaluate")
    third = Job(_blocking(release, log, "third"), "evaluate")
    for name, job in (("first", first), ("second", second), ("third", third)):
        job.succeeded.connect(outcomes.append)
        job.cancelled.connect(lambda n=name: outcomes.append(f"{n} cancelled"))
    queue.submit(first)
    queue.submit(second)  # waits behind first
    queue.submit(third)  # replaces second, which never runs
    assert queue.current is first
    with qtbot.waitSignal(queue.idle, timeout=10_000):
        release.set()
    assert outcomes == ["second cancelled", "first", "third"]
    assert log == ["first started", "third started"]
    assert _threads() == []  # every thread has ended once its job reported


def test_cancel_stops_a_running_job_and_errors_are_reported(qtbot, queue):
    release, log = threading.Event(), []
    running = Job(_blocking(release, log, "long"), "evaluate")
    with qtbot.waitSignal(running.cancelled, timeout=10_000):
        queue.submit(running)
        queue.submit(Job(lambda task: 1 / 0, "open"), cancel_running_kinds=("evaluate",))
    failing = queue.current
    with qtbot.waitSignal(failing.failed, timeout=10_000) as blocker:
        pass
    assert isinstance(blocker.args[0], ZeroDivisionError)
    qtbot.waitUntil(lambda: not queue.busy, timeout=10_000)


def test_progress_arrives_on_the_gui_thread(qtbot, queue):
    seen = []
    job = Job(lambda task: [task.progress(i / 4, f"step {i}") for i in range(5)] and "ok", "evaluate")
    job.progressed.connect(lambda f, m: seen.append((f, m, threading.current_thread() is threading.main_thread())))
    with qtbot.waitSignal(job.succeeded, timeout=10_000) as blocker:
        queue.submit(job)
    assert blocker.args == ["ok"]
    assert [m for _, m, _ in seen] == [f"step {i}" for i in range(5)]
    assert all(on_main for *_, on_main in seen)
