"""The flip gallery on the user's own data (issue 27): a colour image folder's own pictures in colour with
its class names in the captions, samples that are not images as rows, and data without labels said as
breaking away from the unpruned model. Driven as a user does: the data chosen, Ctrl+B, the scan."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from prune_viz.core.session import open_model

from gui_helpers import WAIT_MS, image_pixels

pytestmark = pytest.mark.slow
SHOTS = os.environ.get("PRUNE_VIZ_SHOTS")  # a folder: the tests leave their screenshots there
CLASSES = ("blue", "green", "red")  # tests/own_data.py: the sub-folders, sorted
CHANNEL = {"red": 0, "green": 1, "blue": 2}


def _scanned(qtbot, make_window, model: Path, data: Path):
    """A 1280x720 window on ``model`` with ``data`` chosen, then Ctrl+B: the gallery shown and its scan run."""
    window = make_window(size=(1280, 720))
    window.session.set_data(data_path=str(data))
    with qtbot.waitSignal(window.controller.data_read, timeout=WAIT_MS):
        window.set_opened_model(str(model), open_model(model))
    window.session.configure(method="weight", scope="layer")
    flips = window.lab.flips
    with qtbot.waitSignal(flips.scanned, timeout=WAIT_MS):
        qtbot.keyClick(window, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    qtbot.wait(100)
    return window, flips


def _shot(qtbot, window, name: str) -> None:
    """The gallery enlarged to the window's 1280x720, as View > Enlarge shows it."""
    if SHOTS:
        dialog = window.show_enlarged("Which images break first")
        qtbot.waitExposed(dialog)
        QApplication.processEvents()
        assert (dialog.width(), dialog.height()) == (1280, 720)
        dialog.grab().save(str(Path(SHOTS) / f"pictures-{name}.png"))
        dialog.close()
        qtbot.waitUntil(lambda: window.enlarged is None)


