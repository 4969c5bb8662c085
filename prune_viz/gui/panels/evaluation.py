"""Evaluate on demand: requests run as jobs in the queue; the panel shows the latest result.

A newer request cancels the older one (whose result then never arrives). The
shown result is greyed, with the Session's one sentence on why, whenever
``session.why_stale`` says it no longer applies. Auto-evaluate re-requests,
debounced, whenever the settings or the data change.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMenu,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpacerItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QElidingLabel
from superqt.utils import qdebounced

from prune_viz.core.data import KERAS_DATASETS, search_order, source_name
from prune_viz.core.inputs import PREPROCESSING, PREPROCESSING_LABELS
from prune_viz.core.metric_words import describe_scaling, headline, metric_lines
from prune_viz.gui.binding import bind
from prune_viz.gui.panels.controls import COMPACT_MARGINS
from prune_viz.gui.views.sample_images import OutputStripView
from prune_viz.gui.workers import Job, JobQueue

AUTO_EVALUATE_DELAY_MS = 150
EVALUATE_KIND = "evaluate"
DATA_KIND = "data"
DEFAULT_DATA_TEXT = "default: the first MNIST found"  # short, so not elided mid-word; the tooltip says where
EVALUATE_TOOLTIP = "Accuracy of the current pruning on the test set (Ctrl+E, F5)"
AUTO_TOOLTIP = (
    "Re-evaluate whenever the settings rest for a moment; a newer request cancels an older one (Ctrl+Shift+E)"
)
DEFAULT_DATA_TOOLTIP = f"No data chosen: {search_order()}."
WARNING_STYLE = "color:#b35900"


def panel_title(session) -> str:
    """The evaluation panel's title, named after the data and what is measured on it: 'Accuracy on
    CIFAR-10 test', 'Agreement with the unpruned model on latent.npz', 'R², MSE, MAE on prices.csv test'."""
    data = session.data
    name = data.name if data is not None else source_name(session.data_path)
    record = session.last_evaluation
    task = None
    if record is not None and record.key.model == session.model_serial and record.key.data_path == session.data_path:
        task = record.result.task
    elif data is not None and not data.has_labels:
        task = "agreement"
    if task == "agreement":
        return f"Agreement with the unpruned model on {name}"
    if task == "regression":
        return f"R², MSE, MAE on {name} test"
    if task == "multi-output":
        return f"Each output on {name} test"
    return f"Accuracy on {name} test"


