"""Fixtures shared by the experiment panels' tests: a session on the small trained MLP and real MNIST."""

from __future__ import annotations

import pytest

from prune_viz.core.session import Session
from prune_viz.gui.experiments.dock import ExperimentsPanel
from prune_viz.gui.workers import JobQueue

from gui_helpers import job_threads


@pytest.fixture
def session(opened_mlp, mnist_dir):
    session = Session(data_path=str(mnist_dir))
    session.set_model(opened_mlp)
    return session


@pytest.fixture
def jobs():
    queue = JobQueue()
    yield queue
    queue.shutdown()
    assert job_threads() == []


@pytest.fixture
def panel(qtbot, session, jobs):
    panel = ExperimentsPanel(session, jobs)
    qtbot.addWidget(panel)
    panel.resize(1200, 500)
    panel.show()
    return panel
