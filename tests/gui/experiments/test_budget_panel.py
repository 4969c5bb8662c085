"""Allocate after a sensitivity scan, and uniform vs allocated at targets, driven like a user would."""

from __future__ import annotations

import csv

from PySide6.QtCore import Qt

from prune_viz.core.budget import allocate, curves_from_points, layer_sizes

from panel_helpers import click_and_wait, table_texts


def _scan(qtbot, panel):
    sensitivity = panel.sensitivity
    sensitivity.method_boxes["unit"].setChecked(False)
    sensitivity.ks_edit.setText("0 50 80 90 95 99")
    click_and_wait(qtbot, sensitivity)
    return sensitivity.allocation


def test_allocate_applies_the_ks_that_reach_the_target_and_draws_them(qtbot, panel, session):
    box = panel.sensitivity.allocation
    assert not box.allocate_button.isEnabled()  # no scan yet
    box = _scan(qtbot, panel)
    assert box.allocate_button.isEnabled()
    box.target_spin.setFocus()
    box.target_spin.selectAll()
    qtbot.keyClicks(box.target_spin, "85")
    qtbot.mouseClick(box.allocate_button, Qt.MouseButton.LeftButton)

    sizes = layer_sizes(session)
    want = allocate(curves_from_points(panel.sensitivity.points, sizes, "weight"), 0.85)
    assert session.config.layer_k == want.layer_k
    assert session.config.k == 85
    assert abs(session.result.included_sparsity() - 0.85) < 0.005  # within half a point
    assert box.chart.layer_k == want.layer_k and box.chart.uniform_k == 85
    assert box.chart.bars is not None
    assert "Predicted accuracy" in box.message.text()


def test_compare_with_uniform_runs_as_a_job_and_saves_its_csv(qtbot, panel, session, tmp_path):
    box = _scan(qtbot, panel)
    box.targets_edit.setText("50 90")
    config = session.config
    click_and_wait(qtbot, box)
    rows = table_texts(box.table)
    assert [r[0] for r in rows] == ["50", "90"]
    assert all(abs(float(r[4]) - float(r[0])) < 0.5 for r in rows)  # sparsity within half a point
    assert session.config == config  # a comparison applies nothing
    assert "Done: 2 targets" in box.strip.message.text()
    assert box.save_csv(tmp_path / "b.csv") and box.save_png(tmp_path / "b.png")
    with open(tmp_path / "b.csv", newline="") as f:
        assert [float(r["target"]) for r in csv.DictReader(f)] == [0.5, 0.9]


def test_a_new_scan_clears_the_allocation(qtbot, panel):
    box = _scan(qtbot, panel)
    qtbot.mouseClick(box.allocate_button, Qt.MouseButton.LeftButton)
    assert box.chart.layer_k
    panel.sensitivity.ks_edit.setText("0 50")
    qtbot.mouseClick(panel.sensitivity.strip.run_button, Qt.MouseButton.LeftButton)
    assert not box.chart.layer_k and not box.allocate_button.isEnabled()
    qtbot.waitUntil(lambda: not panel.sensitivity.strip.busy, timeout=60_000)
