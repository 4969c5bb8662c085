"""A model MNIST can feed but not score (26 class scores): Evaluate is greyed out up front with the
core's reason, as for a 224x224x3 input, and no error box opens (issue 30, item 14)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from prune_viz.core.inputs import wrong_class_count

from gui_helpers import WAIT_MS

WHY = wrong_class_count(26)


def test_evaluate_is_greyed_out_with_the_reason(qtbot, make_window, letters_cnn_path):
    window = make_window()
    with qtbot.waitSignal(window.model_opened, timeout=WAIT_MS):
        window.open_path(letters_cnn_path)
    panel = window.evaluation
    assert WHY in panel.result_view.status.text() and not panel.result_view.accuracy.isVisible()
    assert not panel.evaluate_button.isEnabled() and panel.evaluate_button.toolTip() == WHY
    assert not window.evaluate_action.isEnabled() and window.evaluate_action.statusTip() == WHY
    assert not window.auto_action.isEnabled()
    assert window.experiments.sweep.strip.run_button.toolTip() == WHY

    qtbot.keyClick(window.controls.slider, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)  # Ctrl+E
    qtbot.wait(200)
    assert window.last_error_box is None and window.jobs.current is None
    assert panel.result_view.accuracy.text() == ""
