"""``prune-viz LESSON.pvlesson --screenshot OUT.png``: a lesson opened from the command line in a separate
process, offscreen, as a user runs it (the one screenshot taken end to end by a real process); the
presenter sizes in this process (window_runs: the command's own code, from its argv to its exit code)."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QImage

from prune_viz.core.lesson import Lesson, LessonStep, save_lesson
from prune_viz.core.pruning import PruningConfig
from prune_viz.gui.classroom.lessons import BAR_COLOUR
from prune_viz.gui.views.colours import DIVERGING

from gui_helpers import colour_count, screenshot_pixels

pytestmark = pytest.mark.slow


def test_a_lesson_renders_as_saved_and_a_changed_model_only_warns(tmp_path, trained_mlp_path, mnist_dir, run_prune_viz):
    lesson = tmp_path / "class.pvlesson"
    save_lesson(
        Lesson(
            model=str(trained_mlp_path),
            model_sha256="0" * 64,
            config=PruningConfig("weight", 60.0),
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
    pixels = screenshot_pixels(out)
    assert colour_count(pixels, DIVERGING.pruned) > 10_000  # k = 60% of a 784x64 matrix, as saved
    bar = tuple(int(BAR_COLOUR[i : i + 2], 16) for i in (1, 3, 5))
    assert colour_count(pixels, bar, tolerance=2) > 20_000  # the step bar, ready for the first step


@pytest.mark.parametrize("size", ["1280x720", "1920x1080"])
def test_the_shipped_lesson_in_presenter_mode_is_pictured_at_the_projector_size(tmp_path, run_window, size):
    """Issue 30, item 1: --size is the window's and the picture's size (it was 1612x876 for 1280x720)."""
    from prune_viz.resources import example_lesson_path

    out = tmp_path / f"lesson-{size}.png"
    done = run_window(example_lesson_path(), "--presenter", "--size", size, "--screenshot", out)
    assert done.returncode == 0, done.stderr[-2000:]
    image = QImage(str(out))
    assert f"{image.width()}x{image.height()}" == size
    bar = tuple(int(BAR_COLOUR[i : i + 2], 16) for i in (1, 3, 5))
    pixels = screenshot_pixels(out)
    assert colour_count(pixels, bar, tolerance=2) > 50_000  # the lesson's bar, across the window
    lut = DIVERGING.lut()  # the heatmap is shown: strong negative and positive weights
    assert colour_count(pixels, lut[60]) > 300 and colour_count(pixels, lut[195]) > 300
