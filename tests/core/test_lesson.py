"""Lesson files: saved through core.files, read back field for field, a changed model warns, and the
shipped lesson finds the shipped demo model (tests/test_resources.py: also from a zip import)."""

from __future__ import annotations

from pathlib import Path

import pytest

from prune_viz.core.files import OutputExists, WriteRefused
from prune_viz.core.lesson import (
    Lesson,
    LessonError,
    LessonStep,
    is_lesson_file,
    model_sha256,
    read_lesson,
    relative_reference,
    save_lesson,
)
from prune_viz.resources import demo_model_path, example_lesson_path

SHIPPED = example_lesson_path()
DEMO = demo_model_path()


def _lesson(model: Path, lesson_path: Path) -> Lesson:
    return Lesson(
        model=relative_reference(model, lesson_path),
        model_sha256=model_sha256(model),
        method="unit",
        k=35.0,
        scope="global",
        included=["hidden1"],
        data="mnist",
        preprocessing="scale",
        panels=["draw", "experiments"],
        drawings=[[[[0.1, 0.2], [0.3, 0.4]], [[0.5, 0.5]]]],
        steps=[LessonStep(20, "guess first"), LessonStep(60, "", "weight")],
        title="Test lesson",
    )


def test_saved_lesson_reads_back_the_same(tmp_path):
    model = tmp_path / "models" / "m.keras"
    model.parent.mkdir()
    model.write_bytes(b"not really a model, but bytes to hash")
    (tmp_path / "lessons").mkdir()
    path = tmp_path / "lessons" / "a.pvlesson"
    lesson = _lesson(model, path)
    save_lesson(lesson, path)
    again = read_lesson(path)
    assert again == lesson
    assert again.model == "../models/m.keras"
    assert again.model_path(path).resolve() == model.resolve()
    assert again.data_path(path) == str(tmp_path / "lessons" / "mnist")
    assert again.model_warning(path) is None
    assert is_lesson_file(path)


def test_a_changed_model_warns_and_still_resolves(tmp_path):
    model = tmp_path / "m.keras"
    model.write_bytes(b"first training")
    path = tmp_path / "a.pvlesson"
    save_lesson(_lesson(model, path), path)
    model.write_bytes(b"retrained since")
    lesson = read_lesson(path)
    warning = lesson.model_warning(path)
    assert warning is not None and "m.keras" in warning and "changed" in warning
    assert lesson.model_path(path) == model


def test_saving_refuses_an_existing_file_and_the_model(tmp_path):
    model = tmp_path / "m.keras"
    model.write_bytes(b"model")
    path = tmp_path / "a.pvlesson"
    lesson = _lesson(model, path)
    save_lesson(lesson, path)
    with pytest.raises(OutputExists):
        save_lesson(lesson, path)
    lesson.k = 70.0
    save_lesson(lesson, path, force=True)
    assert read_lesson(path).k == 70.0
    with pytest.raises(WriteRefused):
        save_lesson(lesson, model, force=True, protect=(model,))
    assert model.read_bytes() == b"model"


def test_lessons_are_recognised_by_suffix_or_content(tmp_path):
    model = tmp_path / "m.keras"
    model.write_bytes(b"model")
    renamed = tmp_path / "lesson.json"
    save_lesson(_lesson(model, renamed), renamed)
    assert is_lesson_file(renamed)
    assert not is_lesson_file(model)
    assert not is_lesson_file(DEMO)
    other = tmp_path / "other.json"
    other.write_text('{"format": "something else"}')
    assert not is_lesson_file(other)


def test_a_step_with_an_unknown_method_is_refused(tmp_path):
    path = tmp_path / "bad.pvlesson"
    path.write_text(
        '{"format": "prune-viz lesson", "version": 1, "model": "m.keras", "model_sha256": "x",'
        ' "steps": [{"k": 10, "method": "random"}]}'
    )
    with pytest.raises(LessonError, match="random"):
        read_lesson(path)


def test_the_shipped_lesson_uses_the_shipped_demo_model():
    lesson = read_lesson(SHIPPED)
    assert lesson.model_path(SHIPPED).resolve() == DEMO.resolve()
    assert lesson.model_sha256 == model_sha256(DEMO)
    assert lesson.model_warning(SHIPPED) is None
    assert len(lesson.steps) >= 5 and all(step.note for step in lesson.steps)
    assert {step.method for step in lesson.steps} >= {"weight", "unit"}


def test_a_lesson_records_a_keras_data_set_by_name(tmp_path):
    from prune_viz.core.lesson import Lesson, data_reference

    lesson_path = tmp_path / "lessons" / "cifar.pvlesson"
    assert data_reference("cifar10", lesson_path) == "keras:cifar10"
    folder = tmp_path / "pictures"
    folder.mkdir()
    assert data_reference(str(folder), lesson_path) == "../pictures"
    lesson = Lesson(model="m.keras", model_sha256="0" * 64, data="keras:cifar10")
    assert lesson.data_path(lesson_path) == "cifar10"
