"""Lessons in the main window: saved and reopened to the same state, a changed model warns and still
opens, and step mode hides the accuracy until the reveal key, then shows the one evaluated for the
step's k. Offscreen, on the small trained MLP."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from prune_viz.core.lesson import (
    Lesson,
    LessonStep,
    model_sha256,
    read_lesson,
    save_lesson,
)
from prune_viz.core.pruning import PruningConfig
from prune_viz.gui.features import Dock
from prune_viz.gui.shell.main_window import MainWindow

from gui_helpers import WAIT_MS


class FakeDrawPanel:
    """The drawing pad's interface a lesson uses: strokes() and set_strokes()."""

    def __init__(self, strokes=()):
        self._strokes = [list(map(list, stroke)) for stroke in strokes]
        self.visible = False

    def strokes(self):
        return self._strokes

    def set_strokes(self, strokes):
        self._strokes = [list(map(list, stroke)) for stroke in strokes]


@pytest.fixture
def make_window(make_window):
    """The shared windows, optionally with a stand-in for the draw panel whose strokes a lesson keeps."""

    def make(draw: FakeDrawPanel | None = None) -> MainWindow:
        window = make_window()
        if draw is not None:
            window.features.drawing = draw
            window.features.register_panel("draw", lambda on: setattr(draw, "visible", on), lambda: draw.visible)
        return window

    return make


def _open(qtbot, window, path):
    with qtbot.waitSignal(window.model_opened, timeout=WAIT_MS):
        job = window.open_path(str(path))
    assert job is not None
    qtbot.waitUntil(lambda: window.lessons.lesson_path == str(path), timeout=WAIT_MS)


@pytest.mark.slow
def test_a_saved_lesson_reopens_in_the_same_state(qtbot, make_window, opened_mlp, trained_mlp_path, tmp_path):
    strokes = [[[0.2, 0.1], [0.25, 0.8]], [[0.5, 0.5], [0.6, 0.55]]]
    window = make_window(FakeDrawPanel(strokes))
    window.set_opened_model(str(trained_mlp_path), opened_mlp)
    window.session.configure(method="unit", k=35.0, scope="global", included=["hidden1"])
    window.session.set_data(preprocessing="scale")
    window.features.panels["draw"].show(True)
    window.features.docks[Dock.EXPERIMENTS].show()
    window.lessons.steps = [LessonStep(20, "guess first"), LessonStep(60, "now whole units", "unit")]
    path = tmp_path / "saved.pvlesson"
    assert window.lessons.save(path)
    saved = read_lesson(path)
    assert saved.model_sha256 == model_sha256(trained_mlp_path)
    assert set(saved.panels) == {"experiments", "draw"}

    again = make_window(FakeDrawPanel())
    again.features.docks[Dock.EXPERIMENTS].hide()
    _open(qtbot, again, path)
    session = again.session
    assert session.config == PruningConfig("unit", 35.0, "global", frozenset({"hidden1"}))
    assert Path(session.data_path).resolve() == Path(window.session.data_path).resolve()  # the same folder
    assert session.preprocessing == "scale"
    assert again.evaluation.preprocess.currentData() == "scale"
    assert again.features.drawing.visible and again.features.docks[Dock.EXPERIMENTS].isVisible()
    assert again.features.drawing.strokes() == strokes
    assert again.lessons.steps == window.lessons.steps
    assert again.lessons.last_warning is None
    assert again.controls.slider.value() == 35 and again.controls.unit_radio.isChecked()
    # saving the reopened lesson writes the same file
    resaved = tmp_path / "resaved.pvlesson"
    assert again.lessons.save(resaved)
    assert read_lesson(resaved) == saved


def test_saving_a_lesson_never_replaces_an_unconfirmed_file_or_the_model(
    make_window, opened_mlp, trained_mlp_path, tmp_path
):
    window = make_window()
    window.set_opened_model(str(trained_mlp_path), opened_mlp)
    before = trained_mlp_path.read_bytes()
    assert not window.lessons.save(trained_mlp_path, force=True)
    assert trained_mlp_path.read_bytes() == before
    path = tmp_path / "a.pvlesson"
    path.write_text("a teacher's own notes")
    assert not window.lessons.save(path)
    assert path.read_text() == "a teacher's own notes"


def test_a_changed_model_warns_and_still_opens(qtbot, make_window, trained_mlp_path, tmp_path):
    import keras

    from prune_viz.core.io import save_keras_with_metadata

    model = tmp_path / "model.keras"
    shutil.copy(trained_mlp_path, model)
    path = tmp_path / "lesson.pvlesson"
    save_lesson(Lesson(model="model.keras", model_sha256=model_sha256(model), config=PruningConfig(k=40.0)), path)
    retrained = keras.saving.load_model(model)  # the same weights, written again: other bytes
    save_keras_with_metadata(retrained, model, {"trained_on": "retrained by the teacher"}, force=True)

    window = make_window()
    warnings = []
    window.lessons.warned.connect(warnings.append)
    _open(qtbot, window, path)
    assert window.session.model is not None and window.session.config.k == 40.0
    assert len(warnings) == 1 and "model.keras" in warnings[0]
    assert window.lessons.last_warning == warnings[0]
    assert "model.keras" in window.statusBar().currentMessage()


