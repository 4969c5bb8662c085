"""The Spectrum lab page as a user uses it: open it, move k, pick a layer, scan alpha against k; the
spectra are computed in jobs (never on the slider's path) and cached per k."""

from __future__ import annotations

import pytest

from prune_viz.core.spectrum import layer_spectrum
from prune_viz.gui.experiments.spectrum import COLUMNS, SPECTRUM_KIND, TABS, SpectrumPage

from gui_helpers import WAIT_MS


def column(name: str) -> int:
    return COLUMNS.index(name)


def cell(page: SpectrumPage, layer: str, name: str) -> str:
    rows = [page.table.item(r, 0).data(256) for r in range(page.table.rowCount())]  # Qt.UserRole
    return page.table.item(rows.index(layer), column(name)).text()


def open_page(qtbot, window) -> SpectrumPage:
    page = window.lab.spectrum
    with qtbot.waitSignal(page.shown, timeout=WAIT_MS):
        window.lab.show_panel("spectrum")
    assert window.lab.is_showing("spectrum")
    return page


def test_the_page_shows_each_layers_alpha_and_follows_k(qtbot, window):
    page = open_page(qtbot, window)
    layers = window.session.model.layers
    assert page.table.rowCount() == len(layers)
    for layer in layers:  # k = 0: the pruned spectrum is the original's
        expected = f"{layer_spectrum(layer).fit.alpha:.3f}"
        assert cell(page, layer.name, "alpha") == expected
        assert cell(page, layer.name, "at k") == expected
        assert cell(page, layer.name, "view") == f"{layer.rows} x {layer.columns}"  # a Dense kernel: its matrix
    first = layers[0]
    assert page.selected == first.name and "alpha" in page.caption.text()
    assert len(page.esd.plot_item.listDataItems()) >= 1

    # a slider step: the handler only queues the job (nothing is computed on the GUI thread), and the
    # page shows the pruned spectra once it is done
    with qtbot.waitSignal(page.shown, timeout=WAIT_MS):
        window.session.configure(method="unit", k=50.0)
        assert page._pair(first.name) is None  # not computed yet: the job will do it
        assert cell(page, first.name, "at k") == "..."
    result = window.session.result
    expected = layer_spectrum(first, result.plans[first.name])
    assert cell(page, first.name, "at k") == f"{expected.fit.alpha:.3f}"
    assert cell(page, first.name, "rank\nlost") == str(expected.rank_loss) != "0"
    assert "at k = 50%" in page.caption.text()
    esd_curves = [item.name() for item in page.esd.plot_item.listDataItems() if item.name()]
    assert "original" in esd_curves and "pruned at k = 50%" in esd_curves

    # back to a k seen before: straight from the cache, no job
    window.session.configure(k=0.0)
    with qtbot.waitSignal(page.shown, timeout=WAIT_MS):
        window.session.configure(k=50.0)
    assert not window.jobs.has_waiting(SPECTRUM_KIND) and page.job is None


def test_choosing_a_layer_draws_its_spectrum(qtbot, window):
    page = open_page(qtbot, window)
    second = window.session.model.layers[1].name
    window.heatmaps.layer_selected.emit(second)  # chosen in the window: the page follows
    assert page.selected == second
    assert page.caption.text().startswith(f"<b>{second}</b>")
    third = window.session.model.layers[2].name
    row = [page.table.item(r, 0).data(256) for r in range(page.table.rowCount())].index(third)
    page.table.cellClicked.emit(row, 0)  # a click on its row in the table
    assert page.selected == third and page.caption.text().startswith(f"<b>{third}</b>")


def test_the_scan_plots_alpha_against_k_and_can_be_cancelled(qtbot, window):
    page = open_page(qtbot, window)
    with qtbot.waitSignal(page.scanned, timeout=WAIT_MS) as done:
        page.strip.run_button.click()
    points = done.args[0]
    assert [p.k for p in points] == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]
    included = sorted(window.session.config.included)
    assert sorted(page.scan_plot.curves) == included
    for name in included:
        xs, ys = page.scan_plot.curves[name].getData()
        assert list(xs) == [p.k for p in points]
        assert ys[0] == pytest.approx(page.rows[name][0].fit.alpha)
    # another setting makes it stale; a new scan can be cancelled
    window.session.configure(method="unit")
    assert "other settings" in page.scan_note.text()
    with qtbot.waitSignal(page.strip.busy_changed, timeout=WAIT_MS, check_params_cb=lambda busy: not busy):
        page.strip.run_button.click()
        page.strip.cancel_button.click()
    assert "cancelled" in page.strip.message.text()


