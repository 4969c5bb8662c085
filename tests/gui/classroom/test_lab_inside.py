"""Filters and activations in the window (issue 29 item 5): Experiments menu entries, presenter mode's 18 pt,
lesson steps that show them, and ``--panel filters|activations --screenshot`` in a process of its own."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QLabel, QWidget

from prune_viz.core.lesson import PANELS as LESSON_PANELS
from prune_viz.core.session import open_model
from prune_viz.gui.classroom.lab import PANELS
from prune_viz.gui.features import Menu
from prune_viz.gui.views.pictures import READABLE_POINTS

from gui_helpers import WAIT_MS


@pytest.fixture(scope="module")
def opened_cnn(conv_bn_cnn_path):
    return open_model(conv_bn_cnn_path)


@pytest.fixture
def cnn_window(make_window, opened_cnn, conv_bn_cnn_path):
    window = make_window(size=(1280, 720))
    window.set_opened_model(str(conv_bn_cnn_path), opened_cnn)
    return window


def _action(window, text: str):
    menu = window.features.menus[Menu.EXPERIMENTS]
    return next(a for a in menu.actions() if a.text().replace("&", "") == text)


def test_the_menu_shows_both_pages_in_presenter_mode(qtbot, cnn_window):
    window = cnn_window
    window.set_presenter_mode(True)
    lab = window.lab
    with qtbot.waitSignal(lab.filters.shown, timeout=WAIT_MS):
        _action(window, "Filters as pictures").trigger()
    assert lab.is_showing("filters") and lab.filters.is_settled()
    labels = [lab.filters.message, lab.filters.readout, lab.filters.legend]
    assert all(label.font().pointSizeF() == READABLE_POINTS for label in labels)
    _action(window, "Activations").trigger()
    qtbot.waitUntil(lambda: lab.activations.is_settled() and lab.activations.activations is not None, timeout=WAIT_MS)
    assert lab.is_showing("activations")
    captions = [row.caption for row in lab.activations.rows] + [lab.activations.caption]
    assert all(isinstance(c, QLabel) and c.font().pointSizeF() == READABLE_POINTS for c in captions)
    assert len(lab.activations.rows) == 3


def test_lessons_show_them_as_panels(cnn_window):
    assert {"filters", "activations"} <= set(PANELS) & set(LESSON_PANELS)
    handles = cnn_window.features.panels
    handles["activations"].show(True)
    assert handles["activations"].is_shown() and not handles["filters"].is_shown()
    handles["filters"].show(True)
    assert handles["filters"].is_shown() and not handles["activations"].is_shown()


def test_a_drawn_digit_reaches_the_activations(qtbot, cnn_window, mnist):
    lab = cnn_window.lab
    lab.show_panel("activations")
    lab.activations.choose_pad()
    lab.flips.image_chosen.emit(mnist.x_test[4], int(mnist.y_test[4]))  # a gallery thumbnail clicked
    lab.show_panel("activations")
    qtbot.waitUntil(
        lambda: (
            lab.activations.is_settled()
            and lab.activations.activations is not None
            and lab.activations.activations.sample.source == "the drawing pad"
        ),
        timeout=WAIT_MS,
    )
    np.testing.assert_array_equal(lab.activations.activations.raw, mnist.x_test[4])


@pytest.mark.slow
@pytest.mark.parametrize("panel", ["filters", "activations"])
def test_panel_screenshot(tmp_path, conv_bn_cnn_path, mnist_dir, run_window, panel):
    out = tmp_path / f"{panel}.png"
    done = run_window(
        conv_bn_cnn_path, "--panel", panel, "--method", "unit", "--k", "60", "--data", mnist_dir, "--screenshot", out
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert out.is_file() and out.stat().st_size > 10_000


def test_a_gallery_image_of_any_colour_is_an_input(qtbot, cnn_window, mnist):
    lab = cnn_window.lab
    lab.show_panel("activations")
    page = lab.activations
    page.source_box.setCurrentIndex(page.source_box.findData("chosen"))
    assert "Click a test image in the flip gallery" in page.message.text()
    lab.flips.image_chosen.emit(mnist.x_test[6], int(mnist.y_test[6]))
    lab.show_panel("activations")  # the pad took it too, and showed itself
    qtbot.waitUntil(
        lambda: (
            page.is_settled()
            and page.activations is not None
            and page.activations.sample.source == "the gallery's chosen image"
        ),
        timeout=WAIT_MS,
    )
    np.testing.assert_array_equal(page.activations.raw, mnist.x_test[6])


@pytest.fixture(scope="module")
def mnist50(mnist, tmp_path_factory):
    path = tmp_path_factory.mktemp("mnist50") / "mnist50.npz"
    np.savez(path, x_test=mnist.x_test[:50], y_test=mnist.y_test[:50])
    return path


def test_view_enlarge_shows_each_inside_page_in_presenter_type_and_gives_it_back(
    qtbot, make_window, opened_cnn, conv_bn_cnn_path, mnist50
):
    """View > Enlarge one picture offers the filters, the activations and the spectrum, each with its shortcut:
    the lab's own page, lent to a window of the main window's size in presenter type, drawn there, and back in
    its tab when that window closes."""
    from PySide6.QtCore import QEvent
    from PySide6.QtWidgets import QApplication, QScrollArea

    window = make_window(data_path=mnist50, size=(1280, 720))
    window.session.preprocessing = "scale"  # 50 test images the model reads /255: no scaling to find
    window.set_opened_model(str(conv_bn_cnn_path), opened_cnn)
    window.set_presenter_mode(True)
    window.session.configure(method="unit", k=50.0)
    lab = window.lab
    enlarge = window.features.menus[Menu.VIEW]
    entries = {
        a.text(): a.shortcut().toString()
        for a in next(a.menu() for a in enlarge.actions() if a.menu() is not None).actions()
    }
    assert {entries[w] for w in ("Filters", "Activations", "Spectrum")} == {"Ctrl+Alt+F", "Ctrl+Alt+A", "Ctrl+Alt+S"}
    assert len(set(entries.values())) == len(entries)  # no two entries share a key
    drawn = {
        "Filters": lambda: lab.filters.is_settled() and lab.filters.grid.count == 8,
        "Activations": lambda: lab.activations.is_settled() and len(lab.activations.rows) == 3,
        "Spectrum": lambda: (
            lab.spectrum.table.rowCount() == len(window.session.model.layers)
            and lab.spectrum.status.text() == "k = 50%"
        ),
    }
    for what, name in (("Filters", "filters"), ("Activations", "activations"), ("Spectrum", "spectrum")):
        page = lab.page(name)
        dialog = window.show_enlarged(what)
        qtbot.waitExposed(dialog)
        assert dialog.findChild(QWidget, "enlarged") is page and page.window() is dialog
        assert isinstance(page.parentWidget().parentWidget(), QScrollArea)  # a deep model's rows scroll
        assert page.width() > window.width() * 0.9
        assert dialog.font().pointSizeF() == page.font().pointSizeF() == READABLE_POINTS  # presenter type
        qtbot.waitUntil(drawn[what], timeout=WAIT_MS)
        assert window.experiments.scroll_of(page).widget() is not page  # its tab says where it is
        grids = [lab.filters.grid] if what == "Filters" else [lab.activations.rows[0].pruned] * (what == "Activations")
        for grid in grids:  # the pictures grow to the window, and fit it: nothing to scroll
            tiles = grid.tiles.shape
            assert grid.zoom > 1 and grid.height() >= -(-tiles[0] // grid.columns_for(grid.width())) * tiles[1] * 2
            assert grid.image().width() == grid.columns_for(grid.width()) * tiles[2] * grid.zoom
        if what != "Spectrum":
            assert page.parentWidget().parentWidget().verticalScrollBar().maximum() == 0
        dialog.close()
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        assert window.enlarged is None and window.experiments.scroll_of(page).widget() is page
        assert all(grid.zoom == 1 for grid in grids)  # back in its tab at its own size
