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
from prune_viz.core.pruning import PruningConfig
from prune_viz.resources import demo_model_path, example_lesson_path

SHIPPED = example_lesson_path()
DEMO = demo_model_path()


def _lesson(model: Path, lesson_path: Path) -> Lesson:
    return Lesson(
        model=relative_reference(model, lesson_path),
        model_sha256=model_sha256(model),
        config=PruningConfig("unit", 35.0, "global"),
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
    lesson.config = lesson.config.with_k(70.0)
    save_lesson(lesson, path, force=True)
    assert read_lesson(path).config.k == 70.0
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


@pytest.mark.parametrize(
    "config",
    [
        PruningConfig("nm", 30.0, nm=(1, 8)),  # any N:M, not only the 2:4 default; its k is kept too
        PruningConfig("nm", 0.0, criterion="random", seed=7, nm=(3, 16)),
        PruningConfig("block", 45.5, "global", block=(1, 8), layer_k={"fc1": 80.0}),
        PruningConfig("block", 60.0, block=(8, 2), criterion="lamp", nm=(1, 4)),  # the other pattern too
        PruningConfig("unit", 35.0, unit_mode="remove", criterion="taylor"),
    ],
)
def test_a_lesson_reopens_with_every_pruning_setting(tmp_path, config):
    path = tmp_path / "a.pvlesson"
    save_lesson(Lesson(model="m.keras", model_sha256="0" * 64, config=config), path)
    again = read_lesson(path).config
    assert again == config  # method, k, scope, criterion, unit mode, seed, N:M, block, ks per layer
    assert (again.nm, again.block, again.method, again.k) == (config.nm, config.block, config.method, config.k)


def test_a_lesson_writes_the_settings_as_the_config_does(tmp_path):
    """One serialisation: the file's settings are PruningConfig.as_dict's fields, as flat as before."""
    import json

    config = PruningConfig("nm", nm=(1, 4), included={"fc1"})
    lesson = Lesson(model="m.keras", model_sha256="0" * 64, config=config, included=["fc1"])
    data = json.loads(lesson.to_json())
    assert {key: data[key] for key in config.as_dict(complete=True)} == config.as_dict(complete=True)
    assert data["nm"] == "1:4" and data["method"] == "nm" and data["included"] == ["fc1"]
    assert lesson.config.included == frozenset()  # the layers are said once, by ``included``


def test_an_older_lesson_without_the_pattern_fields_still_opens(tmp_path):
    path = tmp_path / "old.pvlesson"
    path.write_text(
        '{"format": "prune-viz lesson", "version": 1, "model": "m.keras", "model_sha256": "x",'
        ' "method": "unit", "k": 35.0, "scope": "global", "included": ["fc1"], "layer_k": {"fc2": 90},'
        ' "data": null, "preprocessing": "auto", "panels": [], "drawings": [],'
        ' "steps": [{"k": 20, "note": "", "method": null}], "title": ""}'
    )
    lesson = read_lesson(path)
    assert lesson.config == PruningConfig("unit", 35.0, "global", layer_k={"fc2": 90.0})
    assert lesson.included == ["fc1"] and lesson.steps == [LessonStep(20.0)]


def test_lesson_steps_carry_their_pattern(tmp_path):
    steps = [LessonStep(0), LessonStep(0, "2:4", "nm", nm=(2, 4)), LessonStep(50, "blocks", "block", block=(1, 8))]
    path = tmp_path / "a.pvlesson"
    save_lesson(Lesson(model="m.keras", model_sha256="0" * 64, steps=steps), path)
    assert read_lesson(path).steps == steps
    path.write_text(path.read_text().replace('"1x8"', '"0x8"'))
    with pytest.raises(LessonError, match="0x8"):
        read_lesson(path)


def test_a_lesson_with_an_unknown_pattern_is_refused(tmp_path):
    path = tmp_path / "bad.pvlesson"
    path.write_text(
        '{"format": "prune-viz lesson", "version": 1, "model": "m.keras", "model_sha256": "x",'
        ' "method": "nm", "nm": "4:2"}'
    )
    with pytest.raises(LessonError, match="4:2"):
        read_lesson(path)
