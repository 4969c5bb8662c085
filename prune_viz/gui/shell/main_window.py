"""The main window: heatmaps in the centre, layers on the left, pruning and accuracy on the right.
Its menus (window_menus), model opening (opening) and arrangement (arrangement) are mixed in.

Models open in a worker job (TensorFlow is imported there, after the window is
painted); a failed open leaves the previous model in place. Every TensorFlow job
goes through one JobQueue, so at most one runs at a time.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QSettings, Qt, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpacerItem,
    QStackedWidget,
    QTabBar,
    QTabWidget,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from prune_viz.core.session import Session
from prune_viz.gui import remembered
from prune_viz.gui.binding import bind
from prune_viz.gui.classroom.lab import install_lab
from prune_viz.gui.classroom.lessons import install_lessons
from prune_viz.gui.errors import show_error
from prune_viz.gui.experiments.dock import install_experiments
from prune_viz.gui.features import Dock, WindowFeatures
from prune_viz.gui.panels.controls import LayerList, PruningControls
from prune_viz.gui.panels.evaluation import EvaluationController, EvaluationPanel
from prune_viz.gui.panels.warm_up import SliderWarmUp
from prune_viz.gui.shell.arrangement import (
    APP_NAME,
    GEOMETRY_KEY,
    HEATMAP_MIN_SIZE,
    LAYOUT_VERSION,
    RESULT_MIN_HEIGHT,
    STATE_KEY,
    TabWheelGuard,
    WindowArrangement,
)
from prune_viz.gui.shell.lab_drawer import DrawerHandle, LabDrawer
from prune_viz.gui.shell.opening import ModelOpening
from prune_viz.gui.shell.shortcuts import ShortcutList
from prune_viz.gui.shell.start_page import StartPage
from prune_viz.gui.shell.window_menus import EVALUATE_ACTION_TIP, WindowMenus
from prune_viz.gui.views.accuracy_plot import AccuracySparsityPlot
from prune_viz.gui.views.confusion import EvaluationDetails
from prune_viz.gui.views.heatmap import LayerHeatmaps
from prune_viz.gui.views.histogram import WeightHistogram
from prune_viz.gui.views.pictures import FittingScroll
from prune_viz.gui.views.tiles import UnitTileGrid
from prune_viz.gui.workers import Job, JobQueue


class MainWindow(WindowMenus, ModelOpening, WindowArrangement, QMainWindow):
    model_opened = Signal(object)  # OpenedModel
    open_failed = Signal(object)  # exception

    def __init__(
        self, session: Session | None = None, settings: QSettings | None = None, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.wheel_guard = TabWheelGuard(self)  # first: childEvent hands it the tab bars made from here on
        self.session = session or Session()
        self.settings = settings or remembered.default_settings()
        self.jobs = JobQueue(self)
        self.controller = EvaluationController(self.session, self.jobs, self)
        self.slider_warm_up = SliderWarmUp(self.session, self)
        self.pending_config: dict = {}  # applied once the model being opened is ready
        self.last_error_box: QMessageBox | None = None
        self.model_path: str | None = None
        # menus, docks, actions and panels by key, for the features installed below (experiments, lab, lessons)
        self.features = WindowFeatures(self, self.report_error)
        self._base_font = QFont(self.font())
        self._app_font = QFont(QApplication.font())
        self._tooltip_font = QFont(QToolTip.font())
        self._base_palette = QPalette(self.palette())
        self.presenter = False
        self._left_docks_shown: list[QDockWidget] = []  # hidden by a narrow presenter mode, shown after it
        self._asked_to_close = False  # Quit has asked already; the close event must not ask again
        self.enlarged: QDialog | None = None
        self.shortcut_list: ShortcutList | None = None  # F1's, while it is open
        self._unpainted: list[QWidget] = []  # parts of a model just opened, painted one per turn (_show_opened)

        self.start_page = StartPage()
        self.heatmaps = LayerHeatmaps(self.session)
        self.heatmaps.view.canvas.setMinimumSize(*HEATMAP_MIN_SIZE)  # no dock squeezes the matrix below this
        self.stack = QStackedWidget()
        self.stack.addWidget(self.start_page)
        self.stack.addWidget(self.heatmaps)
        self.drawer_handle = DrawerHandle()  # in the heatmap's place while a lab page covers it
        self.centre = QWidget()
        centre = QVBoxLayout(self.centre)
        centre.setContentsMargins(0, 0, 0, 0)
        centre.addWidget(self.drawer_handle)
        centre.addWidget(self.stack, 1)
        self.setCentralWidget(self.centre)

        self.layer_list = LayerList(self.session)
        self.controls = PruningControls(self.session, set_k=self.slider_warm_up.step)
        self.evaluation = EvaluationPanel(self.session, self.controller)
        self.histogram = WeightHistogram(self.session)
        self.tiles = UnitTileGrid(self.session)
        self.details = EvaluationDetails(self.session)
        self.accuracy_plot = AccuracySparsityPlot(self.session)
        self._add_docks()
        self._add_status_bar()
        self._add_actions()

        self.start_page.open_file_clicked.connect(self.choose_model_file)
        self.start_page.open_folder_clicked.connect(self.choose_model_folder)
        self.start_page.recent_chosen.connect(self.open_path_asking)
        self.layer_list.layer_selected.connect(self.heatmaps.set_layer)
        self.heatmaps.layer_selected.connect(self._on_layer_selected)
        self.heatmaps.view.hovered.connect(lambda text: self.statusBar().showMessage(text, 4000))
        self.evaluation.data_path_chosen.connect(self.set_data_path)
        self.controller.failed.connect(self._on_evaluation_failed)
        self.controller.data_failed.connect(self._on_data_failed)
        self.controller.data_read.connect(lambda _data: self._refresh_evaluate_actions())
        bind(self, self.session.data_changed, self._refresh_evaluate_actions)
        self.controller.shown.connect(self._on_evaluation_shown)
        self.jobs.started.connect(self._on_job_started)
        self.controls.taylor_requested.connect(self.compute_taylor_scores)
        bind(self, self.session.model_changed, self._on_model_changed)

        self.experiments = install_experiments(self)  # Experiments dock and menu, File > Export
        self.lessons = install_lessons(self)  # File > Save lesson, opening .pvlesson files, step mode
        # after the lessons: a lesson shows the Experiments dock before one of these tabs in it
        self.lab = install_lab(self)  # Draw a digit and the flip gallery, as Experiments tabs
        self.lab_drawer = LabDrawer(
            self,
            self.features.docks[Dock.EXPERIMENTS],
            self.experiments,
            (self.lab.draw, self.lab.flips, self.lab.spectrum),
            self.stack,
            self.heatmaps.view.canvas,
            self.drawer_handle,
            self.centre,
        )
        self.lessons.toolbar.visibilityChanged.connect(self.lab_drawer.fit)
        self.features.docks[Dock.EXPERIMENTS].k_step.connect(self.step_k)  # arrows in it move k
        self.features.docks[Dock.EXPERIMENTS].topLevelChanged.connect(self.fit_title_bars)
        self.lessons.step_changed.connect(lambda _index: self.lab_drawer.close())  # a step prunes the heatmap
        self.setAcceptDrops(True)
        self.resize(*self._default_size())
        self._fit_docks()
        self._refresh_recent()
        self.restore_open_options()
        self._on_model_changed(self.session.model)
        self.wheel_guard.watch()

    # -- layout ----------------------------------------------------------------------------------
    def _add_docks(self) -> None:
        # side docks run the full height, so a bottom dock (Experiments) sits under the heatmaps only
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        layers = QDockWidget("Layers", self)
        layers.setObjectName("layers")
        layers.setWidget(self.layer_list)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, layers)
        self.layer_tabs = QTabWidget()
        self.layer_tabs.setDocumentMode(True)  # no pane: the pages sit on the window's background
        self.layer_tabs.addTab(self.histogram, "|w| histogram")
        bind(self, self.session.config_changed, self._name_histogram_tab)
        self.layer_tabs.addTab(self.tiles, "Unit tiles")
        selected = QDockWidget("Selected layer", self)
        selected.setObjectName("selected")
        selected.setWidget(self.layer_tabs)
        self.splitDockWidget(layers, selected, Qt.Orientation.Vertical)
        self.result_tabs = QTabWidget()
        self.result_tabs.addTab(self.details, "Per class")
        self.result_tabs.addTab(self.accuracy_plot, "Accuracy vs sparsity")
        self.result_tabs.setMinimumHeight(RESULT_MIN_HEIGHT)
        # takes the height left over, never asks for more (which would make the side panel scroll)
        self.result_tabs.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Ignored)
        side = QWidget()
        column = QVBoxLayout(side)
        column.addWidget(self.controls)
        column.addWidget(self.evaluation)
        column.addWidget(self.result_tabs, 1)
        # takes the height the chart leaves when it is hidden (a lesson's step before its reveal)
        column.addItem(QSpacerItem(0, 0, QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Expanding))
        scroll = FittingScroll(side)  # scrolls only when the panels cannot shrink to its height
        self.side_scroll = scroll
        panel = QDockWidget("Prune and evaluate", self)
        panel.setObjectName("prune")
        panel.setWidget(scroll)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, panel)
        self.docks = {"layers": layers, "selected": selected, "prune": panel}

    def _add_status_bar(self) -> None:
        bar = self.statusBar()
        self.job_label = QLabel()
        self.job_progress = QProgressBar()
        self.job_progress.setRange(0, 1000)
        self.job_progress.setMaximumWidth(220)
        self.job_cancel = QPushButton("Cancel")
        self.job_cancel.clicked.connect(self.cancel_job)
        for widget in (self.job_label, self.job_progress, self.job_cancel):
            bar.addPermanentWidget(widget)
            widget.hide()
        self.jobs.idle.connect(self._on_jobs_idle)

    def _on_layer_selected(self, name: str) -> None:
        self.layer_list.select(name)
        self.histogram.set_layer(name)
        self.tiles.set_layer(name)

    def _on_model_changed(self, opened) -> None:
        if self.heatmaps.selected:  # after the pictures have reset themselves for the new model
            self._on_layer_selected(self.heatmaps.selected)
        self.stack.setCurrentWidget(self.heatmaps if opened is not None else self.start_page)
        self._refresh_evaluate_actions()
        name = Path(self.model_path).name if opened is not None and self.model_path else None
        self.setWindowTitle(f"{name} - {APP_NAME}" if name else APP_NAME)

    def _refresh_evaluate_actions(self) -> None:
        why = self.session.evaluation_problem  # e.g. a 224x224x3 input: the evaluation panel says it
        self.evaluate_action.setEnabled(why is None)
        self.auto_action.setEnabled(why is None)
        self.evaluate_action.setStatusTip(why or EVALUATE_ACTION_TIP)

    # -- data, pruning, view ---------------------------------------------------------------------
    def set_data_path(self, path: str) -> None:
        """Evaluate on ``path`` (any source core.data reads: a folder, a file, a Keras data set name;
        "" for the default MNIST); it is read at once, as a job, when a model is open."""
        self.controller.cancel()
        self.session.set_data(data_path=path)  # the controller reads it (a job with progress and Cancel)
        remembered.remember_data_path(self.settings, path)
        current = self.jobs.current
        reading = self.jobs.has_waiting("data") or (current is not None and current.kind == "data")
        when = "reading it now" if reading else "read when needed"
        self.statusBar().showMessage(f"Test data: {path or 'MNIST (default)'} ({when}).", 6000)

    def _on_data_failed(self, exc: BaseException) -> None:
        self.report_error(exc, "read the test data", f"Test data: {self.session.data_path}")

    def step_k(self, delta: int) -> None:
        if self.session.model is not None:
            self.controls.slider.setValue(max(0, min(100, self.controls.slider.value() + delta)))

    def step_layer(self, delta: int) -> None:
        names = list(self.heatmaps.strip.thumbnails)
        if names:
            index = names.index(self.heatmaps.selected) if self.heatmaps.selected in names else 0
            self.heatmaps.set_layer(names[(index + delta) % len(names)])

    def _sync_config_actions(self, config) -> None:
        actions = {"weight": self.weight_action, "unit": self.unit_action, "nm": self.nm_action}
        actions.get(config.method, self.block_action).setChecked(True)
        (self.layer_action if config.scope == "layer" else self.global_action).setChecked(True)

    # -- unsaved results -------------------------------------------------------------------------
    def unsaved_results(self) -> list[str]:
        """What would be lost now: results computed here and not saved (a fine-tuned model, a sweep...)."""
        return self.experiments.unsaved_results()

    def confirm_discard(self, doing: str) -> bool:
        """True if nothing unsaved would be lost by ``doing``, or the user agrees to lose it."""
        unsaved = self.unsaved_results()
        if not unsaved:
            return True
        listed = "".join(f"<li>{what}</li>" for what in unsaved)
        answer = QMessageBox.question(
            self,
            APP_NAME,
            f"<b>{doing}?</b> These results are not saved and would be lost:<ul>{listed}</ul>",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Discard

    def quit(self) -> bool:
        """File > Quit: asks first if results would be lost; False if the user kept the window."""
        if not self.confirm_discard("Quit"):
            return False
        self._asked_to_close = True
        self.close()
        return True

    def _name_histogram_tab(self, config) -> None:
        """The tab says what the histogram counts: |w|, or the criterion's scores."""
        index = self.layer_tabs.indexOf(self.histogram)
        text = "|w| histogram" if config.criterion == "magnitude" else f"{config.criterion} score histogram"
        if self.layer_tabs.tabText(index) != text:  # setting the same text lays the tabs out again
            self.layer_tabs.setTabText(index, text)

    def compute_taylor_scores(self) -> Job | None:
        """Compute the Taylor scores as a job (progress and Cancel in the status bar), then prune by them."""
        if self.session.model is None or self.jobs.has_waiting("taylor"):
            return None
        serial = self.session.model_serial
        job = Job(lambda task: self.session.taylor(task), "taylor", self)
        job.label = "Computing Taylor scores"

        def done(scores) -> None:
            if self.session.model_serial == serial:
                self.statusBar().showMessage(scores.description, 8000)
                self.session.configure(criterion="taylor")

        job.succeeded.connect(done)
        job.failed.connect(lambda exc: self.statusBar().showMessage(f"No Taylor scores: {exc}", 10000))
        job.cancelled.connect(lambda: self.statusBar().showMessage("Taylor scores cancelled.", 5000))
        self.jobs.submit(job)
        return job

    # -- jobs ------------------------------------------------------------------------------------
    def _on_job_started(self, job: Job) -> None:
        label = job.label
        self.job_label.setText(label)
        self.job_progress.setValue(0)
        job.progressed.connect(
            lambda fraction, message: (
                self.job_progress.setValue(int(fraction * 1000)),
                self.job_label.setText(f"{label}: {message}"),
            )
        )
        for widget in (self.job_label, self.job_progress, self.job_cancel):
            widget.show()

    def _on_jobs_idle(self) -> None:
        for widget in (self.job_label, self.job_progress, self.job_cancel):
            widget.hide()

    def cancel_job(self) -> None:
        if self.jobs.current is not None:
            self.jobs.current.cancel()

    def _on_evaluation_failed(self, exc: BaseException) -> None:
        data = self.session.data_path or "default MNIST location"
        self.report_error(exc, "evaluate the model", f"Test data: {data}; input scaling: {self.session.preprocessing}")

    def _on_evaluation_shown(self, value) -> None:
        from prune_viz.core.metric_words import headline
        from prune_viz.gui.views.confusion import class_word

        self.result_tabs.setTabText(self.result_tabs.indexOf(self.details), f"Per {class_word(self.details.names)}")
        record, _baseline = value
        result = record.result
        self.statusBar().showMessage(
            f"{headline(result)} ({result.score_name}) for {record.config.describe()}.",
            8000,
        )

    def report_error(self, exc: BaseException, doing: str, context: str = "") -> None:
        """One error dialog (kept in ``last_error_box``): what failed while ``doing`` what, and where."""
        self.last_error_box = show_error(self, exc, doing, context)

    # -- screenshots, help, closing --------------------------------------------------------------
    def choose_screenshot_path(self) -> None:
        start = Path(remembered.save_folder(self.settings)) / "prune-viz.png"
        path, _ = QFileDialog.getSaveFileName(self, "Save an image of the window", str(start), "PNG (*.png)")
        if path:
            remembered.remember_save_folder(self.settings, path)
            self.save_screenshot(path)

    def save_screenshot(self, path: str) -> bool:
        """The window as a PNG, written atomically (the dialog has asked before replacing a file)."""
        from prune_viz.core.files import write_atomically

        image = self.grab()

        def write(temporary: Path) -> None:
            if not image.save(str(temporary), "PNG"):
                raise OSError(f"Qt could not write {path}")

        opened = self.session.model.loaded.path if self.session.model is not None else None
        try:
            write_atomically(path, write, force=True, protect=(opened,) if opened is not None else ())
            saved = True
        except Exception:
            saved = False
        self.statusBar().showMessage(f"Saved {path}." if saved else f"Could not save {path}.", 6000)
        return saved

    def show_shortcuts(self) -> ShortcutList:
        """F1: every shortcut, in a list that scrolls and fits the screen (its OK button on it)."""
        if self.shortcut_list is not None:
            self.shortcut_list.close()
        dialog = ShortcutList(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda *_: setattr(self, "shortcut_list", None))
        self.shortcut_list = dialog
        dialog.open()
        return dialog

    def show_about(self) -> None:
        from prune_viz import __version__

        QMessageBox.about(
            self,
            "About prune-viz",
            f"<b>prune-viz {__version__}</b><br>A desktop lab for neural-network pruning: "
            "live weight heatmaps, weight and unit pruning, MNIST accuracy on demand.",
        )

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.size().height() != event.oldSize().height() or event.size().width() != event.oldSize().width():
            self.lab_drawer.fit()

    def childEvent(self, event) -> None:
        super().childEvent(event)
        if event.type() == QEvent.Type.ChildPolished and isinstance(event.child(), QTabBar):
            self.wheel_guard.watch(event.child())

    def closeEvent(self, event) -> None:
        # the window's close button asks like Quit does; closing from code (tests, --screenshot) does not
        asked, self._asked_to_close = self._asked_to_close, False
        if event.spontaneous() and not asked and not self.confirm_discard("Close the window"):
            event.ignore()
            return
        for dialog in (self.enlarged, self.shortcut_list):
            if dialog is not None:
                dialog.close()
        if self.presenter:  # the application's fonts are shared with any other window
            QApplication.instance().setFont(self._app_font)
            QToolTip.setFont(self._tooltip_font)
        self.settings.setValue(GEOMETRY_KEY, self.saveGeometry())
        self.settings.setValue(STATE_KEY, self.saveState(LAYOUT_VERSION))
        self.settings.sync()
        self.hide()
        self.slider_warm_up.stop()
        self.jobs.shutdown()
        super().closeEvent(event)
