"""bind: a Qt object's connections to the Session's psygnal signals go when the object is deleted."""

from __future__ import annotations

import pytest
import shiboken6
from PySide6.QtWidgets import QWidget

from prune_viz.core.session import Session
from prune_viz.gui.binding import bind
from prune_viz.gui.panels.controls import LayerList, PruningControls
from prune_viz.gui.panels.evaluation import EvaluationController, EvaluationPanel
from prune_viz.gui.panels.warm_up import SliderWarmUp
from prune_viz.gui.views.heatmap import LayerHeatmaps
from prune_viz.gui.workers import JobQueue

SIGNALS = ("model_changed", "config_changed", "pruning_changed", "evaluation_changed", "data_changed")


def connections(session: Session) -> dict[str, int]:
    return {name: len(getattr(session, name)) for name in SIGNALS}


class Listener(QWidget):
    def __init__(self):
        super().__init__()
        self.heard = 0

    def hear(self, *_args) -> None:
        self.heard += 1
        self.setToolTip(str(self.heard))  # touches the C++ widget, as a view's slot does


def test_a_deleted_receivers_connection_is_gone(qapp):
    session = Session()
    listener = Listener()  # the Python wrapper outlives its C++ widget below
    bind(listener, session.data_changed, listener.hear)
    session.set_data(preprocessing="scale")
    assert listener.heard == 1 and len(session.data_changed) == 1

    shiboken6.delete(listener)
    assert len(session.data_changed) == 0
    session.set_data(preprocessing="none")  # nothing left to touch the deleted widget


@pytest.fixture
def jobs():
    queue = JobQueue()
    yield queue
    queue.shutdown()


@pytest.mark.parametrize(
    "make",
    [
        lambda session, jobs, controller: LayerHeatmaps(session),
        lambda session, jobs, controller: PruningControls(session),
        lambda session, jobs, controller: LayerList(session),
        lambda session, jobs, controller: EvaluationController(session, jobs),
        lambda session, jobs, controller: EvaluationPanel(session, controller),
        lambda session, jobs, controller: SliderWarmUp(session),
    ],
    ids=["heatmaps", "controls", "layer list", "evaluation controller", "evaluation panel", "warm-up"],
)
def test_panels_and_views_stop_listening_to_the_session_once_deleted(qapp, opened_mlp, jobs, make):
    session = Session()
    session.set_model(opened_mlp)
    controller = EvaluationController(session, jobs)  # the panel's, which outlives it in the window too
    before = connections(session)
    receiver = make(session, jobs, controller)
    assert connections(session) != before
    shiboken6.delete(receiver)
    assert connections(session) == before
    session.configure(method="unit", k=20)  # would raise RuntimeError if a slot touched a dead object
    session.set_model(None)
