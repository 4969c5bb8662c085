"""Issue 15: a window that works on a classroom projector and never loses work.

Presenter mode at 1280x720, one pruned colour in every view, a wheel that never flips tabs,
questions before results are lost, a hover line that follows the model, actions that say
why they are disabled. Offscreen, on the small trained MLP, each window with its own settings file.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QMessageBox, QTabBar, QWidget

from prune_viz.gui.features import Action, Dock
from prune_viz.gui.views.colours import DIVERGING, HIGH_CONTRAST, PRUNED, PRUNED_RGB
from prune_viz.gui.views.heatmap_data import THUMBNAIL_PIXELS
from prune_viz.gui.views.pictures import PRUNED_LEGEND, READABLE_POINTS
from prune_viz.gui.views.thumbnails import Thumbnail

from gui_helpers import WAIT_MS


def _evaluate(qtbot, window):
    with qtbot.waitSignal(window.controller.shown, timeout=WAIT_MS):
        window.controller.request()


def _inside(widget: QWidget, outer: QWidget) -> bool:
    """The whole of ``widget`` lies inside ``outer``'s rectangle (both visible)."""
    top_left = widget.mapTo(outer, QPoint(0, 0))
    return widget.isVisible() and outer.rect().contains(QRect(top_left, widget.size()))


@pytest.mark.slow
def test_presenter_mode_at_1280x720_reads_from_the_back_without_scrolling(
    qtbot, make_window, opened_mlp, trained_mlp_path
):
    window = make_window(size=(1280, 720))
    window.set_opened_model(str(trained_mlp_path), opened_mlp)
    window.session.configure(method="unit", k=50)
    window.set_presenter_mode(True)
    _evaluate(qtbot, window)
    qtbot.wait(50)  # let the layout settle after the result appeared
    assert (window.width(), window.height()) == (1280, 720)  # the window did not grow
    small = [
        (type(w).__name__, w.objectName(), w.font().pointSizeF())
        for w in window.findChildren(QWidget)
        if w.isVisible() and w.font().pointSizeF() < READABLE_POINTS
    ]
    assert small == []
    assert QApplication.font().pointSizeF() >= READABLE_POINTS  # menus, dialogs and the shortcut list
    viewport = window.side_scroll.viewport()
    for widget in (window.evaluation.result_view.accuracy, window.details.bars_widget):
        assert _inside(widget, viewport) and _inside(widget, window)
    assert window.side_scroll.verticalScrollBar().maximum() == 0  # nothing to scroll to
    heatmap = window.heatmaps.view.canvas
    largest = max(
        (
            w
            for w in window.findChildren(QWidget)
            if w.isVisible() and w is not heatmap and type(w).__name__ in ("PlotWidget", "GraphicsLayoutWidget")
        ),
        key=lambda w: w.width() * w.height(),
    )
    assert heatmap.width() * heatmap.height() > largest.width() * largest.height()
    # the confusion matrix is read enlarged: every count at least READABLE_POINTS
    enlarged = window.show_enlarged("Confusion matrix")
    qtbot.waitExposed(enlarged)
    matrix = enlarged.findChild(QWidget, "enlarged")
    qtbot.wait(50)
    assert matrix.counts_shown and matrix.confusion is not None
    assert min(label.textItem.font().pointSizeF() for label in matrix.count_labels.flat) >= READABLE_POINTS
    enlarged.close()

    window.set_presenter_mode(False)  # back to the normal font, and the app's font too
    assert QApplication.font().pointSizeF() < READABLE_POINTS
    assert window.details.confusion_widget.isVisible() and window.controls.weight_radio.isVisible()


def test_the_pruned_colour_is_the_same_in_every_view(qtbot, window):
    window.session.configure(method="unit", k=50)
    for spec in (DIVERGING, HIGH_CONTRAST):
        window.set_colormap(spec)
        view = window.heatmaps.view  # the pruned cells, as drawn
        assert {tuple(c) for c in view.image.image[np.isnan(view.displayed_image())][:, :3].tolist()} == {PRUNED_RGB}
        pruned_line = window.histogram.pruned_bars.pen().color().getRgb()[:3]
        assert pruned_line == PRUNED_RGB  # the pruned bars' outline; their fill is it faded into the background
        tiles = window.tiles
        assert tiles.applies and len(tiles.greyed_units) > 0
        image = tiles.image.image
        assert np.all(image == PRUNED_RGB, axis=-1).sum() >= len(tiles.greyed_units) * 28 * 28
        thumb = next(iter(window.heatmaps.strip.thumbnails.values()))
        shown = thumb.grab().toImage()  # a row across the thumbnail's picture: live colours and pruned grey
        row = {
            shown.pixelColor(Thumbnail.MARGIN + x, Thumbnail.MARGIN + 10).getRgb()[:3] for x in range(THUMBNAIL_PIXELS)
        }
        assert PRUNED_RGB in row and row - {PRUNED_RGB} <= {tuple(int(v) for v in c) for c in spec.lut()}
        for legend in (window.histogram.summary.text(), window.tiles.legend.text(), window.heatmaps.view.legend.text()):
            assert PRUNED_LEGEND in legend
        # high contrast reaches the charts too, not only the heatmaps
        background = spec.theme.background
        for widget in (window.histogram.plot_widget, window.details.bars_widget, window.accuracy_plot.plot_widget):
            assert widget.backgroundBrush().color().name() == background
        # and the classroom panels and the compare view
        from prune_viz.gui.experiments.compare import ComparePanel
        from prune_viz.gui.experiments.flips import FlipGallery

        gallery, compare = window.findChild(FlipGallery), window.findChild(ComparePanel)
        for widget in (window.lab.draw.plot_widget, gallery.histogram_widget, gallery.curves_widget):
            assert widget.backgroundBrush().color().name() == background
        assert compare.view_a.spec is spec and compare.view_difference.spec is spec
    assert PRUNED == "#{:02x}{:02x}{:02x}".format(*PRUNED_RGB)


