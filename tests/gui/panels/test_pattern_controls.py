"""N:M and block pruning in the window, driven as a user would, on the small trained MLP (issue 28)."""

from __future__ import annotations

import os

import numpy as np

from prune_viz.core.patterns import nm_group_counts
from prune_viz.gui.panels.controls import NM_K_NOTE
from prune_viz.gui.views.heatmap import GROUP_LINES_MAX_ROWS

SHOTS = os.environ.get("PRUNE_VIZ_SHOTS")  # a folder: the test saves its zoomed heatmap there


def _kept(session, name):
    return np.asarray(session.result.masks[name].numpy())


def test_nm_turns_the_slider_off_says_why_and_keeps_n_of_every_m(qtbot, window):
    controls, session = window.controls, window.session
    controls.spin.setValue(30)
    controls.nm_radio.click()
    assert session.config.method == "nm" and session.config.nm == (2, 4)
    assert not controls.slider.isEnabled() and not controls.spin.isEnabled()
    assert controls.k_note.isVisibleTo(controls) and controls.k_note.text() == NM_K_NOTE
    assert controls.nm_box.isVisibleTo(controls) and not controls.block_box.isVisibleTo(controls)
    assert window.nm_action.isChecked()
    for name in ("hidden1", "hidden2"):  # 784 and 64 inputs: groups of 4 fit, no padding
        counts = nm_group_counts(_kept(session, name), 4, _kept(session, name).shape[0])
        assert (counts == 2).all()
        assert window.layer_list.items[name].text(3) == "50.0% (2:4)"
    readout = controls.readout.text()
    assert "2:4 (N:M) pruning" in readout and "Valid 2:4: 2 of 2 pruned tensors" in readout
    assert "k = " not in readout  # no k is asked

    controls.m_spin.setValue(8)  # N and M beside the slider
    controls.n_spin.setValue(1)
    assert session.config.nm == (1, 8)
    assert (nm_group_counts(_kept(session, "hidden1"), 8, 784) == 1).all()
    assert window.layer_list.items["hidden1"].text(3) == "87.5% (1:8)"
    assert controls.n_spin.maximum() == 7  # N stays below M

    window.step_k(10)  # the k keys move nothing while N:M has no k
    assert session.config.k == 30 and controls.slider.value() == 30

    controls.weight_radio.click()  # back to a method with a k: the slider works again, at its k
    assert controls.slider.isEnabled() and not controls.k_note.isVisibleTo(controls)
    assert session.config.method == "weight" and session.config.k == 30
    controls.nm_radio.click()
    controls.reset_button.click()  # Reset: back to the original weights
    assert session.config.method == "weight" and session.config.k == 0 and session.result.prunable_zeros == 0


def test_the_zoomed_heatmap_draws_the_nm_group_boundaries(qtbot, window):
    controls, view = window.controls, window.heatmaps.view
    window.heatmaps.set_layer("hidden1")
    controls.nm_radio.click()
    qtbot.waitUntil(lambda: view.group_starts is not None, timeout=5000)
    assert view.group_lines_drawn == 0  # the whole 784-row matrix: too far out to draw them
    assert view.group_note.isVisibleTo(view) and "2:4 groups of 4 inputs" in view.group_note.text()
    view.plot.getViewBox().setRange(xRange=(0, 32), yRange=(0, 40), padding=0.0)
    assert view.group_lines_drawn == 9  # rows 4, 8, ..., 36 start a group
    x, y = view.group_lines.getData()
    assert sorted(set(y.tolist())) == list(range(4, 40, 4))
    kept = view.kept[:40, :32]  # as drawn: every group of 4 rows holds 2 kept cells in each column
    assert (kept.reshape(10, 4, 32).sum(1) == 2).all()
    if SHOTS:
        qtbot.wait(50)
        window.grab().save(os.path.join(SHOTS, "nm-window-zoomed.png"))
        view.grab().save(os.path.join(SHOTS, "nm-heatmap-zoomed.png"))
    view.plot.getViewBox().setRange(yRange=(0, GROUP_LINES_MAX_ROWS + 50), padding=0.0)
    assert view.group_lines_drawn == 0
    controls.weight_radio.click()
    assert view.group_starts is None and not view.group_note.isVisibleTo(view)


