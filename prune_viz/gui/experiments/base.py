"""What the experiment panels share: the job glue, error boxes, save dialogs and result tables.

Every experiment runs its core function as a Job in the window's one JobQueue, so
it waits for (and never overlaps) evaluations or model opens. ``JobStrip`` is the
Run / Cancel / progress row each panel shows for its own jobs; it is the one place
where a panel's jobs are queued, reported and cancelled.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from prune_viz.gui import remembered
from prune_viz.gui.errors import show_error
from prune_viz.gui.workers import Job, JobQueue

EXPORT_KIND = "export"
SWEEP_KIND, SENSITIVITY_KIND, SIZE_SPEED_KIND, FINETUNE_KIND = "sweep", "sensitivity", "size-speed", "finetune"
COMPARE_KIND = "compare"
# stopped when another model is opened: their results would belong to the old model
EXPERIMENT_KINDS = (SWEEP_KIND, SENSITIVITY_KIND, SIZE_SPEED_KIND, FINETUNE_KIND, COMPARE_KIND)
KERAS_FILTER = "Keras model (*.keras)"


# -- output paths -------------------------------------------------------------------------


def ask_save_path(parent: QWidget, title: str, default_name: str, name_filter: str, suffix: str) -> Path | None:
    """A save dialog (which asks before replacing a file) offering ``default_name`` in the last folder
    saved to, else the home folder; adds ``suffix`` if missing and asks again then."""
    settings = remembered.window_settings(parent)
    start = Path(remembered.save_folder(settings)) / Path(default_name).name
    path, _ = QFileDialog.getSaveFileName(parent, title, str(start), name_filter)
    if not path:
        return None
    remembered.remember_save_folder(settings, path)
    out = Path(path)
    if out.suffix.lower() != suffix:
        out = out.with_name(out.name + suffix)
        if out.exists():  # the dialog confirmed the name without the suffix, not this file
            answer = QMessageBox.question(
                parent,
                "prune-viz",
                f"{out.name} already exists. Replace it?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
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


def opened_model_paths(session) -> tuple:
    """The opened model, for ``protect=``: a save dialog may well be pointed at it."""
    return (session.model.loaded.path,) if session.model is not None else ()


def save_result(page, write: Callable[[], object], path) -> bool:
    """A page's table or plot written by ``write``: "Saved PATH." on its strip, or the error in a box
    (kept as ``page.error_box``)."""
    try:
        write()
    except Exception as exc:
        page.error_box = show_error(page, exc, f"save {Path(path).name}")
        return False
    page.strip.message.setText(f"Saved {path}.")
    return True


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
        self.unavailable: str | None = None  # why Run cannot work for the open model (set_unavailable)
        self._run_tooltip = ""
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

    def set_unavailable(self, why: str | None) -> None:
        """Disable Run and say ``why`` as its tooltip and the message (e.g. the open model cannot be
        evaluated on MNIST), instead of an error box per try; None makes Run available again."""
        before, self.unavailable = self.unavailable, why
        if before is None:
            self._run_tooltip = self.run_button.toolTip()
        self.run_button.setToolTip(why or self._run_tooltip)
        self.run_button.setEnabled(why is None and not self.busy)
        if why is not None or (before is not None and self.message.text() == before):
            self.message.setText(why or "")

    def describe_run(self, text: str, tip: str) -> None:
        """Run's words and tooltip; while Run is unavailable, its tooltip keeps saying why (``tip`` after)."""
        self.run_button.setText(text)
        if self.unavailable is None:
            self.run_button.setToolTip(tip)
        else:
            self._run_tooltip = tip

    def start(
        self,
        fn: Callable,
        kind: str,
        label: str,
        on_success: Callable,
        doing: str,
        cancelled_text: Callable[[], str] | None = None,
        on_partial: Callable | None = None,
    ) -> Job:
        """Queue ``fn(task)``; ``on_success(value)`` runs on the GUI thread, errors open a message box.

        ``cancelled_text()`` says what a cancelled job left behind (default: "<label> cancelled.").
        ``on_partial(value)`` gets, on the GUI thread, what ``fn`` passes to ``task.publish``.
        """
        job = Job(fn, kind, self)
        job.label = label  # the main window's status bar names the running job with this
        if on_partial is not None:
            job.partial.connect(on_partial)
        job.progressed.connect(self._on_progress)
        job.succeeded.connect(on_success)
        job.failed.connect(lambda exc: self._on_failed(exc, doing))
        job.cancelled.connect(
            lambda: self.message.setText(cancelled_text() if cancelled_text is not None else f"{label} cancelled.")
        )
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
        self.error_box = show_error(self, exc, doing)

    def _on_finished(self, job: Job) -> None:
        if self.job is job:
            self.job = None
            self._set_busy(False)

    def _set_busy(self, busy: bool) -> None:
        self.run_button.setEnabled(not busy and self.unavailable is None)
        self.cancel_button.setEnabled(busy)
        self.busy_changed.emit(busy)
