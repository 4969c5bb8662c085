"""The criterion, seed and unit-mode controls, driven as a user would, on the small trained MLP."""

from __future__ import annotations

import numpy as np

from prune_viz.core.pruning import CRITERIA, UNIT_MODES, count_to_prune
from prune_viz.gui.views.colours import PRUNED_INDEX

from gui_helpers import WAIT_MS


def _choose(combo, value, choices):
    combo.setCurrentIndex(choices.index(value))
    combo.activated.emit(choices.index(value))


def test_unit_mode_remove_shows_the_bias_strip_and_says_so(qtbot, window):
    controls, session = window.controls, window.session
    assert not controls.unit_mode_combo.isEnabled()  # a unit mode means nothing for weight pruning
    controls.unit_radio.click()
    assert controls.unit_mode_combo.isEnabled()
    controls.spin.setValue(50)
    view = window.heatmaps.view
    assert view.vector_labels == ["bias"]
    assert not (view.vector_indices == PRUNED_INDEX).any()  # kernel mode: the bias stays
    _choose(controls.unit_mode_combo, "remove", UNIT_MODES)
    assert session.config.unit_mode == "remove" and session.config.k == 50
    removed = count_to_prune(64, 50)
    assert int((view.vector_indices == PRUNED_INDEX).sum()) == removed
    drawn = view.vector_image.image[..., :3]  # the strip as drawn: the removed entries in the pruned grey
    assert int(np.all(drawn == np.array(view.spec.pruned), axis=-1).sum()) == removed
    both = removed + count_to_prune(32, 50)  # hidden1 and hidden2 are included
    assert f"{both:,} bias and BatchNormalization entries zeroed" in controls.readout.text()
    assert "+ bias/BN" in window.layer_list.items["hidden1"].text(4)
    assert "its bias" in window.layer_list.items["hidden1"].toolTip(0)
    column = int(np.flatnonzero(session.result.removed_units("hidden1"))[0])
    assert "REMOVED" in view.describe_vector(0, column)


def test_random_criterion_and_seed_change_the_masks(qtbot, window):
    controls, session = window.controls, window.session
    controls.spin.setValue(50)
    magnitude = session.result.masks["hidden1"].numpy()
    assert not controls.seed_spin.isEnabled()
    _choose(controls.criterion_combo, "random", CRITERIA)
    assert controls.seed_spin.isEnabled() and session.config.criterion == "random"
    seed0 = session.result.masks["hidden1"].numpy()
    controls.seed_spin.setValue(1)
    assert session.config.seed == 1
    seed1 = session.result.masks["hidden1"].numpy()
    assert not np.array_equal(seed0, magnitude) and not np.array_equal(seed0, seed1)
    assert "random score" in window.histogram.plot.getAxis("bottom").labelText
    tabs = window.layer_tabs
    assert tabs.tabText(tabs.indexOf(window.histogram)) == "random score histogram"


def test_taylor_is_computed_as_a_job_then_chosen(qtbot, window):
    controls, session = window.controls, window.session
    controls.spin.setValue(30)
    _choose(controls.criterion_combo, "taylor", CRITERIA)
    assert session.config.criterion == "magnitude"  # until the scores exist
    qtbot.waitUntil(lambda: session.config.criterion == "taylor", timeout=WAIT_MS)
    assert session.taylor_ready
    assert "Taylor scores from 1,000 training images of" in controls.readout.text()
    assert "Taylor" in window.histogram.plot.getAxis("bottom").labelText
    assert controls.criterion_combo.currentData() == "taylor"


def test_the_criterion_tooltip_says_layerwise_lamp_is_magnitude_and_what_unit_lamp_is(qtbot, window):
    from PySide6.QtCore import QEvent, Qt
    from PySide6.QtGui import QHelpEvent
    from PySide6.QtWidgets import QApplication, QToolTip

    combo = window.controls.criterion_combo
    centre = combo.rect().center()
    QApplication.sendEvent(combo, QHelpEvent(QEvent.Type.ToolTip, centre, combo.mapToGlobal(centre)))
    qtbot.waitUntil(QToolTip.isVisible, timeout=WAIT_MS)
    shown = " ".join(QToolTip.text().split())
    assert "LAMP with layerwise scope prunes exactly what magnitude prunes" in shown
    assert "Unit LAMP here is the unit's L2 norm / √fan-in" in shown
    lamp_item = combo.itemData(CRITERIA.index("lamp"), Qt.ItemDataRole.ToolTipRole)
    assert "prunes exactly what magnitude prunes" in lamp_item  # on the LAMP entry of the open list too
    QToolTip.hideText()