@pytest.mark.slow
def test_panel_spectrum_screenshot(run_window, tmp_path):
    """``--panel spectrum --screenshot`` waits for the spectra at the k given, then saves the window."""
    from PySide6.QtGui import QImage

    out = tmp_path / "spectrum.png"
    done = run_window("--panel", "spectrum", "--method", "unit", "--k", "60", "--screenshot", out)
    assert done.returncode == 0, done.stderr
    image = QImage(str(out))
    assert not image.isNull() and image.width() >= 640


# -- presenter type (18 pt) on a 1280x720 projector ------------------------------------------------------------


def _rect_in(widget, window):
    from PySide6.QtCore import QPoint, QRect

    return QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())


def _cut_texts(page, window) -> list[str]:
    """What a user would see cut on the page's shown tab: a widget (or its text) outside the window, a label
    or button shorter or narrower than its text, a table header narrower than its title, an axis title longer
    than its axis, any text under 18 pt."""
    from PySide6.QtWidgets import QAbstractButton, QComboBox, QHeaderView, QLabel, QTabBar, QWidget

    from prune_viz.gui.views.pictures import READABLE_POINTS

    problems = []
    for widget in [page, *page.findChildren(QWidget)]:
        if not widget.isVisible() or widget.width() == 0:
            continue
        name = f"{type(widget).__name__} {getattr(widget, 'text', lambda: '')()!r}"[:80]
        if not window.rect().contains(_rect_in(widget, window)):
            problems.append(f"outside the window: {name}")
        if isinstance(widget, (QLabel, QAbstractButton, QComboBox, QTabBar, QHeaderView)):
            if widget.font().pointSizeF() < READABLE_POINTS:
                problems.append(f"under 18 pt: {name}")
        if isinstance(widget, QLabel) and widget.text():
            if widget.wordWrap() and widget.height() < widget.heightForWidth(widget.width()):
                problems.append(f"wrapped text cut: {name}")
            if not widget.wordWrap() and widget.width() < widget.sizeHint().width():
                problems.append(f"text cut: {name}")
        if isinstance(widget, QAbstractButton) and widget.width() < widget.sizeHint().width():
            problems.append(f"button text cut: {name}")
    header = page.table.horizontalHeader()
    if page.table.isVisible():
        for column, title in enumerate(COLUMNS):
            if header.sectionSize(column) < header.sectionSizeFromContents(column).width():
                problems.append(f"header cut: {title}")
        needed = sum(header.sectionSize(c) for c in range(len(COLUMNS)))
        if page.table.horizontalScrollBar().isVisible():
            problems.append(f"the table scrolls sideways: {needed} of {page.table.viewport().width()} pixels")
    for plot in (page.esd, page.singular, page.scan_plot):
        if not plot.isVisible():
            continue
        for side in ("bottom", "left"):
            axis = plot.plot_item.getAxis(side)
            if axis.style["tickFont"].pointSizeF() < READABLE_POINTS:
                problems.append(f"{type(plot).__name__} {side} ticks under 18 pt")
            if float(axis.labelStyle["font-size"].removesuffix("pt")) < READABLE_POINTS:
                problems.append(f"{type(plot).__name__} {side} title under 18 pt")
            room = axis.width() if side == "bottom" else axis.height()
            if axis.label.boundingRect().width() > room:
                problems.append(f"{type(plot).__name__} {side} title longer than its axis")
    return problems


def test_presenter_type_at_1280x720_shows_every_tab_whole(qtbot, make_window, opened_mlp, trained_mlp_path, tmp_path):
    """At 1280x720 in presenter type the page covers the heatmap (a lab drawer) and shows each of its tabs whole:
    no text under 18 pt, none cut, no widget outside the window, no scrolling. (With PRUNE_VIZ_SHOTS set to a
    folder, each tab's picture is saved there to look at.)"""
    import os

    from PySide6.QtWidgets import QApplication

    window = make_window(size=(1280, 720))
    window.set_opened_model(str(trained_mlp_path), opened_mlp)
    window.set_presenter_mode(True)
    window.session.configure(method="unit", k=50.0)
    page = open_page(qtbot, window)
    with qtbot.waitSignal(page.scanned, timeout=WAIT_MS):
        page.strip.run_button.click()
    qtbot.waitUntil(lambda: window.lab_drawer.covering, timeout=WAIT_MS)
    assert (window.width(), window.height()) == (1280, 720)
    scroll = window.experiments.scroll_of(page)
    shots = os.environ.get("PRUNE_VIZ_SHOTS")
    for index, tab in enumerate(TABS):
        page.views.setCurrentIndex(index)
        qtbot.wait(50)
        QApplication.processEvents()
        assert scroll.verticalScrollBar().maximum() == 0 and scroll.horizontalScrollBar().maximum() == 0, tab
        if shots:
            window.grab().save(os.path.join(shots, f"spectrum-presenter-1280-{index}.png"))
        problems = _cut_texts(page, window)
        assert problems == [], (tab, problems)
    assert "alpha" in page.caption.text() and page.caption.isVisible() is False  # on the first tab only
