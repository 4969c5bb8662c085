"""The Experiments dock (sweep, sensitivity, size and speed, fine-tune) and File > Export pruned model.

Every experiment runs its core function as a Job in the window's one JobQueue, so
it waits for (and never overlaps) evaluations or model opens. ``JobStrip`` is the
Run / Cancel / progress row each panel shows for its own jobs. ``install_experiments``
adds the dock, the Experiments menu and the export actions to a MainWindow.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHeaderView,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTabWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from prune_viz.gui.errors_qt import show_error
from prune_viz.gui.workers import Job, JobQueue

EXPORT_KIND = "export"
SWEEP_KIND, SENSITIVITY_KIND, SIZE_SPEED_KIND, FINETUNE_KIND = "sweep", "sensitivity", "size-speed", "finetune"
# stopped when another model is opened: their results would belong to the old model
EXPERIMENT_KINDS = (SWEEP_KIND, SENSITIVITY_KIND, SIZE_SPEED_KIND, FINETUNE_KIND)
KERAS_FILTER = "Keras model (*.keras)"


# -- errors and output paths --------------------------------------------------------------------


def show_experiment_error(parent: QWidget, exc: BaseException, doing: str) -> QMessageBox:
    """Like errors_qt.show_error, but the experiment modules' own one-sentence errors are shown as written."""
    from prune_viz.core.export import ExportError
    from prune_viz.core.finetune import FinetuneError

    if isinstance(exc, (ExportError, FinetuneError)):
        box = QMessageBox(QMessageBox.Icon.Warning, "prune-viz", str(exc), QMessageBox.StandardButton.Ok, parent)
        box.open()
        return box
    return show_error(parent, exc, doing)


def is_same_path(a: str | os.PathLike, b: str | os.PathLike | None) -> bool:
    if b is None:
        return False
    a, b = Path(a).expanduser(), Path(b).expanduser()
    try:
        if a.exists() and b.exists() and os.path.samefile(a, b):
            return True
    except OSError:
        pass
    return a.resolve() == b.resolve()


def refuse_input_model(path: str | os.PathLike, opened_path) -> None:
    """ExportError if ``path`` is the opened model's file: prune-viz never writes the user's model."""
    from prune_viz.core.export import ExportError

    if is_same_path(path, opened_path):
        raise ExportError(f"Refusing to write over the opened model {Path(opened_path).name}; choose another file.")


def ask_save_path(parent: QWidget, title: str, default_name: str, name_filter: str, suffix: str) -> Path | None:
    """A save dialog (which asks before replacing a file); adds ``suffix`` if missing and asks again then."""
    path, _ = QFileDialog.getSaveFileName(parent, title, default_name, name_filter)
    if not path:
        return None
    out = Path(path)
    if out.suffix.lower() != suffix:
        out = out.with_name(out.name + suffix)
        if out.exists():  # the dialog confirmed the name without the suffix, not this file
            answer = QMessageBox.question(parent, "prune-viz", f"{out.name} already exists. Replace it?",
                                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                          QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                return None
    return out


def written_since(path, start: float) -> bool:
    """Whether ``path`` was (re)written at or after ``start`` (a time.time())."""
    try:
        return Path(path).stat().st_mtime >= start - 1.0  # coarse file-system clocks
    except OSError:
        return False


def write_outcome(path, start: float) -> str:
    """What a cancelled write left behind: writes are atomic, so the file is either new or untouched."""
    return f"{Path(path).name} was written" if written_since(path, start) else f"{Path(path).name} was not written"


def number_item(text: str) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    return item


def text_item(text: str) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
    return item


def results_table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setAlternatingRowColors(True)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)  # follows the font
    return table


def megabytes(n: int) -> str:
    return f"{n / 1e6:.3f} MB"


# -- one panel's jobs ----------------------------------------------------------------------------