def test_high_contrast_never_draws_small_weights_like_pruned_ones():
    lut = HIGH_CONTRAST.lut().astype(int)
    distance = np.abs(lut - np.array(PRUNED_RGB)).sum(axis=1)
    assert distance.min() > 60  # no live weight, small or large, takes the pruned grey
    assert tuple(lut[128]) != PRUNED_RGB and sum(lut[127]) < 60  # near zero is black, pruned is grey


def _wheel_flips(bar: QTabBar) -> bool:
    """Whether one wheel notch over ``bar``, up or down, from any of its tabs, changes the tab."""
    for start in range(bar.count()):
        for delta in (-120, 120):
            bar.setCurrentIndex(start)
            event = QWheelEvent(
                QPointF(5, 5),
                QPointF(bar.mapToGlobal(QPoint(5, 5))),
                QPoint(0, 0),
                QPoint(0, delta),
                Qt.MouseButton.NoButton,
                Qt.KeyboardModifier.NoModifier,
                Qt.ScrollPhase.NoScrollPhase,
                False,
            )
            QApplication.sendEvent(bar, event)
            if bar.currentIndex() != start:
                return True
    return False


def test_the_wheel_over_a_tab_bar_does_not_change_the_tab(qtbot, window):
    bar = window.result_tabs.tabBar()
    assert isinstance(bar, QTabBar) and bar.count() >= 2
    assert not _wheel_flips(bar)


def test_the_wheel_over_the_tabs_of_docks_stacked_later_does_not_change_the_tab(qtbot, window):
    bars_before = set(window.findChildren(QTabBar))
    window.tabifyDockWidget(window.docks["layers"], window.docks["selected"])
    qtbot.waitUntil(lambda: any(bar.isVisible() for bar in set(window.findChildren(QTabBar)) - bars_before))
    bar = next(bar for bar in set(window.findChildren(QTabBar)) - bars_before if bar.isVisible())
    assert bar.count() == 2  # the tab bar Qt made for the two docks
    assert not _wheel_flips(bar)
    bar.removeEventFilter(window.wheel_guard)  # unguarded, the same wheel flips the docks' tabs
    assert _wheel_flips(bar)


@pytest.mark.slow
def test_quit_with_an_unsaved_fine_tuned_model_asks_and_cancel_keeps_it(qtbot, window, monkeypatch, tmp_path):
    panel = window.experiments.finetune
    panel.epochs.setValue(1)
    job = panel.run()
    assert job is not None
    qtbot.waitUntil(lambda: panel.result is not None, timeout=WAIT_MS)
    asked = []

    def answer(parent, title, text, buttons, default):
        asked.append(text)
        return QMessageBox.StandardButton.Cancel

    monkeypatch.setattr(QMessageBox, "question", answer)
    assert window.quit() is False
    assert len(asked) == 1 and "fine-tuned model" in asked[0]
    assert window.isVisible() and panel.result is not None  # kept, nothing lost
    assert window.open_path_asking(window.model_path) is None and len(asked) == 2  # opening asks too
    assert panel.result is not None

    # "Open in prune-viz" straight from the result: saved first (it opens from its file), then opened
    from PySide6.QtWidgets import QFileDialog

    out = tmp_path / "tuned.keras"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (str(out), "Keras model (*.keras)"))
    assert panel.open_button.isEnabled()
    with qtbot.waitSignal(window.model_opened, timeout=WAIT_MS):
        panel.open_button.click()
    assert window.model_path == str(out) and len(asked) == 2  # saved, so nothing to ask about


def test_the_hover_line_names_the_layer_of_the_model_open_now(qtbot, window, small_cnn_path):
    view = window.heatmaps.view
    view.hovered_cell = (3, 2)
    window.session.configure(k=10)  # a redraw re-reads the hovered cell
    assert view.readout.text().startswith(window.heatmaps.selected)
    with qtbot.waitSignal(window.model_opened, timeout=WAIT_MS):
        window.open_path(small_cnn_path)
    assert window.heatmaps.selected == "conv"
    text = view.readout.text()
    assert "hidden" not in text and "fc" not in text  # nothing of the previous model is left
    view.hovered_cell = (1, 1)
    window.session.configure(k=20)
    assert view.readout.text().startswith("conv ")


