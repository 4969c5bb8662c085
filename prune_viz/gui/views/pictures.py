"""The "pictures" of the app: weight histogram, unit tiles, accuracy plot, evaluation details.

Each widget lives in its own module (histogram, tiles, accuracy_plot,
confusion); this one holds the look they share (fonts, axes, legends and captions in a style that
survives a classroom projector; the colours are in colours.py).
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt

from prune_viz.gui.views.colours import (
    BACKGROUND,
    LIGHT,
    NON_FINITE,
    NON_FINITE_NAME,
    PRUNED,
    PRUNED_NAME,
    SERIES_STYLE,
    Theme,
)

READABLE_POINTS = 18.0  # presenter mode: no text below this, so it reads from the back of a room

STALE_OPACITY = 0.3

DEFAULT_POINT_SIZE = 10.0
LABEL_SCALE = 1.1  # axis titles a little larger than tick numbers
SMALL_SCALE = 0.85  # numbers written inside a picture (bar values, confusion counts)


def series_name(method: str, scope: str) -> str:
    return f"{method}, {'layerwise' if scope == 'layer' else 'global'}"  # short: legends sit under the plot


def series_pen(method: str, scope: str, width: float = 2.0) -> QtGui.QPen:
    colour, _marker, dash = SERIES_STYLE[(method, scope)]
    pen = pg.mkPen(colour, width=width)
    if dash == "dash":
        pen.setDashPattern([4, 3])
    return pen


def point_size(widget: QtWidgets.QWidget) -> float:
    """The widget's font size in points; pyqtgraph items do not inherit Qt fonts, so the
    widgets pass this on (and redo it on a FontChange, e.g. the main window's presenter mode)."""
    size = widget.font().pointSizeF()
    return size if size > 0 else DEFAULT_POINT_SIZE


def small_points(points: float) -> float:
    """Numbers written inside a picture: a little smaller than the text, except in presenter mode,
    where nothing goes below READABLE_POINTS."""
    return points if points >= READABLE_POINTS else points * SMALL_SCALE


def sized_font(points: float) -> QtGui.QFont:
    font = QtGui.QFont()
    font.setPointSizeF(points)
    return font


def is_font_change(event: QtCore.QEvent) -> bool:
    return event.type() == QtCore.QEvent.Type.FontChange


def style_plot(
    plot: pg.PlotItem, bottom: str, left: str, points: float = DEFAULT_POINT_SIZE, theme: Theme = LIGHT
) -> None:
    """Ticks and labels in the theme's colours, readable sizes, a faint grid, no mouse zoom surprises."""
    tick_font = sized_font(points)
    for side in ("left", "bottom"):
        axis = plot.getAxis(side)
        axis.setPen(pg.mkPen(theme.foreground, width=1))
        axis.setTextPen(pg.mkPen(theme.foreground))
        axis.setStyle(tickFont=tick_font, tickTextOffset=4)
    set_axis_labels(plot, bottom, left, points, theme)
    plot.showGrid(x=True, y=True, alpha=theme.grid_alpha)
    cache_axes(plot.getAxis("left"), plot.getAxis("bottom"))
    plot.setMenuEnabled(False)
    plot.hideButtons()
    if plot.legend is not None:
        style_legend(plot.legend, points, theme)


def cache_axes(*axes: pg.AxisItem) -> None:
    """Keep each axis (its ticks, labels and grid) and its title as pixmaps that Qt reuses until they
    change: a new curve or image under a grid would otherwise redraw every tick label on every repaint,
    and a render of the plot would lay its title's rich text out again."""
    for axis in axes:
        axis.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)
        axis.label.setCacheMode(QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)


LEGEND_TWO_COLUMNS_WIDTH = 640  # narrower plots list their legend in one column


def fit_legend_columns(legend: pg.LegendItem, width: int) -> None:
    """Two legend columns where they fit side by side, else one (called on resize)."""
    columns = 2 if width >= LEGEND_TWO_COLUMNS_WIDTH else 1
    if legend.columnCount != columns:
        legend.setColumnCount(columns)