class EvaluationController(QObject):
    """Turns 'evaluate now' into jobs, and finished jobs into session records, latest wins."""

    busy_changed = Signal(bool)
    progressed = Signal(float, str)
    failed = Signal(object)  # exception of the latest request
    shown = Signal(object)  # (record, baseline) accepted for display
    data_read = Signal(object)  # the Dataset of the current source, read for the open model
    data_failed = Signal(object)  # exception while reading the chosen data

    def __init__(self, session, jobs: JobQueue, parent: QObject | None = None):
        super().__init__(parent)
        self.session = session
        self.jobs = jobs
        self.baseline = None
        self.running: Job | None = None
        self.auto = False
        self.request_soon = qdebounced(self.request, timeout=AUTO_EVALUATE_DELAY_MS, parent=self)
        bind(self, session.config_changed, self._on_config_changed)
        bind(self, session.model_changed, self._on_model_changed)
        bind(self, session.data_changed, self._on_data_changed)
        jobs.started.connect(self._on_job_started)

    def request(self) -> Job | None:
        """Evaluate the current settings; a running or waiting evaluation is cancelled (latest wins).
        None without a model, or for one MNIST cannot feed (the panel says why, once)."""
        if self.session.model is None or self.session.evaluation_problem:
            return None
        config = self.session.config
        job = Job(lambda task: self.session.evaluate(config, task), EVALUATE_KIND, self)
        job.label = f"Evaluating k={config.k:g}%"
        job.succeeded.connect(self._on_succeeded)
        job.failed.connect(self.failed)
        job.finished.connect(lambda j=job: self._on_job_finished(j))
        self.jobs.submit(job, cancel_running_kinds=(EVALUATE_KIND,))
        self.busy_changed.emit(True)
        return job

    def read_data(self) -> Job | None:
        """Read the chosen data for the open model as a job (progress and Cancel in the status bar), so
        the window can name it, say whether the model can be evaluated on it, and show its images. None
        when there is nothing to read (MNIST, whose fit the model's shape tells, or data read already)."""
        if not self.session.data_to_read:
            return None
        path, serial = self.session.data_path, self.session.model_serial
        job = Job(lambda task: self.session.load_data(task), DATA_KIND, self)
        job.label = f"Reading {source_name(path)}"

        def done(data) -> None:
            if (self.session.data_path, self.session.model_serial) == (path, serial):
                self.data_read.emit(data)
                if self.auto:
                    self.request_soon()

        job.succeeded.connect(done)
        job.failed.connect(self.data_failed)
        self.jobs.submit(job, cancel_running_kinds=(DATA_KIND,))
        return job

    def cancel(self) -> None:
        self.request_soon.cancel()
        self.jobs.cancel_all(EVALUATE_KIND)

    def set_auto(self, on: bool) -> None:
        self.auto = on
        if on and self.session.model is not None and not self.session.is_current(self.session.last_evaluation):
            self.request_soon()

    @property
    def busy(self) -> bool:
        return self.running is not None or self.jobs.has_waiting(EVALUATE_KIND)

    def _on_job_started(self, job: Job) -> None:
        if job.kind == EVALUATE_KIND:
            self.running = job
            job.progressed.connect(self.progressed)

    def _on_succeeded(self, value) -> None:
        # only the newest request can get here: a superseded or cancelled job never reports
        record, baseline = value
        self.baseline = baseline
        self.session.record_evaluation(record)
        self.shown.emit((record, baseline))

    def _on_job_finished(self, job: Job) -> None:
        if self.running is job:
            self.running = None
        if not self.busy:
            self.busy_changed.emit(False)

    def _on_config_changed(self, _config) -> None:
        if self.auto and self.session.model is not None:
            self.request_soon()

    def _on_model_changed(self, _opened) -> None:
        self.cancel()  # nothing requested for the old model may show
        self.jobs.cancel_all(DATA_KIND)
        self.baseline = None
        self.read_data()

    def _on_data_changed(self) -> None:
        if self.read_data() is None and self.auto and self.session.model is not None:
            self.request_soon()