def test_the_hover_line_follows_the_mask_when_the_method_changes(qtbot, window):
    view = window.heatmaps.view
    window.session.configure(method="weight", k=0)
    view.hovered_cell = (0, 0)
    window.session.configure(k=50)
    window.session.configure(method="unit")
    kept = view.kept
    for column in range(kept.shape[1]):
        view.hovered_cell = (0, column)
        window.session.configure(k=51)
        window.session.configure(k=50)
        drawn_pruned = not bool(view.kept[0, column])
        assert ("PRUNED" in view.readout.text()) == drawn_pruned
        if column > 6:
            break


def test_disabled_actions_carry_their_reason(qtbot, window, small_cnn_savedmodel):
    export, compact = window.features.actions[Action.EXPORT], window.features.actions[Action.EXPORT_COMPACT]
    window.session.configure(method="weight")
    assert export.isEnabled() and not compact.isEnabled()
    assert "unit pruning" in compact.toolTip()
    window.session.configure(method="unit")
    assert compact.isEnabled()
    with qtbot.waitSignal(window.model_opened, timeout=WAIT_MS):
        window.open_path(small_cnn_savedmodel)
    for action in (export, compact):
        assert not action.isEnabled()
        assert "SavedModel" in action.toolTip() and ".keras" in action.toolTip()


def test_presenter_mode_and_high_contrast_are_remembered(qtbot, make_window):
    first = make_window(settings_file="remember.ini")
    first.set_presenter_mode(True)
    first.set_colormap(HIGH_CONTRAST)
    first.close()
    second = make_window(settings_file="remember.ini")
    assert not second.presenter
    second.restore_view()
    assert second.presenter and second.high_contrast


def test_experiments_open_without_starting_a_job_and_keep_the_heatmap(qtbot, window):
    qtbot.keyClick(window, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert window.features.docks[Dock.EXPERIMENTS].isVisible()
    assert not window.experiments.sweep.strip.busy and window.jobs.current is None
    view = window.heatmaps.view.canvas
    assert view.width() >= 300 and view.height() >= 200


def test_save_dialogs_start_at_home_then_in_the_last_folder(qtbot, window, monkeypatch, tmp_path):
    from pathlib import Path

    from PySide6.QtWidgets import QFileDialog

    starts = []
    target = tmp_path / "out" / "image.png"
    target.parent.mkdir()

    def save_name(parent, title, start, name_filter):
        starts.append(start)
        return str(target), name_filter

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_name)
    window.choose_screenshot_path()
    window.choose_screenshot_path()
    assert Path(starts[0]).parent == Path.home()
    assert Path(starts[1]).parent == target.parent
    assert Path(window.model_path).parent not in (Path(s).parent for s in starts)


@pytest.fixture(scope="module")
def small_cnn_path(tmp_path_factory):
    import keras

    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, name="output"),
        ]
    )
    path = tmp_path_factory.mktemp("cnn") / "cnn.keras"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def small_cnn_savedmodel(small_cnn_path):
    import keras

    folder = small_cnn_path.parent / "cnn_savedmodel"
    keras.saving.load_model(small_cnn_path).export(str(folder), verbose=False)
    return folder


def test_every_picture_can_be_shown_alone_enlarged(qtbot, window):
    from prune_viz.gui.shell.arrangement import ENLARGEABLE

    window.session.configure(method="unit", k=50)
    for what in ENLARGEABLE:
        dialog = window.show_enlarged(what)
        qtbot.waitExposed(dialog)
        shown = dialog.findChild(QWidget, "enlarged")
        assert shown is not None and shown.width() > window.width() * 0.9
        dialog.close()
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        assert window.enlarged is None


@pytest.mark.slow
def test_a_stale_result_is_said_in_presenter_type_without_scrolling(qtbot, make_window, opened_mlp, trained_mlp_path):
    """Issue 30, item 6: the stale-result note over the per-digit chart is 18 pt like the rest, whole."""
    window = make_window(size=(1280, 720))
    window.set_opened_model(str(trained_mlp_path), opened_mlp)
    window.set_presenter_mode(True)
    with qtbot.waitActive(window):
        window.activateWindow()
    _evaluate(qtbot, window)
    note = window.details.stale_note
    assert not note.isVisible()
    qtbot.keyClick(window, Qt.Key.Key_Right, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.wait(50)
    assert window.session.config.k == 10 and window.evaluation.result_view.stale
    assert note.isVisible() and note.font().pointSizeF() >= READABLE_POINTS
    assert note.height() >= note.heightForWidth(note.width()) and "k=0%" in note.text()
    viewport = window.side_scroll.viewport()
    assert _inside(note, viewport) and _inside(window.details.bars_widget, viewport)
    assert window.side_scroll.verticalScrollBar().maximum() == 0
