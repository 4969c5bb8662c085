"""The Experiments dock (sweep, sensitivity, size and speed, fine-tune, compare: one tab each), its menu,
and File > Export pruned model; ``install_experiments`` adds them to a MainWindow."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMessageBox,
    QTabWidget,
    QWidget,
)

from prune_viz.gui.experiments.compare import ComparePanel
from prune_viz.gui.experiments.export import PrunedModelExporter
from prune_viz.gui.experiments.finetune import FinetunePanel
from prune_viz.gui.experiments.size_speed import SizeSpeedPanel
from prune_viz.gui.experiments.sweep import SensitivityPanel, SweepPanel
from prune_viz.gui.features import Action, Dock, Menu
from prune_viz.gui.views.pictures import FittingScroll, needed_height
from prune_viz.gui.workers import JobQueue

K_KEYS = {  # keys no widget of a page used: they move k, as on the slider
    Qt.Key.Key_Right: 1,
    Qt.Key.Key_Left: -1,
    Qt.Key.Key_PageUp: 10,
    Qt.Key.Key_PageDown: -10,
}
LENT_TEXT = "Shown enlarged in its own window (Esc there brings it back here)."


class PageScroll(FittingScroll):
    """One experiment page in its scroll area (FittingScroll: it scrolls only when it must). The arrows
    and Page Up/Down that the page does not use go on to the dock (they move k), not to scrolling
    sideways."""

    def __init__(self, page: QWidget, parent: QWidget | None = None):
        super().__init__(page, parent)
        self.page = page  # its page, also while it is lent out (shown enlarged)

    def keyPressEvent(self, event) -> None:
        if event.key() in K_KEYS and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            event.ignore()  # on to the dock
            return
        super().keyPressEvent(event)


class ExperimentsDock(QDockWidget):
    """The Experiments dock. The arrows and Page Up/Down that reach it (no widget of a page used them)
    move k, docked or in its own window (``k_step``); floated, it opens at a sensible size beside the
    k slider rather than over it."""

    k_step = Signal(int)

    def __init__(self, window: QWidget):
        super().__init__("Experiments", window)
        self.main_window = window
        self.topLevelChanged.connect(self._on_floating)

    def keyPressEvent(self, event) -> None:
        step = K_KEYS.get(event.key())
        if step is not None and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            self.k_step.emit(step)
            event.accept()
            return
        super().keyPressEvent(event)

    def _on_floating(self, floating: bool) -> None:
        if floating:
            QTimer.singleShot(0, self, self.place_floating)  # after Qt has made it a window of its own

    def place_floating(self) -> None:
        """A separate window at a sensible size (at least what its page needs), beside the k slider."""
        if self.isFloating() and isinstance(self.widget(), ExperimentsPanel):
            place_window(self.main_window, self, self.widget())


class ExperimentsPanel(QTabWidget):
    """Sweep, sensitivity, size and speed, fine-tune, compare: one tab each."""

    def __init__(self, session, jobs: JobQueue, parent: QWidget | None = None):
        super().__init__(parent)
        self.sweep = SweepPanel(session, jobs)
        self.sensitivity = SensitivityPanel(session, jobs)
        self.size_speed = SizeSpeedPanel(session, jobs)
        self.finetune = FinetunePanel(session, jobs)
        self.addTab(self.sweep, "Sweep")
        self.addTab(self.sensitivity, "Per-layer sensitivity")
        self.addTab(self.size_speed, "Size and speed")
        self.compare = ComparePanel(session, jobs)
        self.addTab(self.finetune, "Fine-tune")
        self.addTab(self.compare, "Compare")
        self.exporter: PrunedModelExporter | None = None  # File > Export's, once installed in a window

    def addTab(self, page: QWidget, title: str) -> int:
        """Each page in its own scroll area: a wide page (the comparison's three heatmaps) scrolls
        sideways in a narrow dock instead of widening every tab and squeezing the heatmap."""
        return super().addTab(PageScroll(page), title)

    def currentWidget(self) -> QWidget | None:
        """The current page itself (not the scroll area holding it; its placeholder while it is lent)."""
        scroll = super().currentWidget()
        return scroll.widget() if isinstance(scroll, PageScroll) else scroll

    def setCurrentWidget(self, page: QWidget) -> None:
        scroll = self.scroll_of(page)
        if scroll is not None:
            self.setCurrentIndex(self.indexOf(scroll))

    def scroll_of(self, page: QWidget) -> PageScroll | None:
        for i in range(self.count()):
            scroll = self.widget(i)
            if isinstance(scroll, PageScroll) and scroll.page is page:
                return scroll
        return None

    def lend(self, page: QWidget) -> None:
        """Take ``page`` out of its tab (to be shown enlarged); its tab says where it is until ``take_back``."""
        scroll = self.scroll_of(page)
        if scroll is not None and scroll.widget() is page:
            scroll.takeWidget()
            scroll.setWidget(QLabel(LENT_TEXT))

    def take_back(self, page: QWidget) -> None:
        """Put a lent ``page`` back in its tab."""
        scroll = self.scroll_of(page)
        if scroll is not None and scroll.widget() is not page:
            placeholder = scroll.takeWidget()
            if placeholder is not None:
                placeholder.deleteLater()
            scroll.setWidget(page)
            page.show()

    def unsaved_results(self) -> list[str]:
        """Results computed here and not saved anywhere, which closing or another model would lose."""
        return [
            what
            for what in (self.sweep.unsaved_result(), self.sensitivity.unsaved_result(), self.finetune.unsaved_result())
            if what
        ]


FLOAT_SHARE = 0.62  # a separate window made for a page: at least this share of the main window's size


def make_room(window, dock: QDockWidget, panel: ExperimentsPanel, may_float: bool = True) -> None:
    """Room for the page shown, if it says what it needs (``least_height``: the sweep's, with a usable plot).
    Docked, the panel grows to the page's least height, taking it from the heatmap above it; when the
    window has not that height to give (1280x720), the panel opens as a window of its own, large enough,
    over the heatmap and as clear of the k slider's panel as it can be (unless ``may_float`` is False: the
    page grew while shown, and a panel does not leave its place by itself). A panel the user docked again
    (Experiments in a separate window, twice) stays docked and scrolls."""
    page = panel.currentWidget()
    if not hasattr(page, "least_height") or dock.isHidden():
        return
    window.layout().activate()  # the dock just shown has its place
    # what the dock takes around the page (its title, the tabs, frames): the page's viewport is the rest
    viewport = page.parentWidget() if page.parentWidget() is not None else page
    around = QSize(max(0, dock.width() - viewport.width()), max(0, dock.height() - viewport.height()))
    if not dock.isFloating():
        needed = page.least_height(viewport.width()) + around.height()
        if dock.height() >= needed:
            return
        centre = window.centralWidget()
        spare = centre.height() - centre.minimumSizeHint().height()  # what the heatmap can give
        if dock.height() + spare >= needed or not may_float or getattr(dock, "kept_docked", False):
            window.resizeDocks([dock], [needed], Qt.Orientation.Vertical)
            return
        dock.setFloating(True)
    place_window(window, dock, panel)


def place_window(window, dock: QDockWidget, panel: ExperimentsPanel) -> None:
    """The floating panel large enough for its page (as wide as it likes, as tall as it needs there, at
    least FLOAT_SHARE of the main window), over the heatmap and as clear of the k slider's panel as it
    can be."""
    page = panel.currentWidget()
    if page is None:
        return
    viewport = page.parentWidget() if page.parentWidget() is not None else page
    around = QSize(max(0, dock.width() - viewport.width()), max(0, dock.height() - viewport.height()))
    outer = window.frameGeometry()
    side = getattr(window, "side_scroll", None)  # the k slider's panel: left clear when the page fits beside it
    right = side.mapToGlobal(QPoint(0, 0)).x() if side is not None and side.isVisible() else outer.right()
    room = right - outer.left() - 12
    wide = page.wide_width() if hasattr(page, "wide_width") else page.minimumSizeHint().width()
    width = max(wide + around.width(), min(int(outer.width() * FLOAT_SHARE), room))
    height = max(needed_height(page, width - around.width()) + around.height(), int(outer.height() * FLOAT_SHARE))
    screen = (window.screen() or dock.screen()).availableGeometry()
    width, height = min(width, screen.width()), min(height, screen.height())
    left = max(screen.left(), min(outer.left() + 12, right - width))
    top = max(screen.top(), min(outer.bottom() - height - 12, screen.bottom() - height))
    dock.setGeometry(QRect(left, top, width, height))


def install_experiments(window) -> ExperimentsPanel:
    """Add the Experiments dock and menu, and File > Export, to a MainWindow through its feature
    registry; returns the panel."""
    features = window.features
    panel = ExperimentsPanel(window.session, window.jobs, window)
    dock = ExperimentsDock(window)
    dock.setObjectName("experiments")
    dock.setWidget(panel)
    # under the heatmaps, so the k slider stays in reach; the heatmap's minimum height keeps it readable,
    # and Experiments > Experiments in a separate window floats the panel instead
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    dock.hide()  # until the user asks for an experiment
    features.docks[Dock.EXPERIMENTS] = dock

    def show_tab(widget: QWidget) -> None:
        """Show an experiment's tab, with room for it; it starts only when its Run button is pressed."""
        dock.show()
        dock.raise_()
        panel.setCurrentWidget(widget)
        make_room(window, dock, panel)

    features.add_menu(Menu.EXPERIMENTS, "E&xperiments", before=Menu.HELP)  # Help stays last
    entries = (
        (
            "Run &sweep",
            panel.sweep,
            "Ctrl+R",
            "The score (accuracy, R², agreement) vs sparsity for every (method, k), plotted live",
            Action.SWEEP,
        ),
        ("Per-layer s&ensitivity", panel.sensitivity, "Ctrl+Shift+R", "Prune one layer at a time across k", None),
        ("Si&ze and speed", panel.size_speed, "Ctrl+M", "File sizes and test-set latency of the current pruning", None),
        ("&Fine-tune...", panel.finetune, "Ctrl+T", "Retrain the surviving weights with the masks fixed", None),
        (
            "&Compare...",
            panel.compare,
            "Ctrl+Shift+C",
            "The current pruning side by side with another setting or another checkpoint",
            Action.COMPARE,
        ),
    )
    for text, page, shortcut, tip, key in entries:
        features.add_action(Menu.EXPERIMENTS, text, lambda _=False, p=page: show_tab(p), shortcut, tip, key)
    menu = features.menus[Menu.EXPERIMENTS]
    separator = menu.addSeparator()
    toggle = dock.toggleViewAction()
    toggle.setText("Show the experiments &panel")
    menu.addAction(toggle)

    def toggle_window() -> None:
        dock.show()
        dock.setFloating(not dock.isFloating())
        dock.kept_docked = not dock.isFloating()  # docked by the user: make_room keeps it docked

    features.add_action(
        Menu.EXPERIMENTS,
        "Experiments in a separate &window",
        toggle_window,
        tip="Float the experiments panel as its own window (again: back beside the heatmap)",
        key=Action.EXPERIMENTS_WINDOW,
    )
    features.entries_before[Menu.EXPERIMENTS] = separator  # other features' entries (the lab's) go above it

    exporter = PrunedModelExporter(window.session, window.jobs, window)
    panel.exporter = exporter
    exporter.message.connect(lambda text: window.statusBar().showMessage(text, 10000))
    export = features.add_action(
        Menu.FILE,
        "&Export pruned model...",
        lambda: exporter.choose_and_export(compact=False),
        "Ctrl+Shift+X",
        "Write the current pruning as a .keras file, pruned weights stored as zeros",
        key=Action.EXPORT,
    )
    compact = features.add_action(
        Menu.FILE,
        "Export &compacted model (unit pruning)...",
        lambda: exporter.choose_and_export(compact=True),
        tip="Write a smaller .keras file with the pruned units removed",
        key=Action.EXPORT_COMPACT,
    )
    features.add_separator(Menu.FILE)
    features.menus[Menu.FILE].setToolTipsVisible(True)  # a disabled export says why
    exporter.set_actions(export, compact)

    def offer_to_open(result) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Information,
            "prune-viz",
            f"Exported {result.path}.",
            QMessageBox.StandardButton.Close,
            window,
        )
        open_button = box.addButton("Open in prune-viz", QMessageBox.ButtonRole.AcceptRole)
        open_button.clicked.connect(lambda: window.open_path_asking(result.path))
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()

    exporter.exported.connect(offer_to_open)
    panel.finetune.open_requested.connect(window.open_path_asking)

    for page in (panel.sweep, panel.sensitivity):  # a page that needs more room (the LAMP note shown) gets it
        page.needs_changed.connect(
            lambda p=page: panel.currentWidget() is p and make_room(window, dock, panel, may_float=False)
        )

    panel.sweep.point_added.connect(window.accuracy_plot.add_point)
    panel.sweep.cleared.connect(window.accuracy_plot.clear_sweep)
    return panel
