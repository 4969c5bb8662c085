"""The main window: heatmaps in the centre, layers on the left, pruning and accuracy on the right.

Models open in a worker job (TensorFlow is imported there, after the window is
painted); a failed open leaves the previous model in place. Every TensorFlow job
goes through one JobQueue, so at most one runs at a time.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QColor,
    QFont,
    QGuiApplication,
    QKeySequence,
    QPalette,
)
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QApplication,
    QDialog,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QTabBar,
    QTabWidget,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from prune_viz.core.lesson import is_lesson_file
from prune_viz.core.model_io import ModelLoadError, sniff_format
from prune_viz.core.pruning import PruningConfig
from prune_viz.core.session import OpenedModel, Session, open_model
from prune_viz.gui import remembered
from prune_viz.gui.classroom.lab import install_lab
from prune_viz.gui.classroom.lessons import PanelHandle, install_lessons
from prune_viz.gui.errors import show_error
from prune_viz.gui.experiments.dock import install_experiments
from prune_viz.gui.panels.controls import LayerList, PruningControls
from prune_viz.gui.panels.evaluation import EvaluationController, EvaluationPanel
from prune_viz.gui.panels.warm_up import SliderWarmUp
from prune_viz.gui.shell.start_page import StartPage
from prune_viz.gui.views.accuracy_plot import AccuracySparsityPlot
from prune_viz.gui.views.colours import DIVERGING, HIGH_CONTRAST
from prune_viz.gui.views.confusion import EvaluationDetails
from prune_viz.gui.views.heatmap import LayerHeatmaps
from prune_viz.gui.views.heatmap_data import HeatmapData, heatmap_data
from prune_viz.gui.views.histogram import WeightHistogram
from prune_viz.gui.views.pictures import READABLE_POINTS
from prune_viz.gui.views.tiles import UnitTileGrid
from prune_viz.gui.workers import Job, JobQueue

APP_NAME = "prune-viz"
OPEN_KIND = "open"
MODEL_FILTER = ("Keras models and lessons (*.keras *.h5 *.hdf5 *.pvlesson);;Keras models (*.keras *.h5 *.hdf5);;"
                "prune-viz lessons (*.pvlesson);;All files (*)")
PRESENTER_POINTS = READABLE_POINTS  # every text in presenter mode, menus and dialogs included
DEFAULT_SIZE = (1600, 1000)
MAX_SIDE_WIDTH = 640
# presenter mode: the side panel's width (at least enough for 18 pt, else a share of the window) and the
# layer column's share; the heatmap keeps the rest, so it stays the largest picture
PRESENTER_SIDE_MIN, PRESENTER_SIDE_SHARE, PRESENTER_LEFT_SHARE = 470, 0.30, 0.22
PRESENTER_THREE_COLUMNS = 1600  # narrower windows hide the layer docks in presenter mode (View menu)
HEATMAP_MIN_SIZE = (360, 240)  # the matrix view: no dock or panel squeezes it below this
RESULT_MIN_HEIGHT, PRESENTER_RESULT_MIN_HEIGHT = 380, 200  # the per-digit chart's tab
GEOMETRY_KEY = "window/geometry"
STATE_KEY = "window/state"
PRESENTER_KEY = "view/presenter"
CONTRAST_KEY = "view/high_contrast"
LAYOUT_VERSION = 2  # bump when the docks change, so an old saved layout is ignored
# a part of a model just opened is painted per turn of the event loop, the next one on a timer: a 0 ms
# single shot is a posted event, run in the same pass as the paint, before the window's other timers
PAINT_TURN_MS = 1
ENLARGEABLE = ("Heatmap", "Per-digit accuracy", "Confusion matrix", "Accuracy vs sparsity", "Weight histogram",
               "Unit tiles")


class TabWheelGuard(QObject):
    """The wheel over a tab bar of ``window`` (its panels' tabs and the tabs of docks stacked
    together, which Qt creates later) scrolls what holds it, and never flips the tabs. It watches
    the tab bars only (``watch``), not every event of the app or of the window: a Python filter costs
    a call per event, and the window's events include every repaint."""

    def __init__(self, window: QWidget):
        super().__init__(window)
        self.window = window

    def watch(self, bar: QTabBar | None = None) -> None:
        """Watch ``bar`` (a dock tab bar, made when docks are stacked), or every tab bar the window holds."""
        for each in [bar] if bar is not None else self.window.findChildren(QTabBar):
            each.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.Wheel and isinstance(obj, QTabBar) and obj.window() is self.window:
            area = obj.parentWidget()
            while area is not None and not isinstance(area, QAbstractScrollArea):
                area = area.parentWidget()
            if area is not None:
                QApplication.sendEvent(area.verticalScrollBar(), event)
            return True
        return False