class ResultView(QWidget):
    """Accuracy, loss, change vs unpruned and where the numbers come from (the per-digit pictures
    are in views.confusion.EvaluationDetails)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.accuracy = QLabel("")
        self.accuracy.setToolTip("Accuracy on the test set")
        font = self.accuracy.font()
        font.setPointSizeF(font.pointSizeF() * 2.0)
        font.setBold(True)
        self.accuracy.setFont(font)
        self.accuracy.base_point_size = font.pointSizeF()  # presenter mode scales from this
        self.status = QLabel("No evaluation yet: press Evaluate (Ctrl+E).")
        self.status.setWordWrap(True)
        self.warnings = QLabel()  # what looks wrong about the data (EvaluationResult.warnings)
        self.warnings.setWordWrap(True)
        self.warnings.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.warnings.hide()
        self.output_strip = OutputStripView()  # a generator's outputs, unpruned and pruned (hidden otherwise)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for label in (self.warnings, self.details):  # never squeezed below their wrapped text
            label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.scaling = ""  # the input scaling used, with the evidence for it
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.accuracy)
        layout.addWidget(self.status)
        layout.addWidget(self.warnings)
        layout.addWidget(self.output_strip)
        layout.addWidget(self.details)
        self.accuracy.hide()  # until there is a result
        self.stale = False
        self.has_result = False
        self.concealed = False  # a lesson's step before its reveal: the accuracy is hidden wherever it sits
        self.compact = False  # presenter mode: a stale result says so in one line (the chart's note says for what)

    def clear(self) -> None:
        self.has_result = False
        self.accuracy.setText("")
        self.accuracy.hide()
        self.status.setText("No evaluation yet: press Evaluate (Ctrl+E).")
        self.details.setText("")
        self.warnings.setText("")
        self.warnings.hide()
        self.output_strip.clear()
        for label in (self.warnings, self.details):
            label.setMinimumHeight(0)
        self.scaling = ""
        self.set_stale(None)

    def show_unavailable(self, why: str) -> None:
        """Say, where the accuracy would be, why this model cannot be evaluated."""
        self.clear()
        self.status.setText(f"<b>No accuracy:</b> {why}")

    def show_record(self, record, baseline, trained_on: str, data=None) -> None:
        """The result's headline number (its task's score), each metric with the unpruned value beside
        it, the data's warnings, what was read and the input scaling with its evidence."""
        result = record.result
        self.has_result = True
        self.accuracy.setVisible(not self.concealed)
        self.accuracy.setText(headline(result))
        self.accuracy.setToolTip(f"{result.score_name[0].upper()}{result.score_name[1:]} ({result.task})")
        lines = [
            f"<b>{html.escape(record.config.describe())}</b>, {len(record.config.included)} layer(s), "
            f"{record.sparsity * 100:.1f}% of them zero",
            f"Measured: <b>{html.escape(result.score_name)}</b> ({result.task})",
        ]
        lines += [html.escape(line) for line in metric_lines(result, baseline if baseline is not record else None)]
        if baseline is record:
            lines.append("This is the unpruned model (k = 0).")
        lines.append(f"Test data: {html.escape(record.data_description or record.data_source)}")
        if record.data_description:
            lines.append(f"From: {html.escape(record.data_source)}")
        for note in getattr(data, "notes", ()) or ():
            lines.append(html.escape(note))
        self.scaling = describe_scaling(result.preprocessing, result.scaling_evidence, record.key.preprocessing)
        lines.append(f"Input: {html.escape(self.scaling)}")
        lines.append(f"Model trained on: {html.escape(trained_on)}")
        lines.append(f"One pass over the test set: {result.seconds:.2f} s")
        self.details.setText("<br>".join(lines))
        self.warnings.setText(
            "<br>".join(f"<span style='{WARNING_STYLE}'>&#9888; {html.escape(w)}</span>" for w in result.warnings)
        )
        self.warnings.setVisible(bool(result.warnings))
        self.output_strip.show_strip(result.output_strip, record.config.k)
        for label in (self.warnings, self.details):  # the panel's layout gives a wrapped label one line else
            width = label.width() if label.width() > 100 else 400
            label.setMinimumHeight(label.heightForWidth(width) if label.isVisibleTo(self) else 0)

    def set_concealed(self, hide: bool) -> None:
        """Hide the result, the accuracy included even where the panel has put it (or show them again)."""
        self.concealed = hide
        self.setVisible(not hide)
        self.accuracy.setVisible(not hide and self.has_result)

    def set_stale(self, why: str | None) -> None:
        """Grey the result and say ``why`` (Session.why_stale), or show it as current (None)."""
        stale = why is not None
        self.stale = stale
        self.accuracy.setEnabled(not stale)
        self.details.setEnabled(not stale)
        self.output_strip.setEnabled(not stale)
        if stale:
            said = (
                "press Evaluate (F5) for these settings."
                if self.compact
                else f"{why} Press Evaluate for the current settings."
            )
            self.status.setText(f"<span style='color:#b35900'><b>Stale:</b> {said}</span>")
            self.status.setToolTip(why)
        elif self.has_result:
            self.status.setText("<b>Current</b> for the settings shown.")
            self.status.setToolTip("")


