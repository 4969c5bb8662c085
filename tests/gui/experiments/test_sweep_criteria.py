"""Issue 30, item 10: the window's sweep puts criteria side by side as ``prune-viz sweep --criteria`` does
(one curve per criterion, named in the legend, the LAMP note shown when LAMP meets magnitude), and its
plot gets a usable size at 1920x1080 (docked under the heatmap) and at 1280x720 (where the window has
no height to spare under the heatmap: the panel opens as a window of its own, clear of the k slider).
Driven with keys and clicks on the small trained MLP and real MNIST."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QScrollArea, QWidget

from prune_viz.core.criteria import LAMP_NOTE
from prune_viz.core.sweep import run_sweep
from prune_viz.gui.features import Action, Dock

from gui_helpers import WAIT_MS
from panel_helpers import table_texts

USABLE = (300, 200)  # the plot's data area, in pixels: at least this wide and tall


def _global_rect(widget: QWidget) -> QRect:
    return QRect(widget.mapToGlobal(QPoint(0, 0)), widget.size())


def _shown_whole(widget: QWidget) -> bool:
    """``widget`` is visible and lies wholly inside the visible part of the scroll area holding it."""
    scroll = widget.parentWidget()
    while scroll is not None and not isinstance(scroll, QScrollArea):
        scroll = scroll.parentWidget()
    viewport = _global_rect(scroll.viewport())
    return widget.isVisible() and viewport.contains(_global_rect(widget))


def _data_area(sweep) -> tuple[int, int]:
    """The plot's data area (its view box) on screen, in pixels."""
    rect = sweep.accuracy_plot.plot.getViewBox().sceneBoundingRect()
    return int(rect.width()), int(rect.height())


def _open_sweep(qtbot, window):
    """Ctrl+R, as the Experiments menu says."""
    window.activateWindow()  # the keys go to the window the user works in
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    dock = window.features.docks[Dock.EXPERIMENTS]
    qtbot.waitUntil(lambda: dock.isVisible() and window.experiments.currentWidget() is window.experiments.sweep)
    qtbot.wait(50)  # the dock's room is made and laid out
    return window.experiments.sweep, dock


def _click(qtbot, box):
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))


@pytest.mark.slow
def test_two_criteria_side_by_side_at_1920x1080(qtbot, make_window, opened_mlp, trained_mlp_path, mnist_dir):
    window = make_window(size=(1920, 1080))
    window.set_opened_model(str(trained_mlp_path), opened_mlp)
    sweep, dock = _open_sweep(qtbot, window)
    assert not dock.isFloating()  # docked under the heatmap, with the room its plot needs
    assert sweep.side_by_side  # the settings beside the plot, not above it
    width, height = _data_area(sweep)
    assert width >= USABLE[0] and height >= USABLE[1]
    assert _shown_whole(sweep.accuracy_plot) and _shown_whole(sweep.table)
    assert not sweep.lamp_note.isVisible()

    # the criteria follow the Pruning controls' until the user ticks others: magnitude is ticked
    assert [c for c, box in sweep.criterion_boxes.items() if box.isChecked()] == ["magnitude"]
    _click(qtbot, sweep.criterion_boxes["lamp"])
    assert sweep.selected_criteria() == ["magnitude", "lamp"]
    assert sweep.lamp_note.isVisible() and LAMP_NOTE in sweep.lamp_note.text() and _shown_whole(sweep.lamp_note)
    assert _shown_whole(sweep.accuracy_plot) and _data_area(sweep)[1] >= USABLE[1]  # the note took no plot away
    _click(qtbot, sweep.method_boxes["unit"])
    sweep.ks_edit.setFocus()
    sweep.ks_edit.selectAll()
    qtbot.keyClicks(sweep.ks_edit, "0 50 90")
    qtbot.mouseClick(sweep.strip.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not sweep.strip.busy and len(sweep.points) == 6, timeout=WAIT_MS)

    expected = run_sweep(
        opened_mlp, ("weight",), (0, 50, 90), "layer", data_path=str(mnist_dir), criteria=("magnitude", "lamp")
    )
    for plot in (sweep.accuracy_plot, window.accuracy_plot):  # the panel's plot and the window's tab
        assert plot.sweep_legend() == ["weight, layerwise, magnitude (sweep)", "weight, layerwise, lamp (sweep)"]
        for criterion in ("magnitude", "lamp"):
            x, y = plot.series_data("weight", "layer", sweep=True, criterion=criterion)
            want = sorted((100 * p.sparsity_included, 100 * p.accuracy) for p in expected if p.criterion == criterion)
            np.testing.assert_allclose(x, [w[0] for w in want])
            np.testing.assert_array_equal(y, [w[1] for w in want])
        # layerwise LAMP prunes what magnitude prunes: the two curves are one, as the note says
        np.testing.assert_array_equal(
            plot.series_data("weight", "layer", sweep=True, criterion="lamp")[1],
            plot.series_data("weight", "layer", sweep=True, criterion="magnitude")[1],
        )
    qtbot.waitUntil(lambda: _shown_whole(sweep.accuracy_plot), timeout=5000)  # the dock grew with the legend
    assert _data_area(sweep)[1] >= USABLE[1]  # its legend took no data area
    pens = {
        c: sweep.accuracy_plot._sweep_series["weight", "layer", c].opts["pen"].color().name()
        for c in ("magnitude", "lamp")
    }
    assert pens["magnitude"] != pens["lamp"]  # one colour per criterion
    assert [row[0] for row in table_texts(sweep.table)] == ["weight"] * 3 + ["weight (lamp)"] * 3


