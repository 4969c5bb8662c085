"""A k step redraws what is on screen; what is hidden (a tab behind another, a thumbnail scrolled
out of the strip) catches up when it is shown, and then shows the current k. The slider never
waits on a TensorFlow job. Offscreen, on the small trained MLP."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, QRect
from PySide6.QtGui import QGuiApplication, QRegion

from prune_viz.core import tasks
from prune_viz.core.pruning import count_to_prune
from prune_viz.gui.features import Action
from prune_viz.gui.views.histogram import WeightHistogram
from prune_viz.gui.views.tiles import UnitTileGrid


def _settle(qtbot) -> None:
    qtbot.wait(10)  # layout, show and move events are delivered


def test_a_hidden_tab_does_not_redraw_on_a_k_step_but_is_current_when_shown(qtbot, window):
    tabs, tiles, histogram = window.layer_tabs, window.tiles, window.histogram
    assert tabs.currentWidget() is histogram and not tiles.isVisible()
    drawn = tiles.image.image
    window.controls.slider.setValue(60)
    _settle(qtbot)
    assert tiles.image.image is drawn  # behind its tab, the tiles were not redrawn for k = 60
    assert histogram.threshold == pytest.approx(window.session.result.threshold(histogram.layer_name))

    tabs.setCurrentWidget(tiles)
    _settle(qtbot)
    fresh = UnitTileGrid(window.session)  # drawn now, from scratch, for k = 60
    assert np.array_equal(tiles.image.image, fresh.image.image)
    assert len(tiles.greyed_units) == len(fresh.greyed_units)
    assert not np.array_equal(tiles.image.image, drawn)

    # and the other way round: the histogram, now behind, catches up when it comes back
    before = histogram.threshold
    window.controls.slider.setValue(20)
    _settle(qtbot)
    assert histogram.threshold == before
    tabs.setCurrentWidget(histogram)
    _settle(qtbot)
    reference = WeightHistogram(window.session)
    assert histogram.threshold == pytest.approx(window.session.result.threshold(histogram.layer_name))
    assert histogram.threshold == pytest.approx(reference.threshold) and histogram.threshold != before
    fresh.deleteLater()
    reference.deleteLater()


def test_a_thumbnail_out_of_view_is_drawn_when_scrolled_into_view(qtbot, window):
    strip = window.heatmaps.strip
    names = list(strip.thumbnails)
    first, second = strip.thumbnails[names[0]], strip.thumbnails[names[1]]  # both pruned by default
    strip.setFixedWidth(first.width())  # room for the first thumbnail only
    _settle(qtbot)
    assert not first.visibleRegion().isEmpty() and second.visibleRegion().isEmpty()
    shown_before, caption_before = second.image, second.caption
    window.controls.slider.setValue(70)
    _settle(qtbot)
    assert np.isnan(first.image).mean() == pytest.approx(0.70, abs=0.02)  # in view: drawn for k = 70
    assert (
        np.array_equal(second.image, shown_before, equal_nan=True) and second.caption == caption_before
    )  # out of view: not redrawn

    strip.ensureWidgetVisible(second)  # the user scrolls to it
    _settle(qtbot)
    assert not second.visibleRegion().isEmpty()
    assert np.isnan(second.image).mean() == pytest.approx(0.70, abs=0.02)  # now it shows the current k
    stats = window.session.result.layer(names[1])
    assert second.caption == f"{names[1]}\n{stats.sparsity * 100:.1f}% zero" != caption_before


def test_the_selected_heatmap_is_current_when_the_heatmaps_come_back(qtbot, window):
    """Hidden (the start page shown over them), the heatmaps keep the old mask; shown, the current one."""
    window.stack.setCurrentWidget(window.start_page)
    _settle(qtbot)
    drawn = window.heatmaps.view.displayed_image().copy()
    window.controls.slider.setValue(50)
    assert np.array_equal(np.isnan(window.heatmaps.view.displayed_image()), np.isnan(drawn))
    window.stack.setCurrentWidget(window.heatmaps)
    _settle(qtbot)
    assert int(np.isnan(window.heatmaps.view.displayed_image()).sum()) == count_to_prune(784 * 64, 50)


class _HeldByAJob:
    """The TensorFlow job lock held by another thread, as a running sweep or evaluation holds it;
    notes any thread that asks for it meanwhile (and refuses the GUI thread rather than hang)."""

    def __init__(self, lock):
        self.lock = lock
        self.asked: list[threading.Thread] = []

    def __enter__(self):
        self.asked.append(threading.current_thread())
        if threading.current_thread() is threading.main_thread():
            raise AssertionError("the GUI thread waited on the TensorFlow job lock")
        self.lock.acquire()
        return self

    def __exit__(self, *exc):
        self.lock.release()


def test_the_slider_moves_the_heatmap_while_a_tensorflow_job_holds_the_lock(qtbot, window, monkeypatch):
    held = _HeldByAJob(tasks._TENSORFLOW_LOCK)
    monkeypatch.setattr(tasks, "_TENSORFLOW_LOCK", held)
    taken, release = threading.Event(), threading.Event()

    def job() -> None:
        with tasks.tensorflow_job():
            taken.set()
            release.wait(60)

    worker = threading.Thread(target=job)
    worker.start()
    try:
        assert taken.wait(10)
        for k in (10, 35, 60, 85):  # the user drags while the job runs
            window.controls.slider.setValue(k)
            qtbot.wait(5)
            shown = window.heatmaps.view.displayed_image()
            assert int(np.isnan(shown).sum()) == count_to_prune(784 * 64, k)
            assert window.histogram.threshold == pytest.approx(
                window.session.result.threshold(window.histogram.layer_name)
            )
        assert window.session.config.k == 85
    finally:
        release.set()
        worker.join(10)
    assert held.asked == [worker]  # only the job's thread asked for the lock


def test_the_accuracy_plot_behind_its_tab_catches_up_when_shown(qtbot, window):
    """The ring and caption say whether the last evaluation still applies; behind the Per class tab a k
    step leaves them, and showing the tab draws them for the current k."""
    from PySide6.QtCore import Qt

    tabs, plot = window.result_tabs, window.accuracy_plot
    with qtbot.waitSignal(window.controller.shown, timeout=60_000):
        window.evaluation.evaluate_button.click()
    tabs.setCurrentWidget(window.details)
    _settle(qtbot)
    assert not plot.isVisible()
    assert plot.current_ring.opts["pen"].style() == Qt.PenStyle.SolidLine
    caption = plot.caption.text()

    window.controls.slider.setValue(55)
    _settle(qtbot)
    assert plot.is_stale
    assert plot.caption.text() == caption  # not redrawn behind its tab
    assert plot.current_ring.opts["pen"].style() == Qt.PenStyle.SolidLine

    tabs.setCurrentWidget(plot)
    _settle(qtbot)
    assert plot.current_ring.opts["pen"].style() == Qt.PenStyle.CustomDashLine
    assert window.session.why_stale(window.session.last_evaluation) in plot.caption.text()


def test_the_export_actions_are_judged_again_only_when_the_model_or_pruning_settings_change(qtbot, window, monkeypatch):
    from prune_viz.core import export

    judged: list[str] = []
    original = export.compaction_problem
    monkeypatch.setattr(
        export,
        "compaction_problem",
        lambda opened, method, *rest: judged.append(method) or original(opened, method, *rest),
    )
    compact = window.features.actions[Action.EXPORT_COMPACT]
    for k in (10, 40, 70):
        window.controls.slider.setValue(k)
    assert judged == []  # k changes nothing an export depends on

    window.session.configure(method="unit")
    assert judged == ["unit"]
    assert compact.isEnabled()  # the trained MLP compacts under unit pruning
    window.session.configure(method="weight")
    assert judged == ["unit", "weight"]
    assert not compact.isEnabled() and "unit" in compact.toolTip()
    window.session.configure(method="unit", included=frozenset({"hidden1"}))
    assert judged == ["unit", "weight", "unit"]  # which layers are pruned decides whose units can go
    window.session.configure(unit_mode="remove")
    assert judged == ["unit", "weight", "unit", "unit"]


class _PaintRegions(QObject):
    """The regions painted in each of ``widgets`` (in its own coordinates)."""

    def __init__(self, widgets):
        super().__init__()
        self.regions = {widget: QRegion() for widget in widgets}
        for widget in widgets:
            widget.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.Paint and obj in self.regions:
            self.regions[obj] = self.regions[obj].united(event.region())
        return False


@pytest.mark.parametrize("caption", ["the readout under the slider", "the histogram's summary"])
def test_a_new_readout_repaints_the_readout_not_the_panel_under_it(qtbot, window, caption):
    readout = window.controls.readout if caption == "the readout under the slider" else window.histogram.summary
    under = []  # the widgets under the readout, up to the dock
    widget = readout.parentWidget()
    while widget is not None and widget is not window:
        under.append(widget)
        widget = widget.parentWidget()
    qtbot.waitExposed(window)
    _settle(qtbot)
    painted = _PaintRegions(under + [readout.viewport()])
    before = readout.text()
    window.controls.slider.setValue(35)
    _settle(qtbot)
    assert readout.text() != before and not painted.regions[readout.viewport()].isEmpty()  # it was repainted
    for widget in under:
        area = QRect(readout.mapTo(widget, QPoint(0, 0)), readout.size())
        assert not painted.regions[widget].intersects(area), widget  # its panel was not, under it


def test_a_k_step_repaints_the_histograms_plot_inside_its_axes(qtbot, window):
    """The threshold line and the bars' outlines have one-pixel pens; bounds counted in data units (a
    cosmetic pen's width, in Qt's items) spread their repaint over the axes and their labels. The
    repaint is one rectangle."""
    window.session.configure(method="weight", k=20.0)
    histogram = window.histogram
    qtbot.waitExposed(window)
    _settle(qtbot)
    viewport = histogram.plot_widget.viewport()
    painted = _PaintRegions([viewport])
    window.controls.slider.setValue(40)
    _settle(qtbot)
    box = histogram.plot.getViewBox()
    inside = histogram.plot_widget.mapFromScene(box.sceneBoundingRect()).boundingRect().adjusted(-2, -2, 2, 2)
    assert histogram.threshold is not None and not painted.regions[viewport].isEmpty()
    assert inside.contains(painted.regions[viewport].boundingRect()), (inside, painted.regions[viewport].boundingRect())
    assert painted.regions[viewport].rectCount() == 1  # one rectangle: several clip all that is drawn, slowly
    # the line is where the threshold is, from the top of the plot to its bottom
    line = histogram.marker.line.line()
    at = box.mapViewToScene(QPointF(histogram.threshold, 0.0))
    assert abs(box.mapToScene(line.p1()).x() - at.x()) < 0.5
    assert line.y1() == 0 and line.y2() == pytest.approx(box.rect().height())


def test_a_k_step_does_not_repaint_the_seed_box(qtbot, window):
    """Setting a spin box to the value it shows still repaints it (and its panel behind it)."""
    qtbot.waitExposed(window)
    _settle(qtbot)
    seed = window.controls.seed_spin
    painted = _PaintRegions([seed])
    window.controls.slider.setValue(45)
    _settle(qtbot)
    assert window.session.config.k == 45.0 and painted.regions[seed].isEmpty()


def test_the_histogram_on_screen_after_k_steps_is_the_histogram_drawn_afresh(qtbot, window):
    """Repainting only what a k step changed leaves no trace of the old line, tag or sides: the window's
    pixels (what the screen shows) match the plot rendered from scratch."""
    window.session.configure(method="weight")
    qtbot.waitExposed(window)
    for k in (5, 40, 12, 77, 33, 90, 60):
        window.controls.slider.setValue(k)
        _settle(qtbot)
    viewport = window.histogram.plot_widget.viewport()
    corner = viewport.mapTo(window, QPoint(0, 0))
    shown = (
        QGuiApplication.primaryScreen()
        .grabWindow(window.winId(), corner.x(), corner.y(), viewport.width(), viewport.height())
        .toImage()
    )
    fresh = viewport.grab().toImage().convertToFormat(shown.format())
    assert shown.size() == fresh.size() and shown == fresh
