"""File > Export pruned model: the current pruning as a .keras file, written in a job; for a model
opened from its weights only, its pruned weights in a copy of its file (its format and suffix)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox, QWidget

from prune_viz.gui.binding import bind
from prune_viz.gui.errors import show_error
from prune_viz.gui.experiments.base import (
    EXPORT_KIND,
    KERAS_FILTER,
    ask_save_path,
    megabytes,
    write_outcome,
)
from prune_viz.gui.workers import Job, JobQueue


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
        self.actions: dict[bool, QAction] = {}  # compact? -> its menu action
        self._offered_for: tuple | None = None  # the (model, method, included, unit mode) last judged for

    def set_actions(self, export: QAction, compact: QAction) -> None:
        """Keep the two File > Export actions enabled only when they can work, a disabled one's
        tooltip saying why."""
        self.actions = {False: export, True: compact}
        bind(self, self.session.model_changed, self._offer_only_what_works)
        bind(self, self.session.config_changed, self._offer_only_what_works)
        self._offer_only_what_works()

    def _offer_only_what_works(self, *_changed) -> None:
        config = self.session.config
        judged_for = (self.session.model_serial, config.method, config.included, config.unit_mode)
        if judged_for == self._offered_for:  # a k step changes none of them
            return
        self._offered_for = judged_for
        for compact, action in self.actions.items():
            problem = self.problem(compact)
            action.setEnabled(problem is None)
            action.setToolTip(action.statusTip() if problem is None else problem)

    def problem(self, compact: bool = False) -> str | None:
        """Why this export cannot work for the open model and pruning, or None (asked before any dialog)."""
        from prune_viz.core.export import compaction_problem, export_problem

        opened = self.session.model
        if opened is None:
            return "Open a model first."
        if not compact:
            return export_problem(opened)
        config = self.session.config
        return compaction_problem(opened, config.method, config.included, config.unit_mode)

    def choose_and_export(self, compact: bool = False) -> Job | None:
        opened = self.session.model
        problem = self.problem(compact)
        if problem is not None:
            if opened is not None:
                QMessageBox.information(self.parent_widget, "prune-viz", problem)
            return None
        stem = Path(opened.loaded.path).stem
        config = self.session.config
        if opened.loaded.weights_only:
            suffix = Path(opened.loaded.path).suffix.lower()
            name = f"{stem}-{config.file_tag}{suffix}"
            title = f"Export the pruned weights into a copy of {opened.loaded.name}"
            name_filter = f"A copy of {opened.loaded.name} (*{suffix})"
            path = ask_save_path(self.parent_widget, title, name, name_filter, suffix)
        else:
            name = f"{stem}-{config.file_tag}{'-compact' if compact else ''}.keras"
            title = "Export the compacted pruned model" if compact else "Export the pruned model (zeros in place)"
            path = ask_save_path(self.parent_widget, title, name, KERAS_FILTER, ".keras")
        if path is None:
            return None
        return self.export_to(path, compact)

    def export_to(self, path: str | os.PathLike, compact: bool = False) -> Job | None:
        """Export to ``path`` (already confirmed by the user if it exists); never to the opened file."""
        from prune_viz.core.export import export_pruned
        from prune_viz.core.files import check_writable

        opened = self.session.model
        if opened is None:
            return None
        try:
            check_writable(path, force=True, protect=(opened.loaded.path,))
        except Exception as exc:
            self.error_box = show_error(self.parent_widget, exc, "export the model")
            return None
        config = self.session.config
        job = Job(
            lambda task: export_pruned(opened, config, path, force=True, compact=compact, task=task), EXPORT_KIND, self
        )
        job.label = "Exporting"
        job.succeeded.connect(self._on_exported)
        job.failed.connect(lambda exc: self._on_failed(exc))
        start = time.time()
        job.cancelled.connect(lambda: self.message.emit(f"Export cancelled: {write_outcome(path, start)}."))
        self.jobs.submit(job)
        return job

    def _on_exported(self, result) -> None:
        opened = self.session.model
        if opened is not None and opened.loaded.weights_only and not result.compacted:
            self.message.emit(
                f"Exported {result.path} ({megabytes(result.bytes)}, a copy of {opened.loaded.name} with its pruned "
                f"weights; {result.config.describe()})."
            )
            self.exported.emit(result)
            return
        kind = "compacted" if result.compacted else "pruned weights stored as zeros"
        self.message.emit(f"Exported {result.path} ({megabytes(result.bytes)}, {kind}; {result.config.describe()}).")
        self.exported.emit(result)

    def _on_failed(self, exc: BaseException) -> None:
        self.message.emit("Export failed.")
        self.error_box = show_error(self.parent_widget, exc, "export the model")
