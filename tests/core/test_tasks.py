"""The one TensorFlow job lock: two jobs started from two threads never overlap."""

from __future__ import annotations

import threading

import pytest

from prune_viz.core.export import export_pruned
from prune_viz.core.pruning import PruningConfig
from prune_viz.core.session import Session
from prune_viz.core.sweep import run_sweep
from prune_viz.core.tasks import TaskState, tensorflow_job

HOLD_SECONDS = 2.0  # how long the first job waits inside for the second to barge in (it never should)


@pytest.fixture()
def session(opened_model, mnist_dir):
    s = Session(data_path=str(mnist_dir), preprocessing="scale")
    s.set_model(opened_model)
    return s


@pytest.fixture(scope="module")
def opened_model(trained_mlp_path):
    from prune_viz.core.session import open_model

    return open_model(trained_mlp_path)


def _run_side_by_side(first, second) -> list[str]:
    """Run ``first(task)`` in one thread and, once it is inside, ``second(task)`` in another.

    The first job, at its first progress report, waits until the second reports (or HOLD_SECONDS):
    without the lock the second gets in at once and the two logs interleave."""
    log: list[str] = []
    first_inside, second_inside = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first_progress(_fraction, _message):
        log.append("first")
        if not first_inside.is_set():
            first_inside.set()
            second_inside.wait(HOLD_SECONDS)

    def second_progress(_fraction, _message):
        log.append("second")
        second_inside.set()

    def run(fn, progress):
        try:
            fn(TaskState(on_progress=progress))
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    a = threading.Thread(target=run, args=(first, first_progress))
    b = threading.Thread(target=run, args=(second, second_progress))
    a.start()
    assert first_inside.wait(60)
    b.start()
    a.join(120)
    b.join(120)
    assert errors == []
    return log


def _not_interleaved(log: list[str]) -> bool:
    return log == sorted(log, key=["first", "second"].index) and "second" in log


def test_an_evaluation_and_an_export_never_overlap(session, tmp_path):
    config = PruningConfig("weight", 50, "layer", session.config.included)
    log = _run_side_by_side(
        lambda task: session.evaluate(config, task),
        lambda task: export_pruned(session.model, config, tmp_path / "out.keras", task=task),
    )
    assert _not_interleaved(log), log
    assert (tmp_path / "out.keras").is_file()


def test_an_export_and_a_sweep_never_overlap(session, tmp_path):
    config = PruningConfig("unit", 30, "layer", session.config.included)
    log = _run_side_by_side(
        lambda task: export_pruned(session.model, config, tmp_path / "out.keras", task=task),
        lambda task: run_sweep(session, ("weight",), (0, 50), "layer", task),
    )
    assert _not_interleaved(log), log


def test_the_lock_is_reentrant_and_released_after_an_error():
    with tensorflow_job(), tensorflow_job():  # a sweep holds it and calls Session.evaluate
        pass
    with pytest.raises(ZeroDivisionError), tensorflow_job():
        1 / 0  # noqa: B018 (the error is the point)
    taken = threading.Event()

    def other_thread():
        with tensorflow_job():
            taken.set()

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join(30)
    assert taken.is_set()