def high_contrast_palette() -> QPalette:
    """White text on black for the window's own widgets (the charts follow views.pictures' theme)."""
    palette = QPalette()
    black, white, grey = QColor("#000000"), QColor("#ffffff"), QColor("#303030")
    for role, colour in ((QPalette.ColorRole.Window, black), (QPalette.ColorRole.WindowText, white),
                         (QPalette.ColorRole.Base, black), (QPalette.ColorRole.AlternateBase, grey),
                         (QPalette.ColorRole.Text, white), (QPalette.ColorRole.Button, grey),
                         (QPalette.ColorRole.ButtonText, white), (QPalette.ColorRole.ToolTipBase, black),
                         (QPalette.ColorRole.ToolTipText, white), (QPalette.ColorRole.Highlight, QColor("#ffd200")),
                         (QPalette.ColorRole.HighlightedText, black), (QPalette.ColorRole.PlaceholderText, grey)):
        palette.setColor(role, colour)
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#9a9a9a"))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, QColor("#9a9a9a"))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#9a9a9a"))
    return palette


def open_for_window(path: str, task=None) -> tuple[OpenedModel, HeatmapData]:
    """The open job: ``open_model``, then what the window's first views need of the model and would
    take a while to make on the GUI thread for big layers: the heatmaps' data, and the first pruning
    (k = 0), whose per-layer counts the pruner keeps for every later one."""
    opened = open_model(path, task)
    heatmaps = heatmap_data(opened)
    opened.pruner.prune(PruningConfig(k=0.0, included=opened.default_included))
    return opened, heatmaps


def check_model_path(path: str) -> None:
    """ModelLoadError now if ``path`` is missing or not a model file/folder (no TensorFlow needed)."""
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise ModelLoadError(f"{resolved} does not exist.")
    sniff_format(resolved)


EVALUATE_ACTION_TIP = "Accuracy of the current pruning on the MNIST test set"


