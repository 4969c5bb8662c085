"""The flip gallery with N:M chosen (issue 28): N:M has no k, so the gallery shows its flip set, the images
right unpruned and wrong under 2:4 first, then those it fixes. Driven as a user does: N:M chosen, Ctrl+B."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from prune_viz.core.flips import FlipSet, run_flips

from gui_helpers import WAIT_MS

SHOTS = os.environ.get("PRUNE_VIZ_SHOTS")  # a folder: the test leaves its screenshot there


def test_with_nm_chosen_the_gallery_shows_what_the_pattern_breaks_and_fixes(
    qtbot, make_window, opened_mlp, trained_mlp_path, mnist
):
    window = make_window(size=(1280, 720))
    window.set_opened_model(str(trained_mlp_path), opened_mlp)
    with qtbot.waitActive(window):  # active: its shortcuts work
        window.activateWindow()
    session, flips = window.session, window.lab.flips
    window.controls.nm_radio.click()  # 2:4
    with qtbot.waitSignal(flips.scanned, timeout=WAIT_MS):
        qtbot.keyClick(window, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)  # the gallery, and its run
    got = flips.scan
    assert isinstance(got, FlipSet) and got.pattern == "2:4"
    core = run_flips(session, session.config)
    np.testing.assert_array_equal(got.predicted, core.predicted)
    assert flips.strip.run_button.text() == "Find what 2:4 breaks"

    broken, fixed = core.order("broken"), core.order("fixed")
    model = flips.thumbnails  # the images 2:4 broke, each said with its classes
    assert 0 < model.rowCount() == len(broken) < len(mnist.y_test)
    assert [model.image_index(r) for r in range(model.rowCount())] == broken.tolist()
    first = int(broken[0])
    caption = f"{mnist.y_test[first]} -> {core.predicted[1, first]}\nright -> wrong under 2:4"
    assert model.data(model.index(0)) == caption
    assert "a 2:4" not in model.data(model.index(0), Qt.ItemDataRole.ToolTipRole)
    combo = flips.group_combo
    assert combo.currentText() == f"Right -> wrong under 2:4 ({len(broken):,})"
    assert [combo.itemData(i) for i in range(combo.count())] == ["broken", "fixed", "wrong", "never", "all"]
    caption_text = flips.caption.text()
    assert f"<b>{len(broken):,}</b> are right unpruned and wrong under 2:4" in caption_text
    assert f"{len(fixed):,} the other way round" in caption_text
    # no charts along k: the confusion matrix, unpruned and under 2:4
    assert not flips.tabs.isTabVisible(0) and not flips.tabs.isTabVisible(flips.curves_tab)
    assert flips.tabs.currentIndex() == flips.matrix_tab and flips.matrix.isVisible()
    np.testing.assert_array_equal(flips.matrix.counts, core.confusion(1))
    assert flips.scrub_label.text() == f"under 2:4: accuracy {100 * core.accuracy()[1]:.2f}%"
    if SHOTS:
        _shot(qtbot, window, "patterns-nm-flip-gallery")
    flips.scrubber.setValue(0)
    np.testing.assert_array_equal(flips.matrix.counts, core.confusion(0))
    assert flips.scrub_label.text().startswith("unpruned: accuracy")

    flips.show_group("fixed")  # and those 2:4 fixed
    assert [model.image_index(r) for r in range(model.rowCount())] == fixed.tolist()
    assert model.data(model.index(0)).endswith("\nwrong -> right under 2:4")

    window.controls.m_spin.setValue(8)  # another pattern: the set is stale, and says why
    assert "the N:M pattern changed (2:4 -> 2:8)" in flips.strip.message.text()
    window.controls.weight_radio.click()  # a method with a k: the button scans k again
    assert flips.strip.run_button.text() == "Scan k = 0..100"


def _shot(qtbot, window, name: str) -> None:
    """The gallery enlarged to the window's 1280x720, as View > Enlarge shows it."""
    dialog = window.show_enlarged("Which images break first")
    qtbot.waitExposed(dialog)
    QApplication.processEvents()
    dialog.grab().save(str(Path(SHOTS) / f"{name}.png"))
    dialog.close()
    qtbot.waitUntil(lambda: window.enlarged is None)