class EvaluationPanel(QGroupBox):
    """Data source, preprocessing, Evaluate/Cancel with progress, auto-evaluate, the result."""

    data_path_chosen = Signal(str)

    def __init__(self, session, controller: EvaluationController, parent: QWidget | None = None):
        super().__init__(panel_title(session), parent)
        self.session = session
        self.controller = controller

        self.data_label = QElidingLabel()  # a long path shortens in the middle instead of widening the panel
        self.data_label.setElideMode(Qt.TextElideMode.ElideMiddle)
        self.data_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.data_button = QToolButton(text="Data...")
        self.data_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.data_button.setToolTip("The test data: any file or folder can also be dropped on the window")
        menu = QMenu(self.data_button)
        menu.addAction("Folder of images (one sub-folder per class)...", self.choose_image_folder)
        menu.addAction(".npz file...", self.choose_npz)
        menu.addAction("CSV file...", self.choose_csv)
        menu.addAction("MNIST IDX folder...", self.choose_idx_folder)
        keras_menu = menu.addMenu("Keras data set")
        for name in KERAS_DATASETS:
            keras_menu.addAction(name, lambda n=name: self.data_path_chosen.emit(n))
        keras_menu.addAction("Other name...", self.choose_keras_name)
        menu.addSeparator()
        menu.addAction("Default (MNIST)", lambda: self.data_path_chosen.emit(""))
        self.data_menu = menu
        self.keras_menu = keras_menu
        self.data_button.setMenu(menu)
        self.preprocess = QComboBox()
        for mode in PREPROCESSING:
            label = "auto (best loss on 1,000 test images)" if mode == "auto" else PREPROCESSING_LABELS[mode]
            self.preprocess.addItem(label, mode)
        self.trained_on = QLabel()
        self.trained_on.setWordWrap(True)

        self.evaluate_button = QPushButton("&Evaluate")
        self.evaluate_button.setToolTip(EVALUATE_TOOLTIP)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running evaluation (Esc)")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress_message = QLabel()
        self.auto_check = QCheckBox("Auto-evaluate while dragging (small models)")
        self.auto_check.setToolTip(AUTO_TOOLTIP)
        self.result_view = ResultView()

        data_row = QHBoxLayout()
        data_row.addWidget(self.data_label, 1)
        data_row.addWidget(self.data_button)
        self.setup = QWidget()  # what is evaluated on what: hidden in presenter mode
        form = QFormLayout(self.setup)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Test data:", data_row)
        form.addRow("Input:", self.preprocess)
        form.addRow("Model:", self.trained_on)
        buttons = QHBoxLayout()
        buttons.addWidget(self.evaluate_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.progress, 1)
        buttons.addItem(QSpacerItem(0, 0, QSizePolicy.Policy.Expanding))  # Evaluate stays its size alone
        self.button_row = buttons
        self.compact = False
        layout = QVBoxLayout(self)
        layout.addWidget(self.setup)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_message)
        layout.addWidget(self.auto_check)
        layout.addWidget(self.result_view)
        self.normal_margins = layout.getContentsMargins()

        self.evaluate_button.clicked.connect(controller.request)
        self.cancel_button.clicked.connect(controller.cancel)
        self.auto_check.toggled.connect(controller.set_auto)
        self.preprocess.currentIndexChanged.connect(
            lambda _: self.session.set_data(preprocessing=self.preprocess.currentData())
        )
        controller.busy_changed.connect(self._on_busy)
        controller.progressed.connect(self._on_progress)
        controller.shown.connect(self._on_shown)
        controller.data_read.connect(self._on_data_read)
        bind(self, session.config_changed, self._refresh_stale)
        bind(self, session.data_changed, self._on_data_changed)
        bind(self, session.model_changed, self._on_model_changed)
        self._on_busy(False)
        self._on_data_changed()
        self._on_model_changed(session.model)

    def set_compact(self, compact: bool) -> None:
        """Presenter mode: Evaluate with the accuracy beside it (Cancel only while a job runs: Esc
        cancels too), and whether it is current; the test data, input scaling and the result's details
        stay in the File menu and the normal layout."""
        self.compact = compact
        self.setTitle("" if compact else panel_title(self.session))  # the Evaluate button and the result say it
        self.layout().setContentsMargins(*(COMPACT_MARGINS if compact else self.normal_margins))
        for widget in (self.setup, self.auto_check, self.result_view.details):
            widget.setVisible(not compact)
        accuracy = self.result_view.accuracy
        if compact:  # one row less, so the per-digit chart keeps its height under a lesson's bar
            self.button_row.insertWidget(1, accuracy, 1)
        else:
            self.result_view.layout().insertWidget(0, accuracy)
        self.result_view.set_concealed(self.result_view.concealed)
        self.result_view.compact = compact
        self._refresh_stale()
        self._on_busy(self.controller.busy)

    # -- data ------------------------------------------------------------------------------
    def choose_idx_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "MNIST IDX folder (t10k-images-idx3-ubyte[.gz] ...)")
        if folder:
            self.data_path_chosen.emit(folder)

    def choose_image_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of images, one sub-folder per class (test/ and train/)")
        if folder:
            self.data_path_chosen.emit(folder)

    def choose_npz(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, ".npz (x_test, y_test, or x, y, or x alone; class_names)", "", "NumPy archives (*.npz);;All files (*)"
        )
        if path:
            self.data_path_chosen.emit(path)

    def choose_csv(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "CSV with a label column (named label, class, target or y, else the last)", "", "CSV (*.csv *.tsv)"
        )
        if path:
            self.data_path_chosen.emit(path)

    def choose_keras_name(self) -> None:
        name, ok = QInputDialog.getItem(self, "Keras data set", "Name:", list(KERAS_DATASETS), 0, True)
        if ok and name.strip():
            self.data_path_chosen.emit(name.strip())

    def _refresh_title(self) -> None:
        if not self.compact:
            self.setTitle(panel_title(self.session))

    def _on_data_read(self, _data) -> None:
        self._refresh_title()
        self._refresh_availability()

    def _on_data_changed(self) -> None:
        self.data_label.setText(self.session.data_path or DEFAULT_DATA_TEXT)
        self.data_label.setToolTip(self.session.data_path or DEFAULT_DATA_TOOLTIP)
        index = self.preprocess.findData(self.session.preprocessing)
        if index >= 0 and index != self.preprocess.currentIndex():
            self.preprocess.blockSignals(True)
            self.preprocess.setCurrentIndex(index)
            self.preprocess.blockSignals(False)
        self._refresh_title()
        self._refresh_availability()
        self._refresh_stale()

    # -- model / results -----------------------------------------------------------------------
    def trained_on_text(self) -> str:
        if self.session.model is None:
            return "-"
        trained_on = self.session.model.loaded.metadata.get("trained_on")
        return str(trained_on) if trained_on else "training data not recorded in the file"

    def _on_model_changed(self, opened) -> None:
        from prune_viz.core.provenance import describe_derivation

        text = f"trained on {self.trained_on_text()}" if opened is not None else "-"
        derived = describe_derivation(opened.loaded.metadata) if opened is not None else None
        self.trained_on.setText(text + (f"\nderived from {derived}" if derived else ""))
        self.result_view.clear()
        self._refresh_title()
        self._refresh_availability()

    def _refresh_availability(self) -> None:
        """Evaluate is offered when the model can be evaluated on the chosen data; else the result says why."""
        opened = self.session.model
        why = self.session.evaluation_problem
        self.evaluate_button.setEnabled(opened is not None and why is None)
        self.auto_check.setEnabled(why is None)
        for widget, tooltip in ((self.evaluate_button, EVALUATE_TOOLTIP), (self.auto_check, AUTO_TOOLTIP)):
            widget.setToolTip(why or tooltip)
        if why:
            self.result_view.show_unavailable(why)
        elif not self.result_view.has_result and self.result_view.status.text().startswith("<b>No accuracy"):
            self.result_view.clear()

    def _on_shown(self, value) -> None:
        record, baseline = value
        self.result_view.show_record(record, baseline, self.trained_on_text(), self.session.data)
        self._refresh_title()
        self._refresh_stale()

    def _refresh_stale(self, *_args) -> None:
        record = self.session.last_evaluation
        if record is not None and self.result_view.has_result:
            self.result_view.set_stale(self.session.why_stale(record))

    def _on_busy(self, busy: bool) -> None:
        self.cancel_button.setEnabled(busy)
        self.cancel_button.setVisible(busy or not self.compact)
        self.progress.setVisible(busy)
        self.progress_message.setVisible(busy)
        if busy:
            self.progress.setValue(0)
            self.progress_message.setText("Waiting for the previous job...")

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.progress_message.setText(message)