def outside_legend(plot: pg.PlotItem, columns: int = 2) -> pg.LegendItem:
    """A legend under the x axis, outside the data, so it never hides a curve or a label; the plot
    lists its named items in it as they are added."""
    legend = pg.LegendItem(colCount=columns, frame=False)
    plot.layout.addItem(legend, 4, 1)
    plot.legend = legend
    return legend


def style_legend(legend: pg.LegendItem, points: float, theme: Theme = LIGHT) -> None:
    legend.setLabelTextColor(theme.foreground)
    legend.setLabelTextSize(f"{points:.1f}pt")  # for rows added later
    for _sample, label in legend.items:
        label.setText(label.text, size=f"{points:.1f}pt", color=theme.foreground)


def set_axis_labels(
    plot: pg.PlotItem, bottom: str, left: str, points: float = DEFAULT_POINT_SIZE, theme: Theme = LIGHT
) -> None:
    label_style = {"color": theme.foreground, "font-size": f"{points * LABEL_SCALE:.1f}pt"}
    # siPrefixEnableRanges=(): plain tick numbers, never rescaled to "50, 100 (x0.001)"
    plot.setLabel("bottom", bottom, siPrefixEnableRanges=(), **label_style)
    plot.setLabel("left", left, siPrefixEnableRanges=(), **label_style)


def new_plot_widget(parent: QtWidgets.QWidget | None = None) -> pg.PlotWidget:
    widget = pg.PlotWidget(parent=parent, background=BACKGROUND)
    widget.setMinimumSize(160, 140)  # docks in the main window can be narrow
    return widget


def swatch(colour, text: str) -> str:
    """A coloured square and its meaning, for the legends under the pictures."""
    colour = colour if isinstance(colour, str) else "#{:02x}{:02x}{:02x}".format(*colour)
    return f"<span style='color:{colour}; font-size:large'>■</span> {text}"


PRUNED_LEGEND = swatch(PRUNED, PRUNED_NAME)
NON_FINITE_LEGEND = swatch(NON_FINITE, NON_FINITE_NAME)  # beside PRUNED_LEGEND when a model has such weights


def caption_label(parent: QtWidgets.QWidget | None = None) -> QtWidgets.QLabel:
    """A wrapped one- or two-line caption above a picture."""
    label = QtWidgets.QLabel(parent)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    return label


