"""Allocate after a sensitivity scan, and uniform vs allocated at targets, driven like a user would."""

from __future__ import annotations

import csv

from PySide6.QtCore import Qt

from gui_helpers import WAIT_MS
from panel_helpers import click_and_wait, table_texts


def _scan(qtbot, panel):
    sensitivity = panel.sensitivity
    sensitivity.method_boxes["unit"].setChecked(False)
    sensitivity.ks_edit.setText("0 50 80 90 95 99")
    click_and_wait(qtbot, sensitivity)
    return sensitivity.allocation


def test_allocate_runs_as_a_job_and_applies_the_checked_ks(qtbot, panel, session):
    box = panel.sensitivity.allocation
    assert not box.allocate_button.isEnabled()  # no scan yet
    box = _scan(qtbot, panel)
    assert box.allocate_button.isEnabled()
    box.target_spin.setFocus()
    box.target_spin.selectAll()
    qtbot.keyClicks(box.target_spin, "85")
    qtbot.mouseClick(box.allocate_button, Qt.MouseButton.LeftButton)
    assert box.allocate_strip.busy and not box.allocate_button.isEnabled()  # in a worker, not on the GUI thread
    qtbot.waitUntil(lambda: not box.allocate_strip.busy, timeout=WAIT_MS)

    row = box.allocation
    assert row is not None and row.target == 0.85
    assert session.config.layer_k == row.layer_k and session.config.k == 85
    assert abs(session.result.included_sparsity() - 0.85) < 0.005  # within half a point
    assert box.chart.layer_k == row.layer_k and box.chart.uniform_k == 85
    assert box.chart.bars is not None
    text = box.message.text()
    assert row.why in text and "training subset" in text and "the test set (10,000 samples)" in text
    # a second Allocate reuses the scan on the choosing part
    assert len(box.cache.scans) == 1


def test_allocate_can_be_cancelled_and_applies_nothing(qtbot, panel, session):
    box = _scan(qtbot, panel)
    before = session.config
    qtbot.mouseClick(box.allocate_button, Qt.MouseButton.LeftButton)
    assert box.allocate_strip.cancel_button.isEnabled()
    qtbot.mouseClick(box.allocate_strip.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not box.allocate_strip.busy, timeout=WAIT_MS)
    assert box.allocation is None and session.config == before
    assert box.allocate_strip.message.text() == "Allocate cancelled: nothing applied."
    assert box.allocate_button.isEnabled()


def test_compare_with_uniform_runs_as_a_job_and_saves_its_csv(qtbot, panel, session, tmp_path):
    box = _scan(qtbot, panel)
    box.targets_edit.setText("50 90")
    config = session.config
    click_and_wait(qtbot, box)
    rows = table_texts(box.table)
    assert [r[0] for r in rows] == ["50", "90"]
    assert all(abs(float(r[4]) - float(r[0])) < 0.5 for r in rows)  # sparsity within half a point
    assert all(float(r[2]) >= float(r[1]) for r in rows)  # allocated at least as accurate as uniform
    assert "measured on the test set" in box.strip.message.text()
    assert session.config == config  # a comparison applies nothing
    assert "Done: 2 targets" in box.strip.message.text()
    assert box.save_csv(tmp_path / "b.csv") and box.save_png(tmp_path / "b.png")
    with open(tmp_path / "b.csv", newline="") as f:
        assert [float(r["target"]) for r in csv.DictReader(f)] == [0.5, 0.9]


def test_a_new_scan_clears_the_allocation(qtbot, panel):
    box = _scan(qtbot, panel)
    qtbot.mouseClick(box.allocate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not box.allocate_strip.busy, timeout=WAIT_MS)
    assert box.chart.layer_k
    panel.sensitivity.ks_edit.setText("0 50")
    qtbot.mouseClick(panel.sensitivity.strip.run_button, Qt.MouseButton.LeftButton)
    assert not box.chart.layer_k and not box.allocate_button.isEnabled()
    qtbot.waitUntil(lambda: not panel.sensitivity.strip.busy, timeout=60_000)