@pytest.mark.slow
def test_step_mode_hides_the_accuracy_until_the_reveal_key(qtbot, make_window, trained_mlp_path, tmp_path):
    path = tmp_path / "steps.pvlesson"
    steps = [LessonStep(30, "what will it be?"), LessonStep(90, "and whole units?", "unit")]
    save_lesson(
        Lesson(model=str(trained_mlp_path), model_sha256=model_sha256(trained_mlp_path), steps=steps, title="Steps"),
        path,
    )
    window = make_window()
    window.set_presenter_mode(True)
    _open(qtbot, window, path)
    lessons, bar = window.lessons, window.lessons.bar
    assert lessons.active and lessons.index == -1 and window.lessons.toolbar.isVisible()
    assert window.session.config.k == 0  # opened as saved; the steps start on Space

    window.controls.slider.setFocus()  # the step keys win over the slider's own arrows
    with qtbot.waitSignal(window.controller.shown, timeout=WAIT_MS):
        qtbot.keyClick(window.controls.slider, Qt.Key.Key_Right)
    assert lessons.index == 0 and window.session.config.k == 30 and window.controls.slider.value() == 30
    qtbot.waitUntil(lambda: lessons.answer is not None, timeout=WAIT_MS)
    # evaluated, yet hidden: no accuracy anywhere on screen
    assert bar.answer.text() == "?" and "Press Space to reveal (evaluated)" in bar.hint.text()
    assert "press Space to reveal" in window.statusBar().currentMessage()  # presenter mode shows no hint line
    assert not window.evaluation.result_view.isVisible() and not window.result_tabs.isVisible()
    assert "%" not in window.statusBar().currentMessage()

    qtbot.keyClick(bar, Qt.Key.Key_Space)
    record = lessons.answer
    assert record.config == PruningConfig("weight", 30.0, "layer", frozenset({"hidden1", "hidden2"}))
    independent, _ = window.session.evaluate(record.config)
    assert independent.result.accuracy == record.result.accuracy
    assert bar.answer.text() == f"{record.result.accuracy * 100:.2f}%"
    assert window.evaluation.result_view.isVisible() and window.result_tabs.isVisible()
    assert window.evaluation.result_view.accuracy.text() == bar.answer.text()

    qtbot.keyClick(bar, Qt.Key.Key_Space)  # the next step: unit pruning at 90%, hidden again
    assert lessons.index == 1 and window.session.config.method == "unit" and window.session.config.k == 90
    assert bar.answer.text() == "?" and not window.evaluation.result_view.isVisible()
    qtbot.keyClick(bar, Qt.Key.Key_Space)  # reveal before the evaluation ends: shown as soon as it does
    qtbot.waitUntil(lambda: lessons.revealed, timeout=WAIT_MS)
    assert lessons.answer.config.k == 90 and bar.answer.text().endswith("%")

    qtbot.keyClick(bar, Qt.Key.Key_Left)
    assert lessons.index == 0 and not lessons.revealed  # back to step 1's settings, method included
    assert (window.session.config.method, window.session.config.k) == ("weight", 30)
    qtbot.waitUntil(lambda: lessons.answer is not None, timeout=WAIT_MS)
    qtbot.keyClick(bar, Qt.Key.Key_Escape)
    assert not lessons.active and not window.lessons.toolbar.isVisible()
    assert window.evaluation.result_view.isVisible()
    # Esc cancels evaluations again, and the arrows move k again
    window.controls.slider.setFocus()
    qtbot.keyClick(window.controls.slider, Qt.Key.Key_Right)
    assert window.session.config.k == 31


def test_a_lesson_saved_with_n_m_reopens_with_it_and_a_step_moves_to_blocks(
    qtbot, make_window, opened_mlp, trained_mlp_path, tmp_path
):
    window = make_window()
    window.set_opened_model(str(trained_mlp_path), opened_mlp)
    window.session.configure(method="nm", nm=(1, 8), k=20.0)
    window.lessons.steps = [LessonStep(50, "whole 1x8 blocks", "block", block=(1, 8))]
    path = tmp_path / "nm.pvlesson"
    assert window.lessons.save(path)

    again = make_window()
    _open(qtbot, again, path)
    config, controls = again.session.config, again.controls
    assert (config.method, config.nm, config.k) == ("nm", (1, 8), 20.0)  # not the 2:4 default
    assert controls.nm_radio.isChecked() and (controls.n_spin.value(), controls.m_spin.value()) == (1, 8)
    lessons = again.lessons
    assert lessons.active and lessons.index == -1
    lessons.go_to(0)
    config = again.session.config
    assert (config.method, config.block, config.k) == ("block", (1, 8), 50.0)
    assert "1x8 block pruning, k = 50%" in lessons.bar.heading.text()
    assert (controls.block_rows.value(), controls.block_cols.value()) == (1, 8)
    lessons.leave()