class SteadyCaption(QtWidgets.QTextEdit):
    """Wrapped rich text that a k step rewrites (a readout, the summary under a picture), selectable
    like a label. Each new text of a QLabel runs every layout up to the window again, which costs
    more than painting the text; this one repaints itself only, and asks for a new layout only when
    it needs more lines than it has. So its height only grows while what it describes stays the same
    (a shorter text would otherwise hand a line back to the picture, drawn again from scratch); text
    about something else (``about``: another layer or setting), a new width or font start afresh.
    ``reserve_lines`` keeps room for a number of lines whatever the text says. ``on_window``: it sits
    right on the window's background (not on a tab's pane), which it then paints itself."""

    def __init__(self, parent: QtWidgets.QWidget | None = None, on_window: bool = False):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Preferred, QtWidgets.QSizePolicy.Policy.Fixed)
        # painted here, a new text repaints this widget alone, not the panels under it
        self.viewport().setBackgroundRole(QtGui.QPalette.ColorRole.Window)
        self.viewport().setAutoFillBackground(on_window)
        self.document().setDocumentMargin(0)
        self._follow_palette()
        self._text = ""
        self._about = None
        self._reserved_lines: tuple[int, str] = (0, "")  # how many, and the first line's text
        self._reserved_height_for: tuple[str, int] | None = None  # (font, height) of the reserved lines
        self.setFixedHeight(0)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:
        self.show_text(text, self._about[0] if self._about is not None else None)

    def show_text(self, text: str, about=None) -> None:
        key = (about, self.width(), self.font().key())
        afresh = key != self._about or not self.isVisible()  # a hidden widget's width is not its own yet
        self._about = key
        if text != self._text:
            self._text = text
            self.setHtml(text)
        self._fit(afresh)

    def reserve_lines(self, lines: int, first_line: str = "") -> None:
        """Keep room for ``lines`` lines whatever the text says, the first as tall as the rich text
        ``first_line`` (a legend's larger swatches)."""
        self._reserved_lines = (lines, first_line)
        self._reserved_height_for = None
        self._fit(afresh=True)

    def heightForWidth(self, width: int) -> int:
        """The height the text and the reserved lines need at ``width``."""
        document = self.document()
        if width != round(document.textWidth()):
            document = document.clone()  # unparented: dropped with this call, not kept by the widget
            document.setTextWidth(width)
        return max(self._reserved_height(), math.ceil(document.size().height()))

    def _reserved_height(self) -> int:
        font = self.font().key()
        if self._reserved_height_for is None or self._reserved_height_for[0] != font:
            lines, first_line = self._reserved_lines
            lines_document = QtGui.QTextDocument()
            lines_document.setDocumentMargin(0)
            lines_document.setDefaultFont(self.font())
            lines_document.setHtml("<br>".join([first_line or "&nbsp;"] + ["&nbsp;"] * (lines - 1)))
            self._reserved_height_for = (font, math.ceil(lines_document.size().height()) if lines else 0)
        return self._reserved_height_for[1]

    def _fit(self, afresh: bool) -> None:
        needed = self.heightForWidth(self.viewport().width())
        if needed > self.height() or (afresh and needed != self.height()):
            self.setFixedHeight(needed)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self._about = None
            self._fit(afresh=True)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QtCore.QEvent.Type.PaletteChange:
            self._follow_palette()
        elif is_font_change(event):
            self._about = None
            self._fit(afresh=True)

    def _follow_palette(self) -> None:
        """Text in the window's text colour, as a label's (an editor's would be the Text role)."""
        palette = self.palette()
        colour = palette.color(QtGui.QPalette.ColorRole.WindowText)
        if palette.color(QtGui.QPalette.ColorRole.Text) != colour:
            palette.setColor(QtGui.QPalette.ColorRole.Text, colour)
            self.setPalette(palette)


class WhenVisible(QtCore.QObject):
    """Runs ``redraw`` on ``request()`` only while ``widget`` is shown (or its window is not, as in a
    test or an off-screen render); a request made while it is hidden (a tab behind another, a closed
    dock) runs once it is shown, before it is painted, so it never shows an old state."""

    def __init__(self, widget: QtWidgets.QWidget, redraw):
        super().__init__(widget)
        self.widget = widget
        self.redraw = redraw
        self.behind = False  # a request is waiting for the widget to be shown

    def request(self, *_args) -> None:
        if self.widget.isVisible() or not self.widget.window().isVisible():
            self._stop_waiting()
            self.redraw()
        elif not self.behind:
            self.behind = True
            # watched only while a request waits: a filter is a Python call for each of its events
            self.widget.installEventFilter(self)

    def _stop_waiting(self) -> None:
        if self.behind:
            self.behind = False
            self.widget.removeEventFilter(self)

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QtCore.QEvent.Type.Show and self.behind:
            self._stop_waiting()
            self.redraw()
        return False


def least_height(widget: QtWidgets.QWidget) -> int:
    """The least height at which ``widget`` shows all it holds at the widths its parts have now: every
    wrapped text whole (its height for its width), the other parts at their minimum. Qt's own minimum
    takes a wrapped label at a guessed width, and its height for a width takes every part at its
    preferred height."""
    least = smart_minimum_height(widget)
    if isinstance(widget, QtWidgets.QLabel):
        if widget.wordWrap() and widget.width() > 0:
            least = max(least, widget.heightForWidth(widget.width()))
    elif isinstance(widget, QtWidgets.QTabWidget):
        page = widget.currentWidget()
        if page is not None:
            least = max(least, widget.tabBar().sizeHint().height() + least_height(page) + 4)
    elif isinstance(widget, QtWidgets.QStackedWidget):
        if widget.currentWidget() is not None:
            least = max(least, least_height(widget.currentWidget()))
    elif isinstance(widget, QtWidgets.QSplitter):
        shown = [least_height(child) for child in map(widget.widget, range(widget.count())) if not child.isHidden()]
        if shown and widget.orientation() == Qt.Orientation.Horizontal:
            least = max(least, *shown)
    elif not isinstance(widget, QtWidgets.QAbstractScrollArea) and widget.layout() is not None:
        frame = widget.contentsMargins()  # a group box's title, a frame's line
        least = max(least, _layout_least_height(widget.layout()) + frame.top() + frame.bottom())
    return least if widget.maximumHeight() >= least else widget.maximumHeight()


