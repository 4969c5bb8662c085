"""A model MNIST cannot feed (a narrow VGG-16 look-alike, 224x224x3 input) in the window: the reason is
said once, where the accuracy would be and as the tooltip of every action that would evaluate, which are
disabled; no error box ever opens, and the slider, the heatmaps and the size report still work."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from prune_viz.core.inputs import cannot_feed_mnist
from prune_viz.core.pruning import count_to_prune

from gui_helpers import WAIT_MS

WHY = cannot_feed_mnist([224, 224, 3])


@pytest.mark.slow
def test_the_window_says_why_once_and_still_prunes(qtbot, make_window, vgg_shaped_path, trained_mlp_path):
    window = make_window()
    with qtbot.waitSignal(window.model_opened, timeout=WAIT_MS):
        window.open_path(vgg_shaped_path)
    panel = window.evaluation
    # where the accuracy would be, and on every evaluating action, disabled
    assert WHY in panel.result_view.status.text() and not panel.result_view.accuracy.isVisible()
    for widget in (panel.evaluate_button, panel.auto_check):
        assert not widget.isEnabled() and widget.toolTip() == WHY
    assert not window.evaluate_action.isEnabled() and window.evaluate_action.statusTip() == WHY
    assert not window.auto_action.isEnabled()
    experiments = window.experiments
    for strip in (
        experiments.sweep.strip,
        experiments.sensitivity.strip,
        experiments.finetune.strip,
        window.lab.flips.strip,
    ):
        assert not strip.run_button.isEnabled() and strip.run_button.toolTip() == WHY
        assert strip.message.text() == WHY
    assert WHY in window.lab.draw.caption.text()
    assert window.controller.request() is None  # Ctrl+E, auto-evaluate and lessons all come through here

    # the slider prunes the heatmaps (a Conv2D kernel shown as k*k*in x filters), with no error box
    window.controller.set_auto(True)
    window.controls.slider.setValue(40)
    shown = window.heatmaps.view.displayed_image()
    assert shown.shape == (3 * 3 * 3, 4)
    assert int(np.isnan(shown).sum()) == count_to_prune(3 * 3 * 3 * 4, 40)
    window.lab.flips.strip.message.setText("")
    window.controls.slider.setValue(45)  # a config change says nothing over the reason
    assert window.lab.flips.strip.message.text() == WHY

    # drawing a digit asks nothing of the model
    window.lab.show_panel("draw")
    draw = window.lab.draw
    qtbot.mousePress(draw.pad, Qt.MouseButton.LeftButton, pos=QPoint(40, 40))
    qtbot.mouseMove(draw.pad, QPoint(80, 120))
    qtbot.mouseRelease(draw.pad, Qt.MouseButton.LeftButton, pos=QPoint(80, 120))
    qtbot.wait(300)
    assert draw.probabilities is None and WHY in draw.caption.text()

    # size and speed: sizes, and why there is no latency
    size_speed = experiments.size_speed
    assert size_speed.strip.run_button.isEnabled()
    with qtbot.waitSignal(size_speed.strip.busy_changed, timeout=WAIT_MS, check_params_cb=lambda busy: not busy):
        size_speed.run()
    assert size_speed.report is not None and size_speed.report.latency_note == WHY
    assert WHY in size_speed.strip.message.text()
    assert window.last_error_box is None and window.jobs.current is None

    # an MNIST model brings every action back, with its own tooltip
    with qtbot.waitSignal(window.model_opened, timeout=WAIT_MS):
        window.open_path(trained_mlp_path)
    assert panel.evaluate_button.isEnabled() and panel.evaluate_button.toolTip() != WHY
    assert window.evaluate_action.isEnabled() and window.auto_action.isEnabled()
    for strip in (experiments.sweep.strip, window.lab.flips.strip):
        assert strip.run_button.isEnabled() and strip.run_button.toolTip() != WHY and strip.message.text() != WHY
    assert WHY not in panel.result_view.status.text() and WHY not in window.lab.draw.caption.text()
