"""The main window driven like a user would: slider, method/scope, layer checkboxes, Evaluate,
Cancel, stale results, drag-and-drop, failed opens. Offscreen, on the small trained MLP."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QColor, QDropEvent, QPalette
from PySide6.QtWidgets import QApplication

from prune_viz.core.pruning import PruningConfig, count_to_prune
from prune_viz.core.session import Session
from prune_viz.gui.features import Dock
from prune_viz.gui.shell.main_window import MainWindow
from prune_viz.gui.views.colours import PRUNED_RGB

from gui_helpers import WAIT_MS, job_threads


def _pruned_cells(image: np.ndarray) -> int:
    return int(np.isnan(image).sum())


def _evaluate_and_wait(qtbot, window):
    with qtbot.waitSignal(window.controller.shown, timeout=WAIT_MS) as blocker:
        window.evaluation.evaluate_button.click()  # QTest clicks in quick succession can merge into a double-click
    return blocker.args[0]


def test_a_thumbnail_clicked_or_pressed_shows_its_layer_large(qtbot, window):
    strip = window.heatmaps.strip
    first, second = list(strip.thumbnails.values())[:2]
    assert first.isChecked() and not second.isChecked()
    qtbot.mouseClick(second, Qt.MouseButton.LeftButton)
    assert window.heatmaps.selected == second.name == window.histogram.layer_name
    assert second.isChecked() and not first.isChecked()
    qtbot.mouseClick(second, Qt.MouseButton.LeftButton)  # the shown layer's thumbnail again: still checked
    assert second.isChecked() and window.heatmaps.selected == second.name
    first.setFocus()
    qtbot.keyClick(first, Qt.Key.Key_Space)
    assert window.heatmaps.selected == first.name and first.isChecked() and not second.isChecked()
    assert first.accessibleName() == first.caption.replace("\n", ": ") and "% zero" in first.caption


def test_slider_keys_prune_the_heatmaps_live(qtbot, window):
    slider = window.controls.slider
    slider.setFocus()
    for _ in range(3):
        qtbot.keyClick(slider, Qt.Key.Key_PageUp)
    qtbot.keyClick(slider, Qt.Key.Key_Right)
    assert window.session.config.k == 31
    assert window.controls.spin.value() == 31
    shown = window.heatmaps.view.displayed_image()
    assert shown.shape == (784, 64)  # small enough to be drawn without a stride
    assert _pruned_cells(shown) == count_to_prune(784 * 64, 31)
    # the pruned cells are exactly the smallest |w| of the original
    original = window.session.model.layers[0].original
    threshold = np.sort(np.abs(original), axis=None)[count_to_prune(original.size, 31) - 1]
    assert np.all(np.abs(original[np.isnan(shown)]) <= threshold)
    assert "k = 31%" in window.controls.readout.text()
    assert "31.0% zero in the 2 included layers" in window.controls.readout.text()

    slider.setValue(55)
    hidden2 = window.heatmaps.strip.thumbnails["hidden2"].image
    assert _pruned_cells(hidden2) == count_to_prune(64 * 32, 55)
    assert _pruned_cells(window.heatmaps.strip.thumbnails["output"].image) == 0  # excluded by default
    assert window.layer_list.items["hidden2"].text(3) == "55.0%"
    overall = window.session.all_weights_sparsity()
    assert f"{overall * 100:.1f}% of all weights" in window.controls.readout.text()


def test_unit_method_and_global_scope(qtbot, window):
    window.controls.unit_radio.click()
    window.controls.spin.setValue(50)
    assert window.session.config.method == "unit"
    shown = window.heatmaps.view.displayed_image()
    dead_columns = int(np.all(np.isnan(shown), axis=0).sum())
    assert dead_columns == count_to_prune(64, 50)
    assert _pruned_cells(shown) == dead_columns * 784  # whole units only
    assert "Units pruned: 48 of 96" in window.controls.readout.text()

    window.controls.global_radio.click()
    assert window.session.config.scope == "global"
    expected = window.session.model.pruner.prune(window.session.config).layer("hidden1").pruned_units
    shown = window.heatmaps.view.displayed_image()
    assert int(np.all(np.isnan(shown), axis=0).sum()) == expected
    assert window.global_action.isChecked() and window.unit_action.isChecked()


def test_layer_checkbox_excludes_a_layer(qtbot, window):
    window.controls.slider.setValue(40)
    item = window.layer_list.items["hidden2"]
    item.setCheckState(0, Qt.CheckState.Unchecked)
    assert window.session.config.included == frozenset({"hidden1"})
    assert _pruned_cells(window.heatmaps.strip.thumbnails["hidden2"].image) == 0
    assert window.layer_list.items["hidden2"].text(3) == "0.0%"
    window.layer_list.items["output"].setCheckState(0, Qt.CheckState.Checked)
    assert _pruned_cells(window.heatmaps.strip.thumbnails["output"].image) == count_to_prune(320, 40)


def test_selecting_a_layer_shows_it_large_and_hover_reads_it(qtbot, window):
    window.controls.slider.setValue(70)
    window.layer_list.setCurrentItem(window.layer_list.items["hidden2"])
    view = window.heatmaps.view
    assert view.layer_name == "hidden2" and view.displayed_image().shape == (64, 32)
    original = window.session.model.layers[1].original
    kept = window.heatmaps.kept_matrix("hidden2")
    row, col = np.argwhere(~kept)[0]
    scene = view.plot.getViewBox().mapViewToScene(QPointF(col + 0.5, row + 0.5))
    view.canvas.scene().sigMouseMoved.emit(scene)
    text = view.readout.text()
    assert f"row {row} (input)  column {col} (unit)" in text  # hidden2's rows are hidden1's units
    assert f"w = {original[row, col]:+.5g}" in text and "PRUNED" in text
    row, col = np.argwhere(kept)[0]
    view.canvas.scene().sigMouseMoved.emit(view.plot.getViewBox().mapViewToScene(QPointF(col + 0.5, row + 0.5)))
    assert "kept" in view.readout.text()
    window.heatmaps.set_layer("hidden1")  # fed the flattened 28x28 image: rows are pixels
    view.canvas.scene().sigMouseMoved.emit(view.plot.getViewBox().mapViewToScene(QPointF(3.5, 412.5)))
    assert "row 412 (pixel (14, 20))  column 3 (unit)" in view.readout.text()


def test_evaluate_shows_the_core_accuracy(qtbot, window, opened_mlp, mnist_dir):
    window.controls.slider.setValue(60)
    record, baseline = _evaluate_and_wait(qtbot, window)
    core = Session(data_path=str(mnist_dir))
    core.set_model(opened_mlp)
    expected, expected_base = core.evaluate(PruningConfig("weight", 60, "layer", frozenset({"hidden1", "hidden2"})))
    assert record.result.correct == expected.result.correct
    assert window.evaluation.result_view.accuracy.text() == f"{expected.result.accuracy * 100:.2f}%"
    delta = (expected.result.accuracy - expected_base.result.accuracy) * 100
    assert f"change {delta:+.2f}" in window.evaluation.result_view.details.text().replace("<b>", "").replace("</b>", "")
    assert "MNIST 5,000-image training subset" in window.evaluation.trained_on.text()
    assert str(mnist_dir) in window.evaluation.result_view.details.text()
    assert not window.evaluation.result_view.stale
    np.testing.assert_array_equal(window.details.confusion, expected.result.confusion)  # the pictures follow


def test_cancel_stops_the_evaluation(qtbot, window):
    window.controls.slider.setValue(30)
    with qtbot.waitSignal(window.controller.busy_changed, timeout=WAIT_MS, check_params_cb=lambda busy: not busy):
        window.controller.request()
        assert window.evaluation.cancel_button.isEnabled()
        window.evaluation.cancel_button.click()
    assert window.session.last_evaluation is None
    assert not window.evaluation.result_view.has_result and window.evaluation.result_view.accuracy.text() == ""
    assert not window.evaluation.cancel_button.isEnabled()
    assert window.last_error_box is None


def test_a_result_goes_stale_when_k_moves_during_the_evaluation(qtbot, window):
    window.controls.slider.setValue(20)
    with qtbot.waitSignal(window.controller.shown, timeout=WAIT_MS) as blocker:
        window.controller.request()
        window.controls.slider.setValue(70)  # while it runs
    record, _ = blocker.args[0]
    assert record.config.k == 20
    view = window.evaluation.result_view
    assert view.stale and "Stale" in view.status.text() and not view.accuracy.isEnabled()
    assert "k changed (20% -> 70%)" in view.status.text()
    record, _ = _evaluate_and_wait(qtbot, window)
    assert record.config.k == 70 and not view.stale and view.accuracy.isEnabled()
    window.controls.slider.setValue(71)
    assert view.stale
    window.controls.slider.setValue(70)
    assert not view.stale  # back at the settings it was computed for


def test_the_newest_request_wins(qtbot, window):
    window.controls.slider.setValue(10)
    first = window.controller.request()
    window.controls.slider.setValue(45)
    second = window.controller.request()
    with qtbot.waitSignal(window.controller.busy_changed, timeout=WAIT_MS, check_params_cb=lambda b: not b):
        pass
    assert window.session.last_evaluation.config.k == 45
    assert [r.config.k for r in window.session.history] == [45]  # the superseded one never showed
    assert first is not second and not first.running and not second.running
    assert not window.evaluation.result_view.stale


def test_auto_evaluate_follows_the_slider(qtbot, window):
    window.evaluation.auto_check.setChecked(True)
    assert window.auto_action.isChecked()
    with qtbot.waitSignal(
        window.controller.shown, timeout=WAIT_MS, check_params_cb=lambda value: value[0].config.k == 35
    ):
        for k in (5, 15, 25, 35):
            window.controls.slider.setValue(k)
    assert window.evaluation.result_view.accuracy.text().endswith("%")
    assert not window.evaluation.result_view.stale


def test_missing_data_is_one_sentence_in_a_message_box(qtbot, make_window, opened_mlp, trained_mlp_path, tmp_path):
    empty = tmp_path / "no-mnist-here"
    empty.mkdir()
    window = make_window(data_path=empty)
    window.set_opened_model(str(trained_mlp_path), opened_mlp)
    with qtbot.waitSignal(window.controller.failed, timeout=WAIT_MS):
        window.controller.request()
    box = window.last_error_box
    assert box is not None and box.isVisible()
    assert "Traceback" not in box.text() and "\n" not in box.text()
    assert "DataError" in box.detailedText() and str(empty) in box.detailedText()
    box.close()


def _drop(window, path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(200, 200), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    window.dropEvent(event)
    assert event.isAccepted()


def test_dropping_a_model_file_opens_it(qtbot, make_window, trained_mlp_path):
    window = make_window()
    assert window.stack.currentWidget() is window.start_page
    menus = [action.text().replace("&", "") for action in window.menuBar().actions()]
    assert menus == ["File", "Pruning", "View", "Experiments", "Help"]
    progress = []
    window.jobs.started.connect(
        lambda job: job.progressed.connect(
            lambda fraction, message: progress.append((fraction, message, window.start_page.progress.isVisible()))
        )
    )
    with qtbot.waitSignal(window.model_opened, timeout=WAIT_MS):
        _drop(window, trained_mlp_path)
    messages = [message for _, message, _ in progress]
    assert "Reading mlp.keras" in messages and all(visible for *_, visible in progress)
    assert [f for f, *_ in progress] == sorted(f for f, *_ in progress)
    assert not window.start_page.progress.isVisible()  # hidden once loaded
    assert window.windowTitle().startswith("mlp.keras")
    assert list(window.layer_list.items) == ["hidden1", "hidden2", "output"]
    assert window.stack.currentWidget() is window.heatmaps
    assert window.start_page.recent.count() == 1  # remembered in the recent list
    assert window.recent_menu.actions()[0].text().endswith(str(trained_mlp_path.resolve()))


def test_a_failed_open_keeps_the_previous_model(qtbot, window, tmp_path):
    window.controls.slider.setValue(25)
    bogus = tmp_path / "notes.keras"
    bogus.write_text("not a model")
    with qtbot.waitSignal(window.open_failed, timeout=WAIT_MS):
        assert window.open_path(bogus) is None  # refused before any worker starts
    box = window.last_error_box
    assert "notes.keras" in box.text() and "Traceback" not in box.detailedText()
    assert box.detailedText().startswith(f"Model: {bogus.resolve()}")
    assert window.session.model is not None and window.session.config.k == 25
    assert window.windowTitle().startswith("mlp.keras")
    box.close()


def test_closing_during_an_evaluation_exits_cleanly(qtbot, make_window, opened_mlp, trained_mlp_path):
    window = make_window()
    window.set_opened_model(str(trained_mlp_path), opened_mlp)
    window.controls.slider.setValue(50)
    job = window.controller.request()
    window.close()
    assert job.wait(0)  # close() cancelled and waited for the thread
    assert job_threads() == []
    np.testing.assert_array_equal(opened_mlp.layers[0].variable.numpy(), opened_mlp.layers[0].original)


@pytest.mark.slow
def test_the_layout_is_remembered(qtbot, tmp_path):
    settings = QSettings(str(tmp_path / "layout.ini"), QSettings.Format.IniFormat)
    first = MainWindow(Session(), settings)
    first.show()
    qtbot.waitExposed(first)
    assert not first.restore_layout()  # nothing saved yet
    first.docks["selected"].hide()
    first.close()
    second = MainWindow(Session(), settings)
    assert second.restore_layout()
    second.show()
    qtbot.waitExposed(second)
    assert not second.docks["selected"].isVisible() and second.docks["layers"].isVisible()
    second.close()


def test_presenter_mode_and_high_contrast(qtbot, window):
    before = window.controls.readout.font().pointSizeF()
    accuracy_before = window.evaluation.result_view.accuracy.font().pointSizeF()
    window.presenter_action.trigger()
    assert window.controls.readout.font().pointSizeF() > before * 1.4
    assert window.evaluation.result_view.accuracy.font().pointSizeF() > accuracy_before * 1.4
    window.presenter_action.trigger()
    assert window.controls.readout.font().pointSizeF() == before
    window.contrast_action.trigger()
    assert window.heatmaps.view.spec.key == "high-contrast"
    window.session.configure(k=30.0)
    view = window.heatmaps.view  # pruned cells in the one pruned grey
    assert {tuple(c) for c in view.image.image[np.isnan(view.displayed_image())][:, :3].tolist()} == {PRUNED_RGB}
    assert window.tiles.spec is window.heatmaps.view.spec
    # the thumbnails' faces are drawn again in the window's new colours (black in high contrast), and
    # in any colours the window is given later
    thumb = next(t for t in window.heatmaps.strip.thumbnails.values() if not t.isChecked())
    corner = thumb.grab().toImage().pixelColor(2, thumb.height() - 2)
    assert corner == thumb.palette().color(QPalette.ColorRole.Window) == QColor("#000000")
    palette = QPalette(window.palette())
    palette.setColor(QPalette.ColorRole.Window, QColor("#123456"))
    window.setPalette(palette)
    assert thumb.grab().toImage().pixelColor(2, thumb.height() - 2) == QColor("#123456")


@pytest.fixture(scope="module")
def small_cnn_paths(tmp_path_factory):
    """An untrained Conv2D(4, 3x3) -> Dense(10) model, as .keras and as an exported SavedModel folder."""
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
    folder = tmp_path_factory.mktemp("cnn")
    model.save(folder / "cnn.keras")
    model.export(str(folder / "cnn_savedmodel"), verbose=False)
    return folder / "cnn.keras", folder / "cnn_savedmodel"


def test_conv_kernels_are_shown_as_kkin_by_filters(qtbot, make_window, small_cnn_paths):
    window = make_window()
    with qtbot.waitSignal(window.model_opened, timeout=WAIT_MS):
        window.open_path(small_cnn_paths[0], method="unit", k=50)
    view = window.heatmaps.view
    assert view.layer_name == "conv" and view.displayed_image().shape == (3 * 3 * 1, 4)
    assert "3x3x1 (k*k*in) x 4 filters" in view.title.text()
    assert int(np.all(np.isnan(view.displayed_image()), axis=0).sum()) == 2  # 50% of 4 filters
    assert window.controls.slider.value() == 50 and window.controls.unit_radio.isChecked()


def test_dropping_a_savedmodel_folder_opens_it(qtbot, make_window, small_cnn_paths):
    window = make_window()
    with qtbot.waitSignal(window.model_opened, timeout=WAIT_MS):
        _drop(window, small_cnn_paths[1])
    assert window.windowTitle().startswith("cnn_savedmodel")
    assert window.session.model.loaded.format == "TensorFlow SavedModel"
    assert len(window.layer_list.items) == 2


def test_a_zoomed_view_stays_put_while_k_moves(qtbot, window):
    box = window.heatmaps.view.plot.getViewBox()
    box.setRange(xRange=(10, 20), yRange=(100, 150), padding=0)
    zoomed = box.viewRange()
    for k in (10, 20, 30):
        window.controls.slider.setValue(k)
    np.testing.assert_allclose(box.viewRange(), zoomed)
    window.step_layer(1)  # Alt+Down: the next layer, shown whole
    assert window.heatmaps.view.layer_name == "hidden2"
    bottom = window.heatmaps.view.vector_rect().bottom()  # the matrix, and its bias strip below it
    assert 64 < bottom < 70
    np.testing.assert_allclose(box.viewRange(), [[0, 32], [0, bottom]], atol=1e-6)


def test_dragging_the_slider_prunes_live_at_every_step(qtbot, window):
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QStyle, QStyleOptionSlider

    slider = window.controls.slider
    option = QStyleOptionSlider()
    slider.initStyleOption(option)
    handle = (
        slider.style()
        .subControlRect(QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderHandle, slider)
        .center()
    )
    seen = []  # (k, pruned cells drawn) at every step of the drag, while the button is held
    window.session.pruning_changed.connect(
        lambda result: seen.append((result.config.k, _pruned_cells(window.heatmaps.view.displayed_image())))
    )

    def send(kind, x, buttons):
        point = QPointF(x, handle.y())
        event = QMouseEvent(
            kind, point, slider.mapToGlobal(point), Qt.MouseButton.LeftButton, buttons, Qt.KeyboardModifier.NoModifier
        )
        QApplication.sendEvent(slider, event)

    held = Qt.MouseButton.LeftButton
    send(QEvent.Type.MouseButtonPress, handle.x(), held)
    for x in range(handle.x() + 10, slider.width() * 3 // 4, 10):
        send(QEvent.Type.MouseMove, x, held)
    send(QEvent.Type.MouseButtonRelease, slider.width() * 3 // 4, Qt.MouseButton.NoButton)
    assert len(seen) >= 5 and window.session.config.k > 50
    assert [k for k, _ in seen] == sorted(k for k, _ in seen)
    for k, pruned in seen:  # the big heatmap followed every intermediate k
        assert pruned == count_to_prune(784 * 64, k)


@pytest.mark.slow
def test_data_and_input_scaling_are_visible_and_changeable(
    qtbot, make_window, opened_mlp, trained_mlp_path, mnist_dir, tmp_path
):
    window = make_window(data_path=tmp_path)  # starts on a folder without MNIST
    window.set_opened_model(str(trained_mlp_path), opened_mlp)
    window.evaluation.data_path_chosen.emit(str(mnist_dir))  # what Data... > IDX folder does
    assert window.evaluation.data_label.text() == str(mnist_dir)
    assert window.settings.value("data/path") == str(mnist_dir.resolve())
    record, _ = _evaluate_and_wait(qtbot, window)
    assert str(mnist_dir) in record.data_source and record.result.preprocessing == "scale"  # auto picked /255
    assert "MNIST 5,000-image training subset" in record.train_description

    combo = window.evaluation.preprocess
    combo.setCurrentIndex(combo.findData("raw"))
    assert window.session.preprocessing == "raw"
    view = window.evaluation.result_view
    assert view.stale and "input scaling changed" in view.status.text()
    record, _ = _evaluate_and_wait(qtbot, window)
    assert record.result.preprocessing == "raw" and not view.stale
    assert "Input: raw pixels 0-255" in view.details.text()


def test_a_screenshot_is_written_whole_and_never_over_the_opened_model(window, trained_mlp_path, tmp_path):
    import os

    before = trained_mlp_path.read_bytes()
    link = tmp_path / "model-link.png"
    os.link(trained_mlp_path, link)
    for target in (trained_mlp_path, link):
        assert window.save_screenshot(str(target)) is False
        assert "Could not save" in window.statusBar().currentMessage()
    assert trained_mlp_path.read_bytes() == before

    out = tmp_path / "window.png"
    assert window.save_screenshot(str(out)) is True
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".png") == ["model-link.png", "window.png"]


def _stale_sentences(window) -> dict[str, str | None]:
    """What each evaluation view says about staleness (None: shown as current), each read on its tab
    as the user reads it (a tab behind another catches up when it is shown)."""
    view, details, plot = window.evaluation.result_view, window.details, window.accuracy_plot
    tabs = window.result_tabs
    shown = tabs.currentWidget()
    tabs.setCurrentWidget(details)
    confusion = details.stale_note.text() if not details.stale_note.isHidden() else None
    tabs.setCurrentWidget(plot)
    plotted = plot.caption.text() if plot.current_ring.opts["pen"].style() != Qt.PenStyle.SolidLine else None
    tabs.setCurrentWidget(shown)
    return {"panel": view.status.text() if view.stale else None, "confusion": confusion, "plot": plotted}


def test_every_evaluation_view_greys_for_the_same_reason(qtbot, window):
    """One rule (Session.why_stale): panel, confusion matrix and accuracy plot agree, and say why."""
    from prune_viz.gui.views.pictures import STALE_OPACITY

    window.controls.slider.setValue(30)
    record, _ = _evaluate_and_wait(qtbot, window)
    assert _stale_sentences(window) == {"panel": None, "confusion": None, "plot": None}
    assert window.details.confusion_image.opacity() == 1.0

    window.controls.slider.setValue(55)
    why = window.session.why_stale(record)
    assert why == "The pruning settings changed since this evaluation: k changed (30% -> 55%)."
    assert all(why in text for text in _stale_sentences(window).values()), _stale_sentences(window)
    assert not window.evaluation.result_view.accuracy.isEnabled()
    assert window.details.confusion_image.opacity() == pytest.approx(STALE_OPACITY)
    assert window.accuracy_plot.current_ring.opts["pen"].style() == Qt.PenStyle.CustomDashLine

    window.controls.slider.setValue(30)  # back at the settings it was computed for
    assert _stale_sentences(window) == {"panel": None, "confusion": None, "plot": None}

    combo = window.evaluation.preprocess
    combo.setCurrentIndex(combo.findData("raw"))
    why = window.session.why_stale(record)
    assert why == "The test data or its input scaling changed since this evaluation."
    assert all(why in text for text in _stale_sentences(window).values()), _stale_sentences(window)

    _evaluate_and_wait(qtbot, window)
    assert _stale_sentences(window) == {"panel": None, "confusion": None, "plot": None}
    assert window.details.confusion_image.opacity() == 1.0
    assert window.accuracy_plot.current_ring.opts["pen"].style() == Qt.PenStyle.SolidLine


class _RecordingLock:
    """Stands in for core.tasks' TensorFlow job lock and notes which threads take it."""

    def __init__(self, lock):
        self.lock, self.threads = lock, []

    def __enter__(self):
        import threading

        self.lock.acquire()
        self.threads.append(threading.current_thread())
        return self

    def __exit__(self, *exc):
        self.lock.release()