def needed_height(widget: QtWidgets.QWidget, width: int) -> int:
    """The least height ``widget`` needs at ``width``: its own answer if it has one (``least_height``, e.g.
    the sweep's, with a usable plot), else ``least_height``'s measure at the widths its parts have."""
    own = getattr(widget, "least_height", None)
    return own(width) if callable(own) else least_height(widget)


def smart_minimum_height(widget: QtWidgets.QWidget) -> int:
    """The minimum height a layout gives ``widget``: the one set on it, else its hint (none if ignored)."""
    if widget.minimumHeight() > 0:
        return widget.minimumHeight()
    if widget.sizePolicy().verticalPolicy() == QtWidgets.QSizePolicy.Policy.Ignored:
        return 0
    return max(widget.minimumSizeHint().height(), 0)


def _layout_least_height(layout: QtWidgets.QLayout) -> int:
    margins = layout.contentsMargins()
    heights, spacers = [], 0
    for item in (layout.itemAt(i) for i in range(layout.count())):
        if item.widget() is not None:
            if not item.widget().isHidden():
                heights.append(least_height(item.widget()))
        elif item.layout() is not None:
            heights.append(_layout_least_height(item.layout()))
        elif item.spacerItem() is not None:
            spacers += item.spacerItem().minimumSize().height()
    if not heights:
        return margins.top() + margins.bottom()
    vertical = isinstance(layout, QtWidgets.QBoxLayout) and layout.direction() in (
        QtWidgets.QBoxLayout.Direction.TopToBottom,
        QtWidgets.QBoxLayout.Direction.BottomToTop,
    )
    if vertical:
        inner = sum(heights) + max(layout.spacing(), 0) * (len(heights) - 1) + spacers
    elif isinstance(layout, QtWidgets.QBoxLayout):
        inner = max(heights)
    else:  # a grid or a form: Qt's own minimum
        inner = layout.minimumSize().height() - margins.top() - margins.bottom()
    return inner + margins.top() + margins.bottom()


class FittingScroll(QtWidgets.QScrollArea):
    """A scroll area whose widget is as large as its viewport or, if it needs more, its least size at the
    viewport's width (wrapped text whole), and which scrolls only then. (A resizable QScrollArea gives a
    widget with wrapped text its *preferred* height for the width, and scrolls when it could have shrunk.)
    ``refitted`` says the widget's size changed (e.g. a longer text needs more height)."""

    refitted = QtCore.Signal()

    def __init__(self, widget: QtWidgets.QWidget, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.setWidgetResizable(False)
        self.setWidget(widget)
        widget.installEventFilter(self)  # its layout requests: a new text may need another height
        self._queued = False

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QtCore.QEvent.Type.LayoutRequest and obj is self.widget() and not self._queued:
            self._queued = True
            QtCore.QTimer.singleShot(0, self, self._fit_queued)  # once its layout has been done
        return False

    def _fit_queued(self) -> None:
        self._queued = False
        self.fit()

    def fit(self) -> None:
        widget = self.widget()
        if widget is None:
            return
        viewport = self.maximumViewportSize()  # without scroll bars
        least_width = widget.minimumSizeHint().width()
        width = max(viewport.width(), least_width)
        if width > viewport.width():  # a horizontal scroll bar takes some of the height
            viewport.setHeight(viewport.height() - self.horizontalScrollBar().sizeHint().height())
        height = max(viewport.height(), needed_height(widget, width))
        if height > viewport.height():  # and a vertical one some of the width
            width = max(viewport.width() - self.verticalScrollBar().sizeHint().width(), least_width)
        if widget.size() != QtCore.QSize(width, height):
            widget.resize(width, height)
            self.refitted.emit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.fit()