def test_a_colour_image_folder_shows_its_own_images_in_colour_with_class_names(qtbot, make_window, own_data):
    window, flips = _scanned(qtbot, make_window, own_data / "colours.keras", own_data / "colours-png")
    scan, model, view = flips.scan, flips.thumbnails, flips.list_view
    assert flips.samples.currentWidget() is view and view.isVisible() and not flips.table.isVisible()
    assert scan.class_names == CLASSES
    flips.show_group("all")
    assert model.rowCount() == 90
    data = window.session.data
    for row in range(model.rowCount()):  # every caption names the classes: "green -> blue", "at k = 37%"
        image = model.image_index(row)
        first, when = model.data(model.index(row)).split("\n")
        label = CLASSES[int(data.y_test[image])]
        if np.isnan(scan.breaking_k[image]):
            assert (first, when) == (label, "never breaks")
        else:
            taken = CLASSES[int(scan.predicted[np.argmax(scan.wrong[:, image]), image])]
            assert first == f"{label} -> {taken}"
            assert when == (f"at k = {scan.breaking_k[image]:g}%" if scan.breaking_k[image] else "unpruned")
    # the thumbnails are the folder's own images (40x40 files read at the model's 32x32), in colour
    flips.show_group("broken")
    qtbot.waitUntil(lambda: view.viewport().rect().contains(view.visualRect(model.index(0))), timeout=WAIT_MS)
    QApplication.processEvents()
    screen = image_pixels(view.viewport().grab().toImage())
    checked = 0
    for row in range(min(6, model.rowCount())):
        image = model.image_index(row)
        pixmap = model.data(model.index(row), Qt.ItemDataRole.DecorationRole)
        assert (pixmap.width(), pixmap.height()) == (56, 56)  # 32x32 scaled to the thumbnail, aspect kept
        rect = view.visualRect(model.index(row))
        ratio = view.viewport().grab().devicePixelRatio()
        left, top = int((rect.left() + (rect.width() - 56) // 2) * ratio), int((rect.top() + 3) * ratio)
        shown = screen[top : top + int(56 * ratio), left : left + int(56 * ratio)].astype(int)
        if shown.shape[:2] != (int(56 * ratio), int(56 * ratio)):
            continue  # scrolled out of view
        spread = shown.max(axis=2) - shown.min(axis=2)
        assert (spread > 100).mean() > 0.1  # colour: the blob is far from grey
        channel = CHANNEL[CLASSES[int(data.y_test[image])]]
        assert np.argmax(shown.reshape(-1, 3).sum(axis=0)) == channel  # a red image's thumbnail is red
        centres = ((np.arange(32) + 0.5) * 56 * ratio / 32).astype(int)  # each pixel a block: its centre
        np.testing.assert_array_equal(shown[centres][:, centres], data.x_test[image].astype(int))
        checked += 1
    assert checked >= 3
    assert "CLICK" not in flips.thumbs_title.text().upper()  # 32x32 colour is not for the digit pad
    sent = []
    flips.image_chosen.connect(lambda *args: sent.append(args))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(model.index(0)).center())
    qtbot.wait(200)
    assert sent == [] and window.lab.is_showing("flips") and window.lab.draw.pad.image is None
    assert flips.tabs.tabText(flips.curves_tab) == "Accuracy per class"
    assert [label.text for _sample, label in flips.curves_legend.items] == list(CLASSES)
    assert flips.matrix.names == CLASSES
    _shot(qtbot, window, "gallery-colour-folder")


def test_colour_images_without_labels_break_away_from_the_unpruned_model(qtbot, make_window, own_data):
    window, flips = _scanned(qtbot, make_window, own_data / "colours.keras", own_data / "colours-unlabelled.npz")
    scan, model = flips.scan, flips.thumbnails
    assert scan.against == "unpruned"
    caption = flips.caption.text()
    assert "no labels" in caption and "changes from the unpruned model's" in caption
    assert model.rowCount() > 0 and flips.samples.currentWidget() is flips.list_view
    image = model.image_index(0)
    assert scan.class_names is None  # x alone: the classes are the model's output numbers
    unpruned = scan.class_name(int(scan.predicted[0, image]))
    assert model.data(model.index(0)).split("\n")[0].startswith(f"{unpruned} -> ")
    assert f"read as {unpruned} unpruned" in model.data(model.index(0), Qt.ItemDataRole.ToolTipRole)
    assert flips.tabs.tabText(flips.curves_tab) == "Agreement per class"
    assert "agreement with the unpruned model" in flips.scrub_label.text()


@pytest.mark.parametrize(
    "model, data, kind", [("table.keras", "table.csv", "rows of numbers"), ("tokens.keras", "tokens.npz", "tokens")]
)
def test_samples_that_are_not_images_are_listed_as_rows(qtbot, make_window, own_data, model, data, kind):
    window, flips = _scanned(qtbot, make_window, own_data / model, own_data / data)
    scan, rows, table = flips.scan, flips.rows, flips.table
    assert flips.samples.currentWidget() is table and table.isVisible() and not flips.list_view.isVisible()
    assert flips.thumbs_title.text() == "Test samples by breaking k"
    headers = [rows.headerData(c, Qt.Orientation.Horizontal) for c in range(rows.columnCount())]
    assert headers == ["Sample", "True class", "At k = 0", "Breaking k", "Then taken for"]
    flips.show_group("all")
    assert rows.rowCount() == len(window.session.data.x_test)
    labels = window.session.data.y_test
    for row in range(rows.rowCount()):
        index = flips.thumbnails.image_index(row)
        shown = [rows.data(rows.index(row, column)) for column in range(5)]
        b = scan.breaking_k[index]
        assert shown[:3] == [f"#{index}", str(int(labels[index])), str(int(scan.predicted[0, index]))]
        assert shown[3] == ("never" if np.isnan(b) else f"{b:g}%")
        if not np.isnan(b):
            assert shown[4] == str(int(scan.predicted[np.argmax(scan.wrong[:, index]), index]))
    assert "test samples" in flips.caption.text()
    flips.show_group("broken")
    if kind == "rows of numbers":
        _shot(qtbot, window, "gallery-csv")
