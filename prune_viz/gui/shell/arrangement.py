"""How the main window is arranged: the docks' sizes, presenter mode (large text, a layout for a
projector), high contrast, full screen, one picture enlarged, and the layout remembered between runs.
``WindowArrangement`` is mixed into MainWindow, whose parts it arranges."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QApplication,
    QDialog,
    QFrame,
    QScrollArea,
    QTabBar,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from prune_viz.gui.features import Dock
from prune_viz.gui.views.accuracy_plot import AccuracySparsityPlot
from prune_viz.gui.views.colours import HIGH_CONTRAST
from prune_viz.gui.views.confusion import EvaluationDetails
from prune_viz.gui.views.heatmap import LayerHeatmaps
from prune_viz.gui.views.histogram import WeightHistogram
from prune_viz.gui.views.pictures import READABLE_POINTS
from prune_viz.gui.views.tiles import UnitTileGrid

APP_NAME = "prune-viz"
PRESENTER_POINTS = READABLE_POINTS  # every text in presenter mode, menus and dialogs included
DEFAULT_SIZE = (1600, 1000)
MAX_SIDE_WIDTH = 640
# presenter mode: the side panel's width (at least enough for 18 pt, else a share of the window) and the
# layer column's share; the heatmap keeps the rest, so it stays the largest picture
PRESENTER_SIDE_MIN, PRESENTER_SIDE_SHARE, PRESENTER_LEFT_SHARE = 470, 0.30, 0.22
PRESENTER_THREE_COLUMNS = 1600  # narrower windows hide the layer docks in presenter mode (View menu)
RESULT_MIN_HEIGHT, PRESENTER_RESULT_MIN_HEIGHT = 380, 190  # the per-digit chart's tab
HEATMAP_MIN_SIZE = (360, 240)  # the matrix view: no dock or panel squeezes it below this
# presenter mode: room for a lesson's bar above the heatmap at 1280x720 (the window's minimum allows it)
PRESENTER_HEATMAP_MIN_HEIGHT = 120
GEOMETRY_KEY = "window/geometry"
STATE_KEY = "window/state"
PRESENTER_KEY = "view/presenter"
CONTRAST_KEY = "view/high_contrast"
LAYOUT_VERSION = 2  # bump when the docks change, so an old saved layout is ignored
# the lab's pages (name in View > Enlarge -> the Lab's page), lent to the enlarged window
LAB_PAGES = {
    "Draw a digit": "draw",
    "Which images break first": "flips",
    "Filters": "filters",
    "Activations": "activations",
    "Spectrum": "spectrum",
}
INSIDE_PAGES = ("Filters", "Activations", "Spectrum")  # as tall as the model is deep: they scroll when enlarged
ENLARGEABLE = (
    "Heatmap",
    "Per-class accuracy",
    "Confusion matrix",
    "Accuracy vs sparsity",
    "Weight histogram",
    "Unit tiles",
    *LAB_PAGES,
)
# View > Enlarge's shortcuts, in ENLARGEABLE's order: the first eight by number, the look inside by initial
ENLARGE_KEYS = (*(f"Ctrl+Alt+{i}" for i in range(1, 9)), "Ctrl+Alt+F", "Ctrl+Alt+A", "Ctrl+Alt+S")


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
    for role, colour in (
        (QPalette.ColorRole.Window, black),
        (QPalette.ColorRole.WindowText, white),
        (QPalette.ColorRole.Base, black),
        (QPalette.ColorRole.AlternateBase, grey),
        (QPalette.ColorRole.Text, white),
        (QPalette.ColorRole.Button, grey),
        (QPalette.ColorRole.ButtonText, white),
        (QPalette.ColorRole.ToolTipBase, black),
        (QPalette.ColorRole.ToolTipText, white),
        (QPalette.ColorRole.Highlight, QColor("#ffd200")),
        (QPalette.ColorRole.HighlightedText, black),
        (QPalette.ColorRole.PlaceholderText, grey),
    ):
        palette.setColor(role, colour)
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#9a9a9a"))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, QColor("#9a9a9a"))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#9a9a9a"))
    return palette


class WindowArrangement:
    """MainWindow's sizes, modes and enlarged pictures (a mixin: the window holds the parts)."""

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
            self.resizeDocks(
                [self.docks["layers"], self.docks["prune"]], [left_width, side_width], Qt.Orientation.Horizontal
            )
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
        width, height = HEATMAP_MIN_SIZE
        self.heatmaps.view.canvas.setMinimumSize(width, PRESENTER_HEATMAP_MIN_HEIGHT if presenter else height)
        self.lessons.bar.set_compact(presenter)
        self.controls.set_compact(presenter)
        self.evaluation.set_compact(presenter)
        self.details.set_parts(bars=True, confusion=not presenter, captions=not presenter)
        self.result_tabs.setMinimumHeight(PRESENTER_RESULT_MIN_HEIGHT if presenter else RESULT_MIN_HEIGHT)
        self.fit_title_bars()
        self._fit_docks()
        self.lab_drawer.fit()

    def fit_title_bars(self, *_args) -> None:
        """Presenter mode: docked panels without their title bars (small type, and height a 720-pixel
        projector needs; the View and Experiments menus show and hide them). A floating panel keeps its
        title bar: it is how its window is moved and closed."""
        for dock in (*self.docks.values(), self.features.docks[Dock.EXPERIMENTS]):
            bare = self.presenter and not dock.isFloating()
            if bare != (dock.titleBarWidget() is not None):
                dock.setTitleBarWidget(QWidget() if bare else None)

    def set_full_screen(self, on: bool) -> None:
        self.fullscreen_action.setChecked(on)
        self.showFullScreen() if on else self.showNormal()

    def show_enlarged(self, what: str) -> QDialog:
        """One picture alone in a window as large as this one, bound to the same session (Esc closes).
        A lab page (the pad, the flip gallery, the filters, activations and spectrum) is the panel itself,
        lent by its tab until the window closes: the same drawing, scan, chosen input, cache and jobs."""
        if self.enlarged is not None:
            self.enlarged.close()
        lent = scroll = None
        if what in LAB_PAGES:
            widget = lent = self.lab.page(LAB_PAGES[what])
            self.experiments.lend(lent)
        elif what == "Heatmap":
            widget = LayerHeatmaps(self.session)
            widget.set_colormap(self.heatmaps.spec)
            widget.set_layer(self.heatmaps.selected)
        elif what in ("Per-class accuracy", "Confusion matrix"):
            widget = EvaluationDetails(self.session)
            # alone, the axis titles say what rows and columns are: all the height goes to the cells
            widget.set_parts(
                bars=what == "Per-class accuracy",
                confusion=what == "Confusion matrix",
                captions=what == "Per-class accuracy",
            )
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
        if hasattr(widget, "set_theme") and lent is None:
            widget.set_theme(self.heatmaps.spec.theme)
        widget.setObjectName("enlarged")
        dialog = QDialog(self)
        dialog.setWindowTitle(f"{what} - {APP_NAME}")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.setPalette(self.palette())
        dialog.setFont(self.font())
        layout = QVBoxLayout(dialog)
        layout.setContentsMargins(4, 4, 4, 4)
        if what in INSIDE_PAGES:  # a deep model's rows go past the window: they scroll, the page keeps its width
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QFrame.Shape.NoFrame)
            scroll.setWidget(widget)
            layout.addWidget(scroll)
        else:
            layout.addWidget(widget)
        if isinstance(widget, LayerHeatmaps):
            widget.apply_font()
        dialog.setGeometry(self.geometry())
        dialog.destroyed.connect(lambda *_: setattr(self, "enlarged", None))
        if hasattr(widget, "set_enlarged"):  # its pictures as large as the window takes
            widget.set_enlarged(True)
        if lent is not None:  # back in its tab before the window, and what it holds, is deleted
            dialog.finished.connect(lambda _result: self._take_back(lent, scroll))
        self.enlarged = dialog
        dialog.showFullScreen() if self.isFullScreen() else dialog.show()
        return dialog

    def _take_back(self, lent: QWidget, scroll: QScrollArea | None) -> None:
        lent.setObjectName("")
        if hasattr(lent, "set_enlarged"):
            lent.set_enlarged(False)
        if scroll is not None:
            scroll.takeWidget()  # the dialog's scroll area lets go of it before it is deleted
        self.experiments.take_back(lent)

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
