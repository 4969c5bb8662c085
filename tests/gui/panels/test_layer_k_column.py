"""The layer list's k column, driven as a user drives it: double-click the cell, type a k, Enter."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QLineEdit

from prune_viz.core.pruning import count_to_prune


def _type_in_k_cell(qtbot, layer_list, name: str, text: str) -> None:
    item = layer_list.items[name]
    index = layer_list.indexFromItem(item, layer_list.K_COLUMN)
    layer_list.scrollTo(index)
    centre = layer_list.visualRect(index).center()
    qtbot.mouseClick(layer_list.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseDClick(layer_list.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    qtbot.waitUntil(lambda: layer_list.state() == QAbstractItemView.State.EditingState)
    editor = layer_list.viewport().findChild(QLineEdit)
    assert editor is not None and editor.isVisible()
    editor.selectAll()
    qtbot.keyClick(editor, Qt.Key.Key_Delete)
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # Qt commits the edit from its event queue
    qtbot.waitUntil(lambda: layer_list.state() != QAbstractItemView.State.EditingState)


def test_a_k_typed_in_the_column_prunes_that_layer_alone_at_it(qtbot, window):
    session, layer_list = window.session, window.layer_list
    window.controls.spin.setFocus()
    window.controls.spin.selectAll()
    qtbot.keyClicks(window.controls.spin, "30")
    qtbot.keyClick(window.controls.spin, Qt.Key.Key_Return)
    first, second = (layer.name for layer in session.model.layers[:2])
    before = {layer.name: layer.zeros for layer in session.result.layers}

    _type_in_k_cell(qtbot, layer_list, second, "80 %")
    assert session.config.layer_k == {second: 80.0}
    after = {layer.name: layer for layer in session.result.layers}
    assert after[second].pruned == count_to_prune(after[second].size, 80)
    assert {n: after[n].zeros for n in before if n != second} == {n: z for n, z in before.items() if n != second}
    assert layer_list.items[second].text(layer_list.K_COLUMN) == "80"
    assert layer_list.items[second].text(3) == "80.0%"
    assert layer_list.items[first].text(layer_list.K_COLUMN) == ""
    # the readout and the heatmap's title say it
    assert f"own k: {second} 80%" in window.controls.readout.toPlainText()
    window.heatmaps.set_layer(second)  # the click on its row selected it already
    qtbot.waitUntil(lambda: "own k 80%" in window.heatmaps.view.title.text())

    # the slider moves the other layers only
    qtbot.keyClick(window.controls.slider, Qt.Key.Key_PageUp)
    assert session.config.k == 40 and session.result.layer(second).pruned == after[second].pruned

    # emptied: it follows the slider again
    _type_in_k_cell(qtbot, layer_list, second, "")
    assert not session.config.layer_k
    assert session.result.layer(second).pruned == count_to_prune(after[second].size, 40)


def test_a_k_that_is_not_one_is_refused_in_a_box_and_the_cell_goes_back(qtbot, window):
    session, layer_list = window.session, window.layer_list
    name = session.model.layers[0].name
    _type_in_k_cell(qtbot, layer_list, name, "150")
    assert not session.config.layer_k
    assert layer_list.items[name].text(layer_list.K_COLUMN) == ""
    assert "150" in layer_list.error_box.text()
    layer_list.error_box.close()


def test_other_columns_are_not_edited(qtbot, window):
    layer_list = window.layer_list
    item = layer_list.items[window.session.model.layers[0].name]
    centre = layer_list.visualRect(layer_list.indexFromItem(item, 1)).center()
    qtbot.mouseDClick(layer_list.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    assert layer_list.state() != QAbstractItemView.State.EditingState
    assert layer_list.viewport().findChild(QLineEdit) is None
    assert item.text(1) == window.session.model.layers[0].kind
