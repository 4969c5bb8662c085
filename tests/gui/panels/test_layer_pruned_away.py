"""A layer pruned away is said in words under the k slider and on its row, on a Conv-BN CNN."""

from __future__ import annotations

from PySide6.QtCore import Qt

from prune_viz.core.session import open_model

CUT_OFF = "conv1: every unit is pruned; the model cannot pass anything through it."


def _type_k(qtbot, spin, k: int) -> None:
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, str(k))
    qtbot.keyClick(spin, Qt.Key.Key_Return)


def test_the_readout_warns_while_conv1_is_pruned_away(qtbot, make_window, conv_bn_cnn_path):
    window = make_window(size=(1400, 900))
    window.set_opened_model(str(conv_bn_cnn_path), open_model(conv_bn_cnn_path))
    controls, readout = window.controls, window.controls.readout
    controls.unit_radio.click()
    controls.global_radio.click()

    _type_k(qtbot, controls.spin, 50)
    assert window.session.config.k == 50
    assert f"Warning: {CUT_OFF}" in readout.toPlainText()
    assert readout.isVisible() and readout.document().size().height() <= readout.height()  # no line cut off
    assert window.layer_list.items["conv1"].toolTip(4) == CUT_OFF
    assert window.layer_list.items["conv2"].toolTip(4) == ""

    qtbot.keyClick(controls.slider, Qt.Key.Key_PageDown)  # k = 40: conv1 still has no unit left
    assert window.session.config.k == 40 and "Warning:" in readout.toPlainText()
    _type_k(qtbot, controls.spin, 25)
    assert window.session.config.k == 25
    assert "Warning" not in readout.toPlainText()
    assert window.layer_list.items["conv1"].toolTip(4) == ""