@pytest.mark.slow
def test_the_plot_is_usable_at_1280x720_in_a_window_beside_the_k_slider(
    qtbot, make_window, opened_mlp, trained_mlp_path
):
    window = make_window(size=(1280, 720))
    window.set_opened_model(str(trained_mlp_path), opened_mlp)
    sweep, dock = _open_sweep(qtbot, window)
    # no height under the heatmap at 720 px: the panel opens as a window of its own, made for the page
    assert dock.isFloating() and dock.isVisible()
    qtbot.waitUntil(lambda: _data_area(sweep)[1] >= USABLE[1], timeout=5000)
    width, height = _data_area(sweep)
    assert width >= USABLE[0] and height >= USABLE[1]
    assert _shown_whole(sweep.accuracy_plot) and _shown_whole(sweep.strip.run_button)
    screen = window.screen().availableGeometry()
    assert screen.contains(dock.frameGeometry())
    # the k slider stays in view and in reach: the separate window lies beside it
    assert not dock.frameGeometry().intersects(_global_rect(window.controls.slider))
    _click(qtbot, sweep.criterion_boxes["random"])
    assert sweep.selected_criteria() == ["magnitude", "random"] and not sweep.lamp_note.isVisible()
    _click(qtbot, sweep.method_boxes["unit"])
    sweep.ks_edit.setText("0 90")
    qtbot.mouseClick(sweep.strip.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not sweep.strip.busy and len(sweep.points) == 4, timeout=WAIT_MS)
    assert len(sweep.accuracy_plot.sweep_legend()) == 2
    qtbot.waitUntil(lambda: _shown_whole(sweep.accuracy_plot), timeout=5000)  # the window grew with the legend
    assert _data_area(sweep)[0] >= USABLE[0] and _data_area(sweep)[1] >= USABLE[1]
    assert screen.contains(dock.frameGeometry())
    assert not dock.frameGeometry().intersects(_global_rect(window.controls.slider))
    qtbot.keyClick(window.controls.slider, Qt.Key.Key_PageUp)  # k still moves from the keyboard
    assert window.session.config.k == 10

    # docked again by the user (Experiments in a separate window): it stays docked, and scrolls
    window.features.actions[Action.EXPERIMENTS_WINDOW].trigger()
    assert not dock.isFloating()
    _open_sweep(qtbot, window)
    assert not dock.isFloating()


def test_the_criteria_follow_the_pruning_controls_until_the_user_ticks_others(qtbot, panel, session):
    sweep = panel.sweep
    assert sweep.selected_criteria() == ["magnitude"]
    session.configure(criterion="random")
    assert sweep.selected_criteria() == ["random"]
    sweep.criterion_boxes["lamp"].setChecked(True)
    session.configure(criterion="magnitude")
    assert sweep.selected_criteria() == ["random", "lamp"]  # the user's choice stays
    sweep.criterion_boxes["random"].setChecked(False)
    sweep.criterion_boxes["lamp"].setChecked(False)
    assert sweep.run() is None and "criterion" in sweep.error_box.text()
    assert panel.sensitivity.criterion_boxes["magnitude"].isHidden()  # one criterion: the controls'
