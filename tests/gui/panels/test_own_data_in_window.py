"""The window on the user's own data (issue 27): the Data... button and drag and drop read any source
as a job, the panel is named after the data, shows the metric that fits the model, the data's
warnings and the input scaling with its evidence."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication

from prune_viz.core.session import open_model

from gui_helpers import WAIT_MS

pytestmark = pytest.mark.slow
SHOTS = os.environ.get("PRUNE_VIZ_SHOTS")  # a folder: the tests leave their screenshots there


def _drop(window, path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(200, 200), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    window.dropEvent(event)
    assert event.isAccepted()


def _window_with(make_window, model: Path, data=None, qtbot=None):
    """A 1280x720 window with ``model`` open; ``data`` chosen before, read as the model opens."""
    window = make_window(size=(1280, 720))
    if data is None:
        window.set_opened_model(str(model), open_model(model))
        return window
    window.session.set_data(data_path=str(data))
    with qtbot.waitSignal(window.controller.data_read, timeout=WAIT_MS):
        window.set_opened_model(str(model), open_model(model))
    return window


def _evaluate(qtbot, window):
    with qtbot.waitSignal(window.controller.shown, timeout=WAIT_MS) as shown:
        window.evaluation.evaluate_button.click()
    return shown.args[0][0]


def _shot(window, name: str) -> None:
    """The window as it opens on the result, then scrolled down to the per-class pictures."""
    if SHOTS:
        QApplication.processEvents()  # the layout the result asked for
        window.grab().save(str(Path(SHOTS) / f"{name}-result.png"))
        window.side_scroll.verticalScrollBar().setValue(window.side_scroll.verticalScrollBar().maximum())
        QApplication.processEvents()
        window.grab().save(str(Path(SHOTS) / f"{name}-details.png"))


def _text(label) -> str:
    return label.text().replace("<b>", "").replace("</b>", "").replace("&#9888;", "!")


def test_dropping_an_image_folder_reads_it_as_a_job_and_names_the_panel(qtbot, make_window, own_data):
    window = _window_with(make_window, own_data / "colours.keras")
    started = []
    window.jobs.started.connect(lambda job: started.append(job.label))
    panel = window.evaluation
    assert panel.title() == "Accuracy on MNIST test"
    with qtbot.waitSignal(window.controller.data_read, timeout=WAIT_MS):
        _drop(window, own_data / "colours-png")
    assert window.stack.currentWidget() is window.heatmaps  # still the model: the folder was data
    assert started == ["Reading colours-png"]
    assert window.session.data_path == str(own_data / "colours-png")
    assert panel.data_label.text() == str(own_data / "colours-png")
    assert panel.title() == "Accuracy on colours-png/ test"
    assert panel.evaluate_button.isEnabled()
    record = _evaluate(qtbot, window)
    view = panel.result_view
    assert view.accuracy.text() == f"{record.result.accuracy * 100:.2f}%" and record.result.accuracy > 0.8
    details = _text(view.details)
    assert "Measured: accuracy (classification)" in details
    assert "Per class:" in details and "blue:" in details and "red:" in details
    assert "chosen automatically" in view.scaling and "lowest loss" in view.scaling and view.scaling in details
    assert not view.warnings.isVisible()
    details = window.details  # the per-class chart and the confusion matrix, named after the sub-folders
    assert details.names == ("blue", "green", "red") and window.result_tabs.tabText(0) == "Per class"
    assert details.bar_heights.shape == (3,) and details.bars_plot.getAxis("bottom").labelText == "class"
    assert details.confusion.shape == (3, 3) and details.confusion.sum() == record.result.total
    assert "images of a red" in details.describe_cell(2, 2)
    _shot(window, "colours-image-folder")


def test_a_model_on_data_it_cannot_take_says_so_in_one_sentence_after_reading(qtbot, make_window, own_data):
    window = _window_with(make_window, own_data / "colours.keras")
    with qtbot.waitSignal(window.controller.data_read, timeout=WAIT_MS):
        window.evaluation.data_path_chosen.emit(str(own_data / "table.csv"))
    why = window.session.evaluation_problem
    assert why and why.count(". ") <= 1  # one sentence, maybe followed by what still works
    assert not window.evaluation.evaluate_button.isEnabled() and not window.evaluate_action.isEnabled()
    assert "No accuracy" in window.evaluation.result_view.status.text()


def test_a_source_that_cannot_be_read_is_one_sentence_in_a_message_box(qtbot, make_window, own_data, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(own_data / "keras_home"))
    monkeypatch.setattr("prune_viz.gui.errors.QMessageBox.exec", lambda self: 0, raising=False)
    window = _window_with(make_window, own_data / "colours.keras")
    with qtbot.waitSignal(window.controller.data_failed, timeout=WAIT_MS):
        window.evaluation.data_path_chosen.emit(str(own_data / "no-such-folder"))
    box = window.last_error_box
    assert box is not None and "does not exist" in box.text() and "Traceback" not in box.text()


def test_keras_data_sets_are_offered_by_name(qtbot, make_window, own_data, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(own_data / "keras_home"))
    window = _window_with(make_window, own_data / "colours.keras")
    names = [action.text() for action in window.evaluation.keras_menu.actions()]
    assert names[:6] == ["mnist", "fashion_mnist", "cifar10", "cifar100", "imdb", "reuters"]
    cifar = next(a for a in window.evaluation.keras_menu.actions() if a.text() == "cifar10")
    with qtbot.waitSignal(window.controller.data_read, timeout=WAIT_MS):
        cifar.trigger()
    assert window.session.data_path == "cifar10"
    data = window.session.data
    assert data.x.shape[1:] == (32, 32, 3) and data.class_names[0] == "airplane"
    assert window.evaluation.title() == f"Accuracy on {data.name} test"


def test_a_binary_model_shows_accuracy_at_one_half_and_roc_auc(qtbot, make_window, own_data, monkeypatch):
    window = _window_with(make_window, own_data / "table.keras")
    chosen = str(own_data / "table.csv")
    monkeypatch.setattr(
        "prune_viz.gui.panels.evaluation.QFileDialog.getOpenFileName", lambda *args, **kwargs: (chosen, "")
    )
    csv = next(a for a in window.evaluation.data_menu.actions() if a.text() == "CSV file...")
    with qtbot.waitSignal(window.controller.data_read, timeout=WAIT_MS):
        csv.trigger()
    assert window.evaluation.title() == "Accuracy on table.csv test"
    record = _evaluate(qtbot, window)
    assert record.result.task == "binary"
    details = _text(window.evaluation.result_view.details)
    assert "Measured: accuracy (binary)" in details and "ROC AUC:" in details
    assert f"{record.result.metrics['roc_auc']:.4f}" in details
    assert "table.csv is not images, so it is fed as it is" in details
    window.controls.slider.setValue(60)
    record = _evaluate(qtbot, window)
    assert "unpruned" in _text(window.evaluation.result_view.details)
    _shot(window, "binary-table-csv")


def test_a_regression_model_shows_mse_mae_and_r2(qtbot, make_window, own_data):
    window = _window_with(make_window, own_data / "regression.keras", own_data / "regression.npz", qtbot)
    record = _evaluate(qtbot, window)
    panel = window.evaluation
    assert record.result.task == "regression"
    assert panel.title() == "R², MSE, MAE on regression.npz test"
    assert panel.result_view.accuracy.text() == f"R² {record.result.score:.3f}" and record.result.score > 0.8
    details = _text(panel.result_view.details)
    assert "MSE:" in details and "MAE:" in details and "R²:" in details and "Accuracy" not in details
    qtbot.waitUntil(lambda: panel.result_view.height() >= panel.result_view.details.minimumHeight())
    assert panel.result_view.details.minimumHeight() >= panel.result_view.details.heightForWidth(
        panel.result_view.details.width()
    )  # every line on screen, not the first alone
    assert not window.details.bars_widget.isVisibleTo(window) and "no per-class chart" in window.details.caption.text()
    _shot(window, "regression-npz")


def test_without_labels_the_panel_measures_agreement_with_the_unpruned_model(qtbot, make_window, own_data):
    window = _window_with(make_window, own_data / "colours.keras", own_data / "colours-unlabelled.npz", qtbot)
    panel = window.evaluation
    assert panel.title() == "Agreement with the unpruned model on colours-unlabelled.npz"
    record = _evaluate(qtbot, window)
    assert record.result.task == "agreement" and panel.result_view.accuracy.text() == "100.00%"
    window.controls.slider.setValue(90)
    record = _evaluate(qtbot, window)
    details = _text(panel.result_view.details)
    assert "Top-1 agree:" in details and "Mean KL:" in details and "Output RMSE:" in details
    assert panel.result_view.accuracy.text() == f"{record.result.metrics['top1_agreement'] * 100:.2f}%"
    assert "mean entropy" in panel.result_view.scaling  # how the scaling was chosen without labels
    _shot(window, "agreement-unlabelled")


def test_data_that_looks_wrong_shows_its_warning(qtbot, make_window, own_data, tmp_path):
    arrays = np.load(own_data / "colours.npz")
    wrong = np.random.default_rng(0).integers(0, 3, len(arrays["y_test"]))  # labels unrelated to the images
    np.savez(tmp_path / "shuffled.npz", x_test=arrays["x_test"], y_test=wrong)
    window = _window_with(make_window, own_data / "colours.keras", tmp_path / "shuffled.npz", qtbot)
    record = _evaluate(qtbot, window)
    assert record.result.warnings
    view = window.evaluation.result_view
    assert view.warnings.isVisible() and "near chance" in view.warnings.text()
    _shot(window, "warning-near-chance")


def test_the_draw_pad_says_why_it_cannot_feed_a_colour_model_on_colour_data(qtbot, make_window, own_data):
    window = _window_with(make_window, own_data / "colours.keras", own_data / "colours-png", qtbot)
    assert window.session.evaluation_problem is None  # the colour images feed it
    draw = window.lab.draw
    draw._show_empty()
    assert "The pad draws 28x28 grey digits" in draw.caption.text() and "32x32" in draw.caption.text()
    assert not draw._ready()