class MainWindow(QMainWindow):
    model_opened = Signal(object)  # OpenedModel
    open_failed = Signal(object)  # exception

    def __init__(self, session: Session | None = None, settings: QSettings | None = None,
                 parent: QWidget | None = None):
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
        self.panels: dict[str, PanelHandle] = {}  # panels a lesson can show by name: register_panel
        self._base_font = QFont(self.font())
        self._app_font = QFont(QApplication.font())
        self._tooltip_font = QFont(QToolTip.font())
        self._base_palette = QPalette(self.palette())
        self.presenter = False
        self._left_docks_shown: list[QDockWidget] = []  # hidden by a narrow presenter mode, shown after it
        self._asked_to_close = False  # Quit has asked already; the close event must not ask again
        self.enlarged: QDialog | None = None
        self._unpainted: list[QWidget] = []  # parts of a model just opened, painted one per turn (_show_opened)

        self.start_page = StartPage()
        self.heatmaps = LayerHeatmaps(self.session)
        self.heatmaps.view.canvas.setMinimumSize(*HEATMAP_MIN_SIZE)  # no dock squeezes the matrix below this
        self.stack = QStackedWidget()
        self.stack.addWidget(self.start_page)
        self.stack.addWidget(self.heatmaps)
        self.setCentralWidget(self.stack)

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
        self.controller.shown.connect(self._on_evaluation_shown)
        self.jobs.started.connect(self._on_job_started)
        self.controls.taylor_requested.connect(self.compute_taylor_scores)
        self.session.model_changed.connect(self._on_model_changed)

        self.experiments = install_experiments(self)  # Experiments dock and menu, File > Export
        self.lessons = install_lessons(self)  # File > Save lesson, opening .pvlesson files, step mode
        # after the lessons: a lesson shows the Experiments dock before one of these tabs in it
        self.lab = install_lab(self)  # Draw a digit and the flip gallery, as Experiments tabs
        self.setAcceptDrops(True)
        self.resize(*self._default_size())
        self._fit_docks()
        self._refresh_recent()
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
        self.session.config_changed.connect(self._name_histogram_tab)
        self.layer_tabs.addTab(self.tiles, "Unit tiles")
        selected = QDockWidget("Selected layer", self)
        selected.setObjectName("selected")
        selected.setWidget(self.layer_tabs)
        self.splitDockWidget(layers, selected, Qt.Orientation.Vertical)
        self.result_tabs = QTabWidget()
        self.result_tabs.addTab(self.details, "Per digit")
        self.result_tabs.addTab(self.accuracy_plot, "Accuracy vs sparsity")
        self.result_tabs.setMinimumHeight(RESULT_MIN_HEIGHT)
        # takes the height left over, never asks for more (which would make the side panel scroll)
        self.result_tabs.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Ignored)
        side = QWidget()
        column = QVBoxLayout(side)
        column.addWidget(self.controls)
        column.addWidget(self.evaluation)
        column.addWidget(self.result_tabs, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(side)
        self.side_scroll = scroll
        panel = QDockWidget("Prune and evaluate", self)
        panel.setObjectName("prune")
        panel.setWidget(scroll)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, panel)
        self.docks = {"layers": layers, "selected": selected, "prune": panel}

    @staticmethod
    def _default_size() -> tuple[int, int]:
        screen = QGuiApplication.primaryScreen()
        width, height = DEFAULT_SIZE
        if screen is not None and screen.availableSize().width() > 1000:  # a real desktop, not offscreen
            available = screen.availableSize()
            width, height = min(width, int(available.width() * 0.95)), min(height, int(available.height() * 0.95))
        return width, height

    def _fit_docks(self) -> None:
        """Give the side panel room for its widest row, up to a limit; in presenter mode the side
        panels take fixed shares of the window, so the window never grows past its size."""
        side = self.side_scroll
        if self.presenter:
            width = self.width()
            side_width = max(PRESENTER_SIDE_MIN, int(width * PRESENTER_SIDE_SHARE))
            left_width = int(width * PRESENTER_LEFT_SHARE)
            side.setMinimumWidth(min(side_width, MAX_SIDE_WIDTH + 160))
            self.resizeDocks([self.docks["layers"], self.docks["prune"]], [left_width, side_width],
                             Qt.Orientation.Horizontal)
            return
        wanted = side.widget().minimumSizeHint().width() + side.verticalScrollBar().sizeHint().width() + 4
        limit = MAX_SIDE_WIDTH
        screen = self.screen()
        if screen is not None and screen.availableSize().width() > 1000:  # a real desktop, not offscreen
            limit = min(limit, int(screen.availableSize().width() * 0.34))
        side.setMinimumWidth(min(wanted, limit))  # wider content scrolls rather than overflowing the screen
        self.resizeDocks([self.docks["layers"], self.docks["prune"]], [320, 500], Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks["layers"], self.docks["selected"]], [250, 600], Qt.Orientation.Vertical)

    def set_size(self, width: int, height: int) -> None:
        """Resize the window (``--size``), keeping the docks' proportions for that size."""
        self.resize(width, height)
        self._fit_docks()

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

    def _action(self, menu, text: str, slot, shortcut=None, checkable: bool = False, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.setCheckable(checkable)
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        self.addAction(action)  # shortcuts work whichever dock has focus
        return action

    def _add_actions(self) -> None:
        menus = self.menuBar()
        file = menus.addMenu("&File")
        self._action(file, "&Open model file...", self.choose_model_file, QKeySequence.StandardKey.Open)
        self._action(file, "Open &SavedModel folder...", self.choose_model_folder, "Ctrl+Shift+O")
        self.recent_menu = file.addMenu("Open &recent")
        file.addSeparator()
        self._action(file, "Test data: IDX &folder...", self.evaluation.choose_idx_folder)
        self._action(file, "Test data: .&npz file...", self.evaluation.choose_npz)
        file.addSeparator()
        self._action(file, "Save window &image...", self.choose_screenshot_path, "Ctrl+Shift+S")
        file.addSeparator()
        self._action(file, "&Quit", self.quit, QKeySequence.StandardKey.Quit)

        prune = menus.addMenu("&Pruning")
        methods = QActionGroup(self)
        self.weight_action = self._action(prune, "&Weight pruning", lambda: self.session.configure(method="weight"),
                                          "Ctrl+1", checkable=True)
        self.unit_action = self._action(prune, "&Unit pruning", lambda: self.session.configure(method="unit"),
                                        "Ctrl+2", checkable=True)
        methods.addAction(self.weight_action)
        methods.addAction(self.unit_action)
        prune.addSeparator()
        scopes = QActionGroup(self)
        self.layer_action = self._action(prune, "&Layerwise threshold", lambda: self.session.configure(scope="layer"),
                                         "Ctrl+3", checkable=True)
        self.global_action = self._action(prune, "&Global threshold", lambda: self.session.configure(scope="global"),
                                          "Ctrl+4", checkable=True)
        scopes.addAction(self.layer_action)
        scopes.addAction(self.global_action)
        prune.addSeparator()
        self._action(prune, "k + 1%", lambda: self.step_k(1), "Ctrl+Right")
        self._action(prune, "k - 1%", lambda: self.step_k(-1), "Ctrl+Left")
        self._action(prune, "k + 10%", lambda: self.step_k(10), "Ctrl+Shift+Right")
        self._action(prune, "k - 10%", lambda: self.step_k(-10), "Ctrl+Shift+Left")
        self._action(prune, "&Reset to k = 0", self.session.reset, "Ctrl+0")
        prune.addSeparator()
        self.evaluate_action = self._action(prune, "&Evaluate", self.controller.request, ["Ctrl+E", "F5"],
                                            tip=EVALUATE_ACTION_TIP)
        self._action(prune, "&Cancel evaluation", self.controller.cancel, "Esc")
        self.auto_action = self._action(prune, "&Auto-evaluate while dragging",
                                         self.evaluation.auto_check.setChecked, "Ctrl+Shift+E", checkable=True)
        self.evaluation.auto_check.toggled.connect(self.auto_action.setChecked)
        self.session.config_changed.connect(self._sync_config_actions)

        view = menus.addMenu("&View")
        self.presenter_action = self._action(view, "&Presenter mode (large text)", self.set_presenter_mode,
                                             "Ctrl+Shift+P", checkable=True)
        self.contrast_action = self._action(
            view, "&High-contrast colours", lambda on: self.set_colormap(HIGH_CONTRAST if on else DIVERGING),
            "Ctrl+Shift+H", checkable=True)
        self.fullscreen_action = self._action(view, "F&ull screen", self.set_full_screen, "F11", checkable=True)
        enlarge = view.addMenu("&Enlarge one picture")
        for i, what in enumerate(ENLARGEABLE):
            self._action(enlarge, what, lambda _=False, w=what: self.show_enlarged(w), f"Ctrl+Alt+{i + 1}",
                         tip="Show it alone, filling the window (Esc closes it)")
        view.addSeparator()
        self._action(view, "&Fit heatmap", self.heatmaps.view.fit, "Ctrl+F")
        self._action(view, "&Next layer", lambda: self.step_layer(1), "Alt+Down")
        self._action(view, "&Previous layer", lambda: self.step_layer(-1), "Alt+Up")
        view.addSeparator()
        for dock in self.docks.values():
            view.addAction(dock.toggleViewAction())

        help_menu = menus.addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", self.show_shortcuts, QKeySequence.StandardKey.HelpContents)
        self._action(help_menu, "&About prune-viz", self.show_about)
        self._sync_config_actions(self.session.config)

    # -- opening models --------------------------------------------------------------------------
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
        job = Job(lambda task: open_for_window(path, task), OPEN_KIND, self)
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
        layers = len(opened.layers)
        self.statusBar().showMessage(
            f"Opened {Path(path).name} ({opened.loaded.format}): {layers} prunable layer{'s' if layers != 1 else ''}, "
            f"{opened.total_parameters:,} parameters.", 8000)

    def _opened(self, path: str, opened) -> None:
        self._refresh_recent(remembered.remember_model(self.settings, path))  # writes the settings file
        self.model_opened.emit(opened)

    def _on_open_failed(self, path: str, exc: BaseException) -> None:
        self.statusBar().showMessage(f"Could not open {Path(path).name}.", 8000)
        self._show_error(exc, f"open {Path(path).name}", f"Model: {Path(path).expanduser().resolve()}")
        self.open_failed.emit(exc)

    def _on_layer_selected(self, name: str) -> None:
        self.layer_list.select(name)
        self.histogram.set_layer(name)
        self.tiles.set_layer(name)

    def _on_model_changed(self, opened) -> None:
        if self.heatmaps.selected:  # after the pictures have reset themselves for the new model
            self._on_layer_selected(self.heatmaps.selected)
        self.stack.setCurrentWidget(self.heatmaps if opened is not None else self.start_page)
        why = self.session.evaluation_problem  # e.g. a 224x224x3 input: the evaluation panel says it
        self.evaluate_action.setEnabled(why is None)
        self.auto_action.setEnabled(why is None)
        self.evaluate_action.setStatusTip(why or EVALUATE_ACTION_TIP)
        name = Path(self.model_path).name if opened is not None and self.model_path else None
        self.setWindowTitle(f"{name} - {APP_NAME}" if name else APP_NAME)

    def _refresh_recent(self, paths: list[str] | None = None) -> None:
        paths = paths if paths is not None else remembered.recent_models(self.settings)
        self.start_page.set_recent(paths)
        self.recent_menu.clear()
        for i, path in enumerate(paths):
            action = self.recent_menu.addAction(f"&{i + 1 if i < 9 else 0}  {path}")
            action.triggered.connect(lambda _=False, p=path: self.open_path_asking(p))
        self.recent_menu.setEnabled(bool(paths))

    # -- panels a lesson can show ------------------------------------------------------------------
    def register_panel(self, name: str, show, is_shown) -> None:
        """Let lessons show or hide a panel by ``name``: ``show(bool)``, ``is_shown() -> bool``."""
        self.panels[name] = PanelHandle(show, is_shown)

    # -- drag and drop ---------------------------------------------------------------------------
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
            event.acceptProposedAction()
            self.open_path_asking(path.rstrip("/"))
        else:
            event.ignore()

    # -- data, pruning, view ---------------------------------------------------------------------
    def set_data_path(self, path: str) -> None:
        self.controller.cancel()
        self.session.set_data(data_path=path)
        remembered.remember_data_path(self.settings, path)
        self.statusBar().showMessage(f"Test data: {path} (read at the next evaluation).", 6000)

    def step_k(self, delta: int) -> None:
        if self.session.model is not None:
            self.controls.slider.setValue(max(0, min(100, self.controls.slider.value() + delta)))

    def step_layer(self, delta: int) -> None:
        names = list(self.heatmaps.strip.thumbnails)
        if names:
            index = names.index(self.heatmaps.selected) if self.heatmaps.selected in names else 0
            self.heatmaps.set_layer(names[(index + delta) % len(names)])

    def _sync_config_actions(self, config) -> None:
        (self.weight_action if config.method == "weight" else self.unit_action).setChecked(True)
        (self.layer_action if config.scope == "layer" else self.global_action).setChecked(True)

    def set_colormap(self, spec) -> None:
        """The heatmaps' colour map, and with it every chart's theme and the window's own colours."""
        self.contrast_action.setChecked(spec is HIGH_CONTRAST)
        self.heatmaps.set_colormap(spec)
        self.tiles.set_colormap(spec)  # the unit tiles use the same colours
        for widget in self.findChildren(QWidget):
            if hasattr(widget, "set_theme"):
                widget.set_theme(spec.theme)
        self.setPalette(high_contrast_palette() if spec is HIGH_CONTRAST else self._base_palette)
        self.settings.setValue(CONTRAST_KEY, spec is HIGH_CONTRAST)

    @property
    def high_contrast(self) -> bool:
        return self.heatmaps.spec is HIGH_CONTRAST

    def set_presenter_mode(self, on: bool) -> None:
        """Large text everywhere (menus, dialogs and tooltips too) and a layout made for 1280x720 and
        1920x1080: the side docks share one column, the panels show only what a room needs to see."""
        self.presenter = on
        self.presenter_action.setChecked(on)
        app = QApplication.instance()
        ratio = PRESENTER_POINTS / (self._base_font.pointSizeF() or PRESENTER_POINTS)
        if on:
            app_font = QFont(self._app_font)
            app_font.setPointSizeF(PRESENTER_POINTS)
            app.setFont(app_font)  # menus, message boxes, file dialogs and the shortcut list
            tooltip = QFont(self._tooltip_font)
            tooltip.setPointSizeF(PRESENTER_POINTS)
            QToolTip.setFont(tooltip)
        else:
            app.setFont(self._app_font)
            QToolTip.setFont(self._tooltip_font)
        font = QFont(self._base_font)
        if on:
            font.setPointSizeF(PRESENTER_POINTS)
        self.setFont(font)
        for widget in self.findChildren(QWidget):  # widgets with their own font (e.g. the accuracy) scale too
            own = getattr(widget, "base_point_size", None)
            if own is not None:
                scaled = QFont(widget.font())
                scaled.setPointSizeF(max(own * ratio, PRESENTER_POINTS) if on else own)
                widget.setFont(scaled)
        self.heatmaps.apply_font()
        self._arrange(on)
        self.settings.setValue(PRESENTER_KEY, on)

    def _arrange(self, presenter: bool) -> None:
        """Presenter mode: the layer list and the selected layer's pictures share one tabbed column;
        the side panel keeps k, Evaluate, the accuracy and the per-digit chart (the rest is in the
        menus and in View > Enlarge)."""
        layers, selected = self.docks["layers"], self.docks["selected"]
        if presenter:
            self.tabifyDockWidget(layers, selected)
            selected.raise_()
            if self.width() < PRESENTER_THREE_COLUMNS:  # two columns: the heatmap and the side panel
                self._left_docks_shown = [dock for dock in (layers, selected) if not dock.isHidden()]
                for dock in self._left_docks_shown:
                    dock.hide()
        else:
            self.splitDockWidget(layers, selected, Qt.Orientation.Vertical)
            for dock in self._left_docks_shown:
                dock.show()
            self._left_docks_shown = []
        self.controls.set_compact(presenter)
        self.evaluation.set_compact(presenter)
        self.details.set_parts(bars=True, confusion=not presenter, captions=not presenter)
        self.result_tabs.setMinimumHeight(PRESENTER_RESULT_MIN_HEIGHT if presenter else RESULT_MIN_HEIGHT)
        self._fit_docks()

    def set_full_screen(self, on: bool) -> None:
        self.fullscreen_action.setChecked(on)
        self.showFullScreen() if on else self.showNormal()

    def show_enlarged(self, what: str) -> QDialog:
        """One picture alone in a window as large as this one, bound to the same session (Esc closes)."""
        if self.enlarged is not None:
            self.enlarged.close()
        if what == "Heatmap":
            widget = LayerHeatmaps(self.session)
            widget.set_colormap(self.heatmaps.spec)
            widget.set_layer(self.heatmaps.selected)
        elif what in ("Per-digit accuracy", "Confusion matrix"):
            widget = EvaluationDetails(self.session)
            # alone, the axis titles say what rows and columns are: all the height goes to the cells
            widget.set_parts(bars=what == "Per-digit accuracy", confusion=what == "Confusion matrix",
                             captions=what == "Per-digit accuracy")
        elif what == "Accuracy vs sparsity":
            widget = AccuracySparsityPlot(self.session)
            widget.copy_sweep_from(self.accuracy_plot)
        elif what == "Unit tiles":
            widget = UnitTileGrid(self.session)
            widget.set_colormap(self.heatmaps.spec)
            widget.set_layer(self.heatmaps.selected or None)
        else:
            widget = WeightHistogram(self.session)
            widget.set_layer(self.heatmaps.selected or None)
        if hasattr(widget, "set_theme"):
            widget.set_theme(self.heatmaps.spec.theme)
        widget.setObjectName("enlarged")
        dialog = QDialog(self)
        dialog.setWindowTitle(f"{what} - {APP_NAME}")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setPalette(self.palette())
        dialog.setFont(self.font())
        layout = QVBoxLayout(dialog)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(widget)
        if isinstance(widget, LayerHeatmaps):
            widget.apply_font()
        dialog.setGeometry(self.geometry())
        dialog.destroyed.connect(lambda *_: setattr(self, "enlarged", None))
        self.enlarged = dialog
        dialog.showFullScreen() if self.isFullScreen() else dialog.show()
        return dialog

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
            self, APP_NAME, f"<b>{doing}?</b> These results are not saved and would be lost:<ul>{listed}</ul>",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
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
        job.progressed.connect(lambda fraction, message: (self.job_progress.setValue(int(fraction * 1000)),
                                                          self.job_label.setText(f"{label}: {message}")))
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
        self._show_error(exc, "evaluate the model",
                         f"Test data: {data}; input scaling: {self.session.preprocessing}")

    def _on_evaluation_shown(self, value) -> None:
        record, _baseline = value
        self.statusBar().showMessage(
            f"Accuracy {record.result.accuracy * 100:.2f}% for {record.config.describe()}.", 8000)

    def _show_error(self, exc: BaseException, doing: str, context: str = "") -> None:
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

    def show_shortcuts(self) -> None:
        rows = [f"<tr><td>{a.text().replace('&', '')}</td><td><b>"
                f"{', '.join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in a.shortcuts())}</b></td></tr>"
                for a in self.actions() if a.shortcuts()]
        rows.append("<tr><td>k slider (when focused)</td><td><b>arrows: 1%, Page Up/Down: 10%</b></td></tr>")
        rows.append("<tr><td>Heatmap</td><td><b>wheel: zoom, drag: pan</b></td></tr>")
        QMessageBox.information(self, "Keyboard shortcuts", "<table>" + "".join(rows) + "</table>")

    def show_about(self) -> None:
        from prune_viz import __version__

        QMessageBox.about(self, "About prune-viz",
                          f"<b>prune-viz {__version__}</b><br>A desktop lab for neural-network pruning: "
                          "live weight heatmaps, weight and unit pruning, MNIST accuracy on demand.")

    def restore_view(self) -> None:
        """Presenter mode and high contrast as the user last left them."""
        if self.settings.value(CONTRAST_KEY, False, type=bool):
            self.set_colormap(HIGH_CONTRAST)
        if self.settings.value(PRESENTER_KEY, False, type=bool):
            self.set_presenter_mode(True)

    def restore_layout(self) -> bool:
        """Put the window and docks where the user last left them; False if nothing was saved."""
        geometry, state = self.settings.value(GEOMETRY_KEY), self.settings.value(STATE_KEY)
        if geometry is None or state is None:
            return False
        return bool(self.restoreGeometry(geometry)) and bool(self.restoreState(state, LAYOUT_VERSION))

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
        if self.enlarged is not None:
            self.enlarged.close()
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