class JobStrip(QWidget):
    """A Run button, Cancel, a progress bar and a one-line message for the jobs of one panel."""

    busy_changed = Signal(bool)

    def __init__(self, jobs: JobQueue, run_text: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.jobs = jobs
        self.job: Job | None = None
        self.run_button = QPushButton(run_text)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.message = QLabel()
        self.message.setWordWrap(True)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.progress, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.message)
        self.cancel_button.clicked.connect(self.cancel)

    @property
    def busy(self) -> bool:
        return self.job is not None

    def start(self, fn: Callable, kind: str, label: str, on_success: Callable, doing: str,
              cancelled_text: Callable[[], str] | None = None) -> Job:
        """Queue ``fn(task)``; ``on_success(value)`` runs on the GUI thread, errors open a message box.

        ``cancelled_text()`` says what a cancelled job left behind (default: "<label> cancelled.").
        """
        job = Job(fn, kind, self)
        job.label = label  # the main window's status bar names the running job with this
        job.progressed.connect(self._on_progress)
        job.succeeded.connect(on_success)
        job.failed.connect(lambda exc: self._on_failed(exc, doing))
        job.cancelled.connect(lambda: self.message.setText(
            cancelled_text() if cancelled_text is not None else f"{label} cancelled."))
        job.finished.connect(lambda j=job: self._on_finished(j))
        self.job = job
        self.progress.setValue(0)
        self.message.setText("Waiting for the running job..." if self.jobs.busy else f"{label}: starting")
        self._set_busy(True)
        self.jobs.submit(job)
        return job

    def cancel(self) -> None:
        if self.job is not None:
            self.jobs.cancel_all(self.job.kind)

    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(int(fraction * 1000))
        self.message.setText(message)

    def _on_failed(self, exc: BaseException, doing: str) -> None:
        self.message.setText(f"Could not {doing}.")
        self.error_box = show_experiment_error(self, exc, doing)

    def _on_finished(self, job: Job) -> None:
        if self.job is job:
            self.job = None
            self._set_busy(False)

    def _set_busy(self, busy: bool) -> None:
        self.run_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        self.busy_changed.emit(busy)


# -- File > Export pruned model -------------------------------------------------------------------


class PrunedModelExporter(QObject):
    """Writes the current pruning as a .keras file (zeros in place, or compacted for unit pruning)."""

    exported = Signal(object)  # ExportResult
    message = Signal(str)

    def __init__(self, session, jobs: JobQueue, parent_widget: QWidget):
        super().__init__(parent_widget)
        self.session = session
        self.jobs = jobs
        self.parent_widget = parent_widget
        self.error_box: QMessageBox | None = None

    def choose_and_export(self, compact: bool = False) -> Job | None:
        opened = self.session.model
        if opened is None:
            return None
        if compact and self.session.config.method != "unit":
            QMessageBox.information(
                self.parent_widget, "prune-viz",
                "Compaction removes whole units, so it needs unit pruning (Pruning > Unit pruning). Weight "
                "pruning zeros single weights; every matrix keeps its shape, so export it with zeros in place.")
            return None
        stem = Path(opened.loaded.path).stem
        config = self.session.config
        name = f"{stem}-{config.method}-k{config.k:g}{'-compact' if compact else ''}.keras"
        folder = Path(opened.loaded.path).parent
        title = "Export the compacted pruned model" if compact else "Export the pruned model (zeros in place)"
        path = ask_save_path(self.parent_widget, title, str(folder / name), KERAS_FILTER, ".keras")
        if path is None:
            return None
        return self.export_to(path, compact)

    def export_to(self, path: str | os.PathLike, compact: bool = False) -> Job | None:
        """Export to ``path`` (already confirmed by the user if it exists); never to the opened file."""
        from prune_viz.core.export import export_pruned

        opened = self.session.model
        if opened is None:
            return None
        try:
            refuse_input_model(path, opened.loaded.path)
        except Exception as exc:
            self.error_box = show_experiment_error(self.parent_widget, exc, "export the model")
            return None
        config = self.session.config
        job = Job(lambda task: export_pruned(opened, config, path, force=True, compact=compact, task=task),
                  EXPORT_KIND, self)
        job.label = "Exporting"
        job.succeeded.connect(self._on_exported)
        job.failed.connect(lambda exc: self._on_failed(exc))
        start = time.time()
        job.cancelled.connect(lambda: self.message.emit(f"Export cancelled: {write_outcome(path, start)}."))
        self.jobs.submit(job)
        return job

    def _on_exported(self, result) -> None:
        kind = "compacted" if result.compacted else "pruned weights stored as zeros"
        self.message.emit(f"Exported {result.path} ({megabytes(result.bytes)}, {kind}; "
                          f"{result.config.describe()}).")
        self.exported.emit(result)

    def _on_failed(self, exc: BaseException) -> None:
        self.message.emit("Export failed.")
        self.error_box = show_experiment_error(self.parent_widget, exc, "export the model")


