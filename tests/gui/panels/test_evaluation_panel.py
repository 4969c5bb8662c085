"""The evaluation panel as a user sees it: the test data it will read, said in words that fit."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel


def test_the_default_test_data_is_shown_whole_and_its_tooltip_says_where_it_is_looked_for(make_window):
    window = make_window(size=(1280, 720))  # a 720p projector
    window.session.set_data(data_path="")  # no data chosen: what a first start shows
    label = window.evaluation.data_label
    assert label.isVisible() and label.text().startswith("default")
    assert QLabel.text(label) == label.text()  # what is painted: the whole text, not elided mid-word
    assert "bundled with prune-viz" in label.toolTip() and "download" not in label.toolTip()
    window.grab().save("/tmp/i30a_data_label.png")
    window.session.set_data(data_path="/somewhere/mnist.npz")
    assert label.text() == label.toolTip() == "/somewhere/mnist.npz"