@pytest.mark.slow
def test_the_gui_thread_never_takes_the_tensorflow_lock(qtbot, make_window, trained_mlp_path, monkeypatch):
    """Opening, evaluating and measuring all run in workers; the GUI thread only orders them."""
    import threading

    from prune_viz.core import tasks

    recording = _RecordingLock(tasks._TENSORFLOW_LOCK)
    monkeypatch.setattr(tasks, "_TENSORFLOW_LOCK", recording)
    window = make_window()
    with qtbot.waitSignal(window.model_opened, timeout=WAIT_MS):
        window.open_path(trained_mlp_path)
    window.controls.slider.setValue(40)
    _evaluate_and_wait(qtbot, window)
    size_speed = window.experiments.size_speed
    window.features.docks[Dock.EXPERIMENTS].show()
    window.features.docks[Dock.EXPERIMENTS].raise_()
    window.experiments.setCurrentWidget(size_speed)
    size_speed.repeats.setValue(1)  # one timed pass measures in a worker as well as five
    with qtbot.waitSignal(size_speed.strip.busy_changed, timeout=WAIT_MS, check_params_cb=lambda busy: not busy):
        size_speed.run()
    assert size_speed.report is not None
    assert len(recording.threads) >= 3  # open, evaluate, measure
    assert threading.main_thread() not in recording.threads