# -- the dock and its menu ------------------------------------------------------------------------


class ExperimentsPanel(QTabWidget):
    """Sweep, sensitivity, size and speed, fine-tune: one tab each."""

    def __init__(self, session, jobs: JobQueue, parent: QWidget | None = None):
        from prune_viz.gui.finetune_qt import FinetunePanel
        from prune_viz.gui.size_speed_qt import SizeSpeedPanel
        from prune_viz.gui.sweep_qt import SensitivityPanel, SweepPanel

        super().__init__(parent)
        self.sweep = SweepPanel(session, jobs)
        self.sensitivity = SensitivityPanel(session, jobs)
        self.size_speed = SizeSpeedPanel(session, jobs)
        self.finetune = FinetunePanel(session, jobs)
        self.addTab(self.sweep, "Sweep")
        self.addTab(self.sensitivity, "Per-layer sensitivity")
        self.addTab(self.size_speed, "Size and speed")
        self.addTab(self.finetune, "Fine-tune")


def install_experiments(window) -> ExperimentsPanel:
    """Add the Experiments dock and menu, and File > Export, to a MainWindow; returns the panel."""
    panel = ExperimentsPanel(window.session, window.jobs, window)
    dock = QDockWidget("Experiments", window)
    dock.setObjectName("experiments")
    dock.setWidget(panel)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    dock.hide()  # until the user asks for an experiment
    window.experiments_dock = dock

    def show_tab(widget: QWidget) -> None:
        dock.show()
        dock.raise_()
        panel.setCurrentWidget(widget)

    def action(menu, text: str, slot, shortcut: str | None = None, tip: str = "") -> QAction:
        act = QAction(text, window)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
        if tip:
            act.setStatusTip(tip)
        act.triggered.connect(slot)
        menu.addAction(act)
        window.addAction(act)  # shortcuts work whichever dock has focus
        return act

    bar = window.menuBar()
    menus = {a.text().replace("&", ""): a for a in bar.actions()}
    menu = bar.addMenu("E&xperiments")
    if "Help" in menus:  # keep Help last
        bar.insertMenu(menus["Help"], menu)
    window.sweep_action = action(menu, "Run &sweep", lambda: (show_tab(panel.sweep), panel.sweep.run()),
                                 "Ctrl+R", "Accuracy vs sparsity for every (method, k), plotted live")
    action(menu, "Per-layer s&ensitivity", lambda: (show_tab(panel.sensitivity), panel.sensitivity.run()),
           "Ctrl+Shift+R", "Prune one layer at a time across k")
    action(menu, "Si&ze and speed", lambda: (show_tab(panel.size_speed), panel.size_speed.run()),
           "Ctrl+M", "File sizes and test-set latency of the current pruning")
    action(menu, "&Fine-tune...", lambda: show_tab(panel.finetune), "Ctrl+T",
           "Retrain the surviving weights with the masks fixed")
    menu.addSeparator()
    toggle = dock.toggleViewAction()
    toggle.setText("Show the experiments &panel")
    menu.addAction(toggle)

    exporter = PrunedModelExporter(window.session, window.jobs, window)
    window.exporter = exporter
    exporter.message.connect(lambda text: window.statusBar().showMessage(text, 10000))
    if "File" in menus:
        file_menu = menus["File"].menu()
        before = next((a for a in file_menu.actions() if a.text().replace("&", "").startswith("Save window")), None)
        export = QAction("&Export pruned model...", window)
        export.setShortcut(QKeySequence("Ctrl+Shift+X"))
        export.setStatusTip("Write the current pruning as a .keras file, pruned weights stored as zeros")
        export.triggered.connect(lambda: exporter.choose_and_export(compact=False))
        compact = QAction("Export &compacted model (unit pruning)...", window)
        compact.setStatusTip("Write a smaller .keras file with the pruned units removed")
        compact.triggered.connect(lambda: exporter.choose_and_export(compact=True))
        for act in (export, compact):
            file_menu.insertAction(before, act)  # before=None appends
            window.addAction(act)
        file_menu.insertSeparator(before)
        window.export_action, window.export_compact_action = export, compact

    panel.sweep.point_added.connect(lambda p: window.accuracy_plot.add_sweep_point(
        p.method, p.scope, p.sparsity_included, p.accuracy))
    panel.sweep.cleared.connect(window.accuracy_plot.clear_sweep)
    return panel
