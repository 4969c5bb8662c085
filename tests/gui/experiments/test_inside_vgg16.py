"""Issue 29 item 4 for filters and activations: on keras.applications.VGG16(weights=None) (138 M weights), both
are made off the GUI thread, and the slider's step only queues their jobs: the page still shows the picture
of the k before when ``configure`` returns, and the picture of the new k comes from a job thread."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from prune_viz.core.io import LoadedModel
from prune_viz.core.layers import find_prunable_layers, model_parameter_count
from prune_viz.core.pruning import Pruner
from prune_viz.core.session import OpenedModel, Session
from prune_viz.gui.experiments import activations as activations_module
from prune_viz.gui.experiments import filters as filters_module
from prune_viz.gui.experiments.activations import ACTIVATIONS_KIND, ActivationsPage
from prune_viz.gui.experiments.filters import FILTERS_KIND, FiltersPage
from prune_viz.gui.workers import JobQueue

from gui_helpers import WAIT_MS, job_threads

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def opened_vgg16():
    import keras

    keras.utils.set_random_seed(0)
    model = keras.applications.VGG16(weights=None)
    loaded = LoadedModel(path=Path("vgg16.keras"), format="test", keras_model=model)
    layers = find_prunable_layers(loaded)
    return OpenedModel(loaded, layers, Pruner(layers), model_parameter_count(loaded), 0)


@pytest.fixture(scope="module")
def two_images(tmp_path_factory):
    """Two 224x224 RGB images with ImageNet-sized labels: data VGG-16 takes."""
    rng = np.random.default_rng(1)
    path = tmp_path_factory.mktemp("vgg-data") / "two.npz"
    np.savez(path, x_test=rng.integers(0, 256, (2, 224, 224, 3), dtype=np.uint8), y_test=np.array([3, 999]))
    return path


def recorded(monkeypatch, module, name: str) -> list:
    threads = []
    original = getattr(module, name)

    def recording(*args, **kwargs):
        threads.append(threading.current_thread())
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, recording)
    return threads


def test_filters_follow_the_slider_from_a_job(qtbot, opened_vgg16, monkeypatch):
    threads = recorded(monkeypatch, filters_module, "filter_picture")
    session = Session()
    session.set_model(opened_vgg16)
    jobs = JobQueue()
    page = FiltersPage(session, jobs)
    qtbot.addWidget(page)
    page.resize(1000, 800)
    with qtbot.waitSignal(page.shown, timeout=WAIT_MS):
        page.show()
    assert page.tensor_name == "block1_conv1" and page.picture.mode == "colour" and page.picture.count == 64
    page.choose_layer("block5_conv3")
    qtbot.waitUntil(page.is_settled, timeout=WAIT_MS)
    assert page.picture.count == 512 and page.picture.shape == (3, 3, 512) and page.picture.mode == "norm"
    before = page.picture
    session.configure(method="unit", k=60.0)  # the slider's step
    assert page.picture is before and page.job.kind == FILTERS_KIND
    assert page.job.running or jobs.has_waiting(FILTERS_KIND)
    qtbot.waitUntil(page.is_settled, timeout=WAIT_MS)
    assert int(page.picture.pruned.sum()) == round(512 * 0.6)
    assert threads and all(thread is not threading.main_thread() for thread in threads)
    assert job_threads() == []


def test_activations_follow_the_slider_from_a_job(qtbot, opened_vgg16, two_images, monkeypatch):
    threads = recorded(monkeypatch, activations_module, "compute_activations")
    session = Session(data_path=str(two_images), preprocessing="raw")
    session.set_model(opened_vgg16)
    jobs = JobQueue()
    page = ActivationsPage(session, jobs)
    qtbot.addWidget(page)
    page.resize(1200, 900)
    with qtbot.waitSignal(page.shown, timeout=WAIT_MS):
        page.show()
    assert page.problem is None, page.problem
    assert len(page.rows) == 16 and [row.tiles.kind for row in page.rows[12:14]] == ["maps", "bars"]
    assert page.rows[0].unpruned.count == 64 and page.rows[12].unpruned.count == 512
    before = page.activations
    session.configure(method="unit", k=60.0)  # the slider's step
    assert page.activations is before and page.job.kind == ACTIVATIONS_KIND
    assert page.job.running or jobs.has_waiting(ACTIVATIONS_KIND)
    qtbot.waitUntil(page.is_settled, timeout=WAIT_MS)
    assert page.activations.config.k == 60.0
    assert int(page.activations.layers[0].pruned_units.sum()) == round(64 * 0.6)
    assert threads and all(thread is not threading.main_thread() for thread in threads)
    assert job_threads() == []
