"""``prune-viz MODEL --screenshot OUT.png``: in this process (window_runs: the command's own code, from its
argv to its exit code), and in a separate process, offscreen, where the process is the point: a missing
model fails with one line, and a model that cannot be evaluated still gives a picture and exit code 0."""

from __future__ import annotations

import numpy as np
import pytest

from prune_viz.gui.views.colours import DIVERGING

from gui_helpers import colour_count, screenshot_pixels

pytestmark = pytest.mark.slow


def test_screenshot_evaluates_and_writes_the_window(tmp_path, trained_mlp_path, mnist_dir, run_window):
    out = tmp_path / "window.png"
    done = run_window(
        trained_mlp_path, "--method", "weight", "--k", "60", "--evaluate", "--data", mnist_dir, "--screenshot", out
    )
    assert done.returncode == 0, done.stderr[-2000:]
    pixels = screenshot_pixels(out)
    assert pixels.shape[0] > 500 and pixels.shape[1] > 800
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 100  # not blank
    lut = DIVERGING.lut()
    assert colour_count(pixels, DIVERGING.pruned) > 10_000  # 60% of a 784x64 matrix is pruned grey
    assert colour_count(pixels, lut[10]) > 50  # strong negative weights (dark blue)
    assert colour_count(pixels, lut[245]) > 50  # strong positive weights (dark red)


def test_without_a_model_the_bundled_demo_opens(tmp_path, run_window):
    from prune_viz.resources import demo_model_path

    demo = demo_model_path()
    assert demo is not None, "prune_viz/data/demo-lenet-300-100.keras is missing"
    out = tmp_path / "demo.png"
    done = run_window("--k", "30", "--screenshot", out, PRUNE_VIZ_TIMING="1")
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"({demo.name})" in done.stderr and "first paint after" in done.stderr
    assert colour_count(screenshot_pixels(out), DIVERGING.pruned) > 1000


def test_screenshot_of_a_missing_model_fails_with_one_line(tmp_path, run_prune_viz):
    done = run_prune_viz(tmp_path / "nothing.keras", "--screenshot", tmp_path / "x.png")
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("prune-viz: error:")]
    assert len(errors) == 1 and "nothing.keras does not exist" in errors[0]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "x.png").exists()


def _screenshot_of(run_prune_viz, model, out, mnist_dir, *options):
    # a timeout well under the default: it used to wait forever
    return run_prune_viz(model, *options, "--data", mnist_dir, "--screenshot", out, timeout=120)


def _screenshot_in_process(run_window, model, out, mnist_dir, *options):
    return run_window(model, *options, "--data", mnist_dir, "--screenshot", out, timeout=120)


def _one_warning(stderr: str) -> str:
    warnings = [line for line in stderr.splitlines() if line.startswith("prune-viz: warning:")]
    assert len(warnings) == 1, stderr[-2000:]
    assert "Traceback" not in stderr and "prune-viz: error:" not in stderr
    return warnings[0]


def test_screenshot_of_a_model_mnist_cannot_feed_writes_the_window_and_says_why(
    tmp_path, vgg_shaped_path, mnist_dir, run_window
):
    out = tmp_path / "vgg.png"
    done = _screenshot_in_process(run_window, vgg_shaped_path, out, mnist_dir, "--k", "50", "--evaluate")
    assert done.returncode == 0, done.stderr[-2000:]
    warning = _one_warning(done.stderr)
    assert "224x224x3" in warning and "cannot be evaluated on MNIST" in warning
    pixels = screenshot_pixels(out)
    assert pixels.shape[0] > 500 and pixels.shape[1] > 800
    assert colour_count(pixels, DIVERGING.pruned) > 1000  # the weights are shown, half of them pruned


def test_screenshot_of_a_model_found_unevaluable_when_run_writes_the_window_and_says_why(
    tmp_path, mnist_dir, run_prune_viz
):
    import keras

    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(32, name="hidden"), keras.layers.Dense(5)])
    path = tmp_path / "five-classes.keras"
    model.save(path)
    out = tmp_path / "five.png"
    done = _screenshot_of(run_prune_viz, path, out, mnist_dir, "--k", "50", "--evaluate")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "The model has 5 outputs; MNIST evaluation needs 10 class scores." in _one_warning(done.stderr)
    assert colour_count(screenshot_pixels(out), DIVERGING.pruned) > 1000