def test_block_pruning_from_the_window_zeroes_whole_blocks(qtbot, window):
    controls, session = window.controls, window.session
    controls.block_radio.click()
    assert controls.block_box.isVisibleTo(controls) and controls.slider.isEnabled()
    controls.block_rows.setValue(1)
    controls.block_cols.setValue(8)
    controls.spin.setValue(50)
    assert session.config.method == "block" and session.config.block == (1, 8) and session.config.k == 50
    kept = _kept(session, "hidden1")  # 784 x 64: 784 x 8 blocks of 1 x 8
    blocks = kept.reshape(784, 8, 8)
    assert (blocks.all(2) | ~blocks.any(2)).all()
    assert int((~blocks.any(2)).sum()) == 784 * 8 // 2
    assert "1x8 block pruning, k=50%" in controls.readout.text()
    assert window.block_action.isChecked()


def test_the_zoomed_heatmap_draws_the_block_grid(qtbot, window):
    controls, view, session = window.controls, window.heatmaps.view, window.session
    window.heatmaps.set_layer("hidden1")
    controls.block_radio.click()
    controls.spin.setValue(50)  # 4x4 blocks, half of them pruned
    qtbot.waitUntil(lambda: view.group_starts is not None, timeout=5000)
    assert view.group_lines_drawn == 0  # the whole 784 x 64 matrix: too far out to draw them
    assert view.group_note.isVisibleTo(view) and "4x4 blocks" in view.group_note.text()
    view.plot.getViewBox().setRange(xRange=(0, 32), yRange=(0, 40), padding=0.0)
    assert view.group_lines_drawn == 9 + 7  # rows 4, 8, ..., 36 and columns 4, 8, ..., 28 start a block
    x, y = view.group_lines.getData()
    across, down = x[0::2] != x[1::2], x[0::2] == x[1::2]  # each line is a pair of points
    assert sorted(y[0::2][across].tolist()) == list(range(4, 40, 4))
    assert sorted(x[0::2][down].tolist()) == list(range(4, 32, 4))
    kept = view.kept[:40, :32].reshape(10, 4, 8, 4)  # as drawn: each 4x4 cell between the lines is kept or not, whole
    assert (kept.all(axis=(1, 3)) | ~kept.any(axis=(1, 3))).all() and not kept.all() and kept.any()
    if SHOTS:
        qtbot.wait(50)
        view.grab().save(os.path.join(SHOTS, "patterns-block-heatmap-zoomed.png"))
    view.plot.getViewBox().setRange(xRange=(0, 64), yRange=(0, GROUP_LINES_MAX_ROWS + 50), padding=0.0)
    assert view.group_lines_drawn == 0  # zoomed out along the rows: no grid, though 64 columns are few
    view.plot.getViewBox().setRange(xRange=(0, 32), yRange=(0, 40), padding=0.0)
    assert view.group_lines_drawn == 16
    view.fit()
    assert view.group_lines_drawn == 0  # the whole matrix: none

    controls.block_rows.setValue(1)  # 1x8: a row is a block's height, so only the columns get lines
    controls.block_cols.setValue(8)
    assert session.config.block == (1, 8)
    view.plot.getViewBox().setRange(xRange=(0, 64), yRange=(0, 40), padding=0.0)
    x, y = view.group_lines.getData()
    assert view.group_lines_drawn == 7 and sorted(x[0::2].tolist()) == list(range(8, 64, 8))
    controls.weight_radio.click()
    assert view.group_starts is None and view.group_lines_drawn == 0 and not view.group_note.isVisibleTo(view)
