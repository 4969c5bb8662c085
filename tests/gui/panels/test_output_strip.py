"""The evaluation panel's output strip (issue 27): a generator evaluated on noise by agreement shows its
first outputs unpruned and pruned at k, made in the evaluation job, changing with k; a classifier shows
none. Driven as a user does: the data chosen, the slider moved, Evaluate pressed."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QApplication

import prune_viz.core.evaluation as evaluation
from prune_viz.core.output_pictures import STRIP_SAMPLES
from prune_viz.core.session import open_model

from gui_helpers import WAIT_MS, image_pixels

pytestmark = pytest.mark.slow
SHOTS = os.environ.get("PRUNE_VIZ_SHOTS")  # a folder: the tests leave their screenshots there


def _window(qtbot, make_window, model: Path, data: Path):
    window = make_window(size=(1280, 720))
    window.session.set_data(data_path=str(data))
    with qtbot.waitSignal(window.controller.data_read, timeout=WAIT_MS):
        window.set_opened_model(str(model), open_model(model))
    return window


def _evaluate_at(qtbot, window, k: int):
    window.controls.slider.setValue(k)
    qtbot.waitUntil(lambda: window.session.config.k == k, timeout=WAIT_MS)
    with qtbot.waitSignal(window.controller.shown, timeout=WAIT_MS) as shown:
        window.evaluation.evaluate_button.click()
    QApplication.processEvents()
    return shown.args[0][0]


def _rows(strip) -> tuple[np.ndarray, np.ndarray]:
    """The pixels of the two rows of pictures as drawn on screen."""
    screen = image_pixels(strip.grab().toImage())
    ratio = strip.grab().devicePixelRatio()

    def row(r):
        first, last = strip.picture_rect(r, 0), strip.picture_rect(r, STRIP_SAMPLES - 1)
        return screen[
            int(first.top() * ratio) : int((first.bottom() + 1) * ratio),
            int(first.left() * ratio) : int((last.right() + 1) * ratio),
        ].astype(int)

    return row(0), row(1)


def _shot(window, strip, name: str) -> None:
    if SHOTS:
        window.side_scroll.ensureWidgetVisible(strip, 0, 10)
        QApplication.processEvents()
        window.grab().save(str(Path(SHOTS) / f"pictures-{name}.png"))


def test_a_generator_shows_its_outputs_unpruned_and_pruned_as_k_changes(qtbot, make_window, own_data, monkeypatch):
    made_on = []
    strip_of = evaluation.output_strip

    def spy(*args):
        made_on.append(threading.current_thread() is threading.main_thread())
        return strip_of(*args)

    monkeypatch.setattr(evaluation, "output_strip", spy)
    window = _window(qtbot, make_window, own_data / "image_generator.keras", own_data / "noise.npz")
    panel = window.evaluation
    strip = panel.result_view.output_strip
    assert not strip.isVisible()  # nothing evaluated yet
    assert panel.title() == "Agreement with the unpruned model on noise.npz"

    record = _evaluate_at(qtbot, window, 0)
    assert record.result.task == "agreement" and strip.isVisible()
    assert strip.titles == ("unpruned", "pruned at k = 0%")
    assert made_on and not any(made_on)  # made in the evaluation job, never on the GUI thread
    unpruned, same = _rows(strip)
    assert unpruned.shape[1] >= STRIP_SAMPLES * 40  # eight pictures side by side
    np.testing.assert_array_equal(unpruned, same)  # k = 0: the pruned row is the unpruned one
    spread = unpruned.max(axis=2) - unpruned.min(axis=2)
    assert spread.max() > 60  # the generator's colour blobs, in colour
    side = strip.picture_rect(0, 0).width()
    first = unpruned[:side, :side]
    expected = record.result.output_strip.unpruned[0]
    centres = ((np.arange(32) + 0.5) * side / 32).astype(int)
    np.testing.assert_array_equal(first[centres][:, centres], expected)  # the model's first output
    _shot(window, strip, "strip-k0")

    record = _evaluate_at(qtbot, window, 80)
    assert strip.isVisible() and strip.titles == ("unpruned", "pruned at k = 80%")
    top, pruned = _rows(strip)
    np.testing.assert_array_equal(top, unpruned)  # the unpruned row stays
    assert np.abs(pruned - same).mean() > 0.5  # the pruned row changed with k
    np.testing.assert_array_equal(pruned[:side, :side][centres][:, centres], record.result.output_strip.pruned[0])
    _shot(window, strip, "strip-k80")

    window.controls.slider.setValue(40)  # not evaluated yet: greyed, like the numbers beside it
    qtbot.waitUntil(lambda: panel.result_view.stale, timeout=WAIT_MS)
    assert not strip.isEnabled()


def test_a_classifier_shows_no_output_strip(qtbot, make_window, own_data):
    window = _window(qtbot, make_window, own_data / "colours.keras", own_data / "colours.npz")
    record = _evaluate_at(qtbot, window, 50)
    assert record.result.task == "classification" and record.result.output_strip is None
    assert not window.evaluation.result_view.output_strip.isVisible()
    assert window.evaluation.result_view.accuracy.isVisible()