def test_a_measurement_says_why_it_is_stale(qtbot, window):
    size_speed = window.experiments.size_speed
    window.features.docks[Dock.EXPERIMENTS].show()
    window.features.docks[Dock.EXPERIMENTS].raise_()
    window.experiments.setCurrentWidget(size_speed)
    size_speed.repeats.setValue(1)  # the staleness is the same after one timed pass as after five
    with qtbot.waitSignal(size_speed.strip.busy_changed, timeout=WAIT_MS, check_params_cb=lambda busy: not busy):
        size_speed.run()
    assert "since this measurement" not in size_speed.stale_note.text()
    button = size_speed.strip.run_button.mapTo(size_speed, size_speed.strip.run_button.rect().topLeft())
    window.controls.slider.setValue(20)
    assert "The pruning settings changed since this measurement: k changed (0% -> 20%)." in size_speed.stale_note.text()
    qtbot.waitUntil(lambda: size_speed.stale_note.isVisible())
    assert size_speed.strip.run_button.mapTo(size_speed, size_speed.strip.run_button.rect().topLeft()) == button
    window.controls.slider.setValue(0)
    window.set_data_path(window.session.data_path + "/")
    assert "The test data or its input scaling changed since this measurement." in size_speed.stale_note.text()


def test_escape_cancels_a_running_evaluation(qtbot, window):
    from PySide6.QtTest import QTest

    from prune_viz.core.tasks import tensorflow_job

    window.activateWindow()
    window.controls.slider.setValue(35)
    cancelled = []
    with tensorflow_job():  # the evaluation waits for the lock, so it is surely running when Esc comes
        job = window.controller.request()
        job.cancelled.connect(lambda: cancelled.append(True))
        QTest.keyClick(window.controls.slider, Qt.Key.Key_Escape)
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
        pass
    assert cancelled == [True] and window.session.last_evaluation is None
    assert not window.evaluation.result_view.has_result
