"""``prune-viz LESSON.pvlesson --screenshot OUT.png`` as a user runs it: a separate process, offscreen."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QImage

from prune_viz.core.lesson import Lesson, LessonStep, save_lesson
from prune_viz.gui.classroom.lessons import BAR_COLOUR
from prune_viz.gui.views.colours import DIVERGING

pytestmark = pytest.mark.slow


def _count_colour(path, rgb, tolerance: int = 6) -> int:
    image = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB888)
    assert not image.isNull()
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    raw = np.frombuffer(image.constBits(), np.uint8, count=stride * height).reshape(height, stride)
    pixels = raw[:, : width * 3].reshape(height, width, 3).astype(int)
    return int(np.sum(np.all(np.abs(pixels - np.array(rgb)) <= tolerance, axis=2)))


def test_a_lesson_renders_as_saved_and_a_changed_model_only_warns(tmp_path, trained_mlp_path, mnist_dir, run_prune_viz):
    lesson = tmp_path / "class.pvlesson"
    save_lesson(
        Lesson(
            model=str(trained_mlp_path),
            model_sha256="0" * 64,
            method="weight",
            k=60.0,
            data=str(mnist_dir),
            steps=[LessonStep(80, "guess")],
            title="Screenshot",
        ),
        lesson,
    )
    out = tmp_path / "lesson.png"
    done = run_prune_viz(lesson, "--screenshot", out)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "warning: mlp.keras is not the file this lesson was saved with" in done.stderr
    assert _count_colour(out, DIVERGING.pruned) > 10_000  # k = 60% of a 784x64 matrix, as saved
    bar = tuple(int(BAR_COLOUR[i : i + 2], 16) for i in (1, 3, 5))
    assert _count_colour(out, bar, tolerance=2) > 20_000  # the step bar, ready for the first step
