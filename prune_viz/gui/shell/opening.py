"""Opening models in the main window: the file dialogs, recent files, drag and drop, the custom objects
file and Lambda switch models open with, and the open job, which reads the model and makes what the
first paint needs off the GUI thread. ``ModelOpening`` is mixed into MainWindow."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFileDialog

from prune_viz.core.io import ModelLoadError, OpenOptions, sniff_format
from prune_viz.core.lesson import is_lesson_file
from prune_viz.core.pruning import PruningConfig
from prune_viz.core.session import OpenedModel, open_model
from prune_viz.gui import remembered
from prune_viz.gui.views.heatmap_data import HeatmapData, heatmap_data
from prune_viz.gui.workers import Job

OPEN_KIND = "open"
MODEL_FILTER = (
    "Keras models and lessons (*.keras *.h5 *.hdf5 *.pvlesson);;Keras models (*.keras *.h5 *.hdf5);;"
    "prune-viz lessons (*.pvlesson);;All files (*)"
)
# a part of a model just opened is painted per turn of the event loop, the next one on a timer: a 0 ms
# single shot is a posted event, run in the same pass as the paint, before the window's other timers
PAINT_TURN_MS = 1


CUSTOM_OBJECTS_FILTER = "Python files (*.py);;All files (*)"
CUSTOM_OBJECTS_TIP = (
    "The Python file that defines a model's custom Keras classes: it is imported (its code runs) and "
    "rebuilds models that otherwise open from their weights only"
)
ALLOW_LAMBDA_TIP = "Lambda layers run the Python code saved in the model file: only for files you trust"


def open_for_window(path: str, task=None, options: OpenOptions | None = None) -> tuple[OpenedModel, HeatmapData]:
    """The open job: ``open_model``, then what the window's first views need of the model and would
    take a while to make on the GUI thread for big layers: the heatmaps' data, and the first pruning
    (k = 0), whose per-layer counts the pruner keeps for every later one."""
    opened = open_model(path, task, options)
    heatmaps = heatmap_data(opened)
    opened.pruner.prune(PruningConfig(k=0.0, included=opened.default_included))
    return opened, heatmaps


def check_model_path(path: str) -> None:
    """ModelLoadError now if ``path`` is missing or not a model file/folder (no TensorFlow needed)."""
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise ModelLoadError(f"{resolved} does not exist.")
    sniff_format(resolved)


class ModelOpening:
    """MainWindow's ways to open a model (a mixin: the window holds the session, jobs and views)."""

    def choose_model_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a Keras model", self._last_folder(), MODEL_FILTER)
        if path:
            self.open_path_asking(path)

    def choose_model_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a TensorFlow SavedModel folder", self._last_folder())
        if path:
            self.open_path_asking(path)

    def open_path_asking(self, path: str | Path, **config) -> Job | None:
        """``open_path`` for the user's own requests: asks first if results would be lost."""
        if not self.confirm_discard(f"Open {Path(path).name}"):
            return None
        return self.open_path(path, **config)

    def _last_folder(self) -> str:
        recent = remembered.recent_models(self.settings)
        return str(Path(recent[0]).parent) if recent else ""

    def open_path(self, path: str | Path, **config) -> Job | None:
        """Open ``path`` (a model or a lesson) in a worker; ``config`` (method, k, scope) is applied once
        it is ready."""
        path = str(path)
        if is_lesson_file(path):
            return self.lessons.open_lesson(path, **config)
        name = Path(path).name
        try:  # a missing or non-model file fails at once, without waiting for TensorFlow
            check_model_path(path)
        except ModelLoadError as exc:
            self._on_open_failed(path, exc)
            return None
        self.pending_config = dict(config)
        options = self.session.open_options
        job = Job(lambda task: open_for_window(path, task, options), OPEN_KIND, self)
        job.label = f"Opening {name}"
        job.progressed.connect(lambda fraction, message: self._show_loading(name, fraction, message))
        job.succeeded.connect(lambda prepared: self._show_opened(path, *prepared))
        job.failed.connect(lambda exc: self._on_open_failed(path, exc))
        job.cancelled.connect(lambda: self.statusBar().showMessage(f"Opening {name} cancelled.", 5000))
        job.finished.connect(lambda: self._show_loading(None))
        self._show_loading(name, 0.0, "waiting for the running job")
        self.controller.cancel()  # also stops a pending auto-evaluation
        self.jobs.cancel_all()  # whatever runs for the current model is moot once another opens
        self.jobs.submit(job)
        return job

    # -- how models open: the custom objects file and the Lambda switch ----------------------------
    def restore_open_options(self) -> None:
        """Open models with the custom objects file remembered in the settings, Lambda layers off."""
        custom = remembered.remembered_custom_objects(self.settings)
        self.session.open_options = OpenOptions(Path(custom) if custom else None)
        self._sync_open_actions()

    def set_open_options(self, *, custom_objects=False, allow_lambda: bool | None = None, remember: bool = True):
        """Open models with the custom objects file ``custom_objects`` (a path, None for none; False
        keeps it) and Lambda layers allowed or not; a model open from its weights only opens again
        with them. The file is remembered in the settings unless ``remember`` is false."""
        options = self.session.open_options
        if custom_objects is not False:
            options = replace(options, custom_objects=Path(custom_objects).expanduser() if custom_objects else None)
            if remember:
                remembered.remember_custom_objects(self.settings, str(custom_objects) if custom_objects else None)
        if allow_lambda is not None:
            options = replace(options, allow_lambda=bool(allow_lambda))
        changed = options != self.session.open_options
        self.session.open_options = options
        self._sync_open_actions()
        opened = self.session.model
        if changed and opened is not None and opened.loaded.weights_only and self.model_path:
            self.open_path_asking(self.model_path)

    def choose_custom_objects(self) -> None:
        current = self.session.open_options.custom_objects
        folder = str(current.parent) if current is not None else self._last_folder()
        path, _ = QFileDialog.getOpenFileName(
            self, "Custom objects: the Python file defining the model's classes", folder, CUSTOM_OBJECTS_FILTER
        )
        if path:
            self.set_open_options(custom_objects=path)

    def forget_custom_objects(self) -> None:
        self.set_open_options(custom_objects=None)

    def set_allow_lambda(self, on: bool) -> None:
        self.set_open_options(allow_lambda=on)

    def _sync_open_actions(self) -> None:
        options = self.session.open_options
        action = getattr(self, "custom_objects_action", None)
        if action is None:  # before the menus are made
            return
        custom = options.custom_objects
        action.setText(f"Custom o&bjects file: {custom.name}..." if custom is not None else "Custom o&bjects file...")
        action.setToolTip(f"{CUSTOM_OBJECTS_TIP} (now: {custom})" if custom is not None else CUSTOM_OBJECTS_TIP)
        self.forget_custom_objects_action.setEnabled(custom is not None)
        self.allow_lambda_action.setChecked(options.allow_lambda)

    def _show_loading(self, name: str | None, fraction: float = 0.0, message: str = "") -> None:
        self.start_page.show_loading(name, fraction, message)
        if name is not None:
            self.statusBar().showMessage(f"Opening {name}: {message}")

    def set_opened_model(self, path: str, opened, heatmaps: HeatmapData | None = None) -> None:
        """Show a model opened (by open_model) from ``path``, applying any pending settings;
        ``heatmaps``: the heatmaps' data if it was made already (``open_for_window``)."""
        self._adopt(path, opened, heatmaps)
        self._opened(path, opened)

    def _show_opened(self, path: str, opened, heatmaps: HeatmapData) -> None:
        """The open job's result, shown as ``set_opened_model`` shows it, but painted a part at a time
        (the layer list, the selected layer's pictures, the side panel, the heatmaps), each in a turn
        of the event loop of its own, so a big model's first paint never holds the window for long;
        ``model_opened`` follows the last part."""
        parts = [self.docks["layers"], self.docks["selected"], self.docks["prune"], self.stack]
        for part in parts:
            part.setUpdatesEnabled(False)
        self._unpainted = parts
        self._adopt(path, opened, heatmaps)
        serial = self.session.model_serial

        def paint_next() -> None:
            if self._unpainted:
                self._unpainted.pop(0).setUpdatesEnabled(True)  # painted before the next turn
                QTimer.singleShot(PAINT_TURN_MS, self, paint_next)
            elif self.session.model_serial == serial:
                self._opened(path, opened)

        QTimer.singleShot(PAINT_TURN_MS, self, paint_next)

    def _adopt(self, path: str, opened, heatmaps: HeatmapData | None) -> None:
        self.model_path = path
        if heatmaps is not None:
            self.heatmaps.prepare(heatmaps)
        self.session.set_model(opened)
        if self.pending_config:
            config, self.pending_config = self.pending_config, {}
            wants_taylor = config.get("criterion") == "taylor"
            if wants_taylor:  # chosen once its scores are computed, by the job
                config.pop("criterion")
            self.session.configure(**config)
            if wants_taylor:
                self.compute_taylor_scores()
        self.controls.slider.setFocus()  # arrows and Page Up/Down move k straight away
        tensors = len(opened.layers)
        bad = sum(found.count for found in opened.loaded.non_finite_variables())
        self.statusBar().showMessage(
            f"Opened {Path(path).name} ({opened.loaded.format}): {tensors} prunable "
            f"tensor{'s' if tensors != 1 else ''} holding {opened.share.describe()}; "
            f"{opened.total_parameters:,} parameters"
            + (f"; {bad:,} of them NaN or infinite (see above the heatmap)." if bad else "."),
            8000,
        )

    def _opened(self, path: str, opened) -> None:
        self._refresh_recent(remembered.remember_model(self.settings, path))  # writes the settings file
        self.model_opened.emit(opened)

    def _on_open_failed(self, path: str, exc: BaseException) -> None:
        self.statusBar().showMessage(f"Could not open {Path(path).name}.", 8000)
        self.report_error(exc, f"open {Path(path).name}", f"Model: {Path(path).expanduser().resolve()}")
        self.open_failed.emit(exc)

    def _refresh_recent(self, paths: list[str] | None = None) -> None:
        paths = paths if paths is not None else remembered.recent_models(self.settings)
        self.start_page.set_recent(paths)
        self.recent_menu.clear()
        for i, path in enumerate(paths):
            action = self.recent_menu.addAction(f"&{i + 1 if i < 9 else 0}  {path}")
            action.triggered.connect(lambda _=False, p=path: self.open_path_asking(p))
        self.recent_menu.setEnabled(bool(paths))

    @staticmethod
    def _dropped_path(mime) -> str | None:
        for url in mime.urls() if mime.hasUrls() else []:
            if url.isLocalFile():
                return url.toLocalFile()
        return None

    def dragEnterEvent(self, event) -> None:
        if self._dropped_path(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        path = self._dropped_path(event.mimeData())
        if path:
            from prune_viz.core.data import is_data_path

            event.acceptProposedAction()
            path = path.rstrip("/")
            if is_data_path(path):  # a folder of images, an .npz or CSV: the test data, not a model
                self.set_data_path(path)
            else:
                self.open_path_asking(path)
        else:
            event.ignore()
