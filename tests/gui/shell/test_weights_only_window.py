"""A checkpoint whose model Keras cannot rebuild, in the window: it opens from its weights, the evaluation
says why it is off, File > Export writes a copy of its file while what needs the model says why not, and
File > Custom objects file... (remembered) and Let Lambda layers run their code reopen it whole."""

from __future__ import annotations

import pytest

from prune_viz.gui import remembered

from gui_helpers import WAIT_MS

pytestmark = pytest.mark.slow  # the checkpoints are saved by processes of their own


def test_a_weights_only_model_says_what_it_cannot_do(qtbot, make_window, weights_only_models, tmp_path):
    window = make_window()
    source = weights_only_models.path("custom.keras")
    with qtbot.waitSignal(window.model_opened, timeout=WAIT_MS):
        window.open_path(source)
    opened = window.session.model
    assert opened.loaded.weights_only
    why = window.session.evaluation_problem
    assert why.startswith("custom.keras was opened from its weights only because its custom classes")
    panel = window.evaluation
    assert why in panel.result_view.status.text()
    assert not panel.evaluate_button.isEnabled() and not window.evaluate_action.isEnabled()
    assert window.controller.request() is None
    # exporting the weights works; what needs the model is disabled, saying why
    exporter = window.experiments.exporter
    export, compact = exporter.actions[False], exporter.actions[True]
    assert export.isEnabled()
    assert not compact.isEnabled() and compact.toolTip().startswith("custom.keras was opened from its weights only")
    size_speed = window.experiments.size_speed.strip
    assert not size_speed.run_button.isEnabled() and "weights only" in size_speed.message.text()
    copy = tmp_path / "pruned.keras"
    with qtbot.waitSignal(exporter.exported, timeout=WAIT_MS) as blocker:
        exporter.export_to(copy)
    assert blocker.args[0].path == copy and copy.is_file()
    found = weights_only_models.load_as_their_code_does([copy])[copy]
    assert sorted(found) == sorted(weights_only_models.saved_weights("custom.keras"))
    window.grab().save(str(tmp_path / "weights-only.png"))


def test_custom_objects_and_lambda_switch_reopen_the_model_whole(
    qtbot, make_window, weights_only_models, keras_registry_kept
):
    window = make_window(settings_file="custom.ini")
    assert window.custom_objects_action.text() == "Custom o&bjects file..."
    assert not window.forget_custom_objects_action.isEnabled() and not window.allow_lambda_action.isChecked()
    with qtbot.waitSignal(window.model_opened, timeout=WAIT_MS):
        window.open_path(weights_only_models.path("custom.h5"))
    assert window.session.model.loaded.weights_only
    with qtbot.waitSignal(window.model_opened, timeout=WAIT_MS):  # the model open from its weights opens again
        window.set_open_options(custom_objects=str(weights_only_models.custom_objects))
    assert not window.session.model.loaded.weights_only
    assert window.session.evaluation_problem != window.session.model.loaded.weights_only_sentence
    assert window.custom_objects_action.text() == "Custom o&bjects file: custom_layers.py..."
    assert remembered.remembered_custom_objects(window.settings) == str(weights_only_models.custom_objects)

    again = make_window(settings_file="custom.ini")  # the next window opens models with the file too
    assert again.session.open_options.custom_objects == weights_only_models.custom_objects
    again.forget_custom_objects()
    assert again.session.open_options.custom_objects is None
    assert remembered.remembered_custom_objects(again.settings) is None

    with qtbot.waitSignal(again.model_opened, timeout=WAIT_MS):
        again.open_path(weights_only_models.path("lambda.keras"))
    assert again.session.model.loaded.weights_only
    with qtbot.waitSignal(again.model_opened, timeout=WAIT_MS):
        again.allow_lambda_action.trigger()
    assert not again.session.model.loaded.weights_only and again.session.open_options.allow_lambda


def test_the_window_options_open_the_model_whole(run_window, run_prune_viz, weights_only_models, tmp_path):
    """``prune-viz MODEL --custom-objects FILE.py``: the model opens whole, so the reason it is not evaluated
    is its input, not that it opened from its weights only (the command's code, in this process). Without
    the option it opens from its weights only: in a real process, which has never loaded the file's classes
    (a process that has loaded them keeps them registered with Keras, and opens the model whole)."""
    shot = tmp_path / "window.png"
    model = weights_only_models.path("custom.keras")
    options = ("--evaluate", "--screenshot", shot, "--size", "1280x720")
    whole = run_window(model, "--custom-objects", weights_only_models.custom_objects, *options)
    assert whole.returncode == 0, whole.stderr
    assert "This model takes vectors of 8 numbers" in whole.stderr and "weights only" not in whole.stderr
    assert shot.is_file()
    shot.unlink()
    weights = run_prune_viz(model, *options)
    assert weights.returncode == 0, weights.stderr
    assert "custom.keras was opened from its weights only because its custom classes" in weights.stderr
    assert shot.is_file()
