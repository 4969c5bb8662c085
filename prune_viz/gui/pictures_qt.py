"""The "pictures" of the app: weight histogram, unit tiles, accuracy plot, evaluation details.

Each widget lives in its own module (histogram_qt, tiles_qt, accuracy_plot_qt,
confusion_qt); this one holds the look they share (a light, high-contrast style that
survives a classroom projector, a colour-blind-safe palette) and the session-binding helper.
"""

from __future__ import annotations

import weakref

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets
from PySide6.QtCore import Qt

# -- palette (Okabe-Ito: distinguishable with the common colour-vision deficiencies) ------------
BACKGROUND = "#ffffff"
FOREGROUND = "#1a1a1a"
GRID_ALPHA = 0.25
KEPT = "#0072B2"  # blue: weights or units that stay
PRUNED = "#D55E00"  # vermillion: weights or units that are zeroed
THRESHOLD = "#000000"
MUTED = "#8c8c8c"  # stale results, baselines, chance level

SERIES_STYLE = {  # (method, scope) -> colour, marker, line style
    ("weight", "layer"): ("#0072B2", "o", "solid"),
    ("weight", "global"): ("#56B4E9", "s", "dash"),
    ("unit", "layer"): ("#D55E00", "t", "solid"),
    ("unit", "global"): ("#E69F00", "d", "dash"),
}

STALE_OPACITY = 0.3

DEFAULT_POINT_SIZE = 10.0
LABEL_SCALE = 1.1  # axis titles a little larger than tick numbers
SMALL_SCALE = 0.85  # numbers written inside a picture (bar values, confusion counts)


def series_name(method: str, scope: str) -> str:
    return f"{method} pruning, {'layerwise' if scope == 'layer' else 'global'}"


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


def sized_font(points: float) -> QtGui.QFont:
    font = QtGui.QFont()
    font.setPointSizeF(points)
    return font


def is_font_change(event: QtCore.QEvent) -> bool:
    return event.type() == QtCore.QEvent.Type.FontChange


def style_plot(plot: pg.PlotItem, bottom: str, left: str, points: float = DEFAULT_POINT_SIZE) -> None:
    """Dark ticks and labels on white, readable sizes, a faint grid, no mouse zoom surprises."""
    tick_font = sized_font(points)
    for side in ("left", "bottom"):
        axis = plot.getAxis(side)
        axis.setPen(pg.mkPen(FOREGROUND, width=1))
        axis.setTextPen(pg.mkPen(FOREGROUND))
        axis.setStyle(tickFont=tick_font, tickTextOffset=4)
    set_axis_labels(plot, bottom, left, points)
    plot.showGrid(x=True, y=True, alpha=GRID_ALPHA)
    plot.setMenuEnabled(False)
    plot.hideButtons()


def set_axis_labels(plot: pg.PlotItem, bottom: str, left: str, points: float = DEFAULT_POINT_SIZE) -> None:
    label_style = {"color": FOREGROUND, "font-size": f"{points * LABEL_SCALE:.1f}pt"}
    # siPrefixEnableRanges=(): plain tick numbers, never rescaled to "50, 100 (x0.001)"
    plot.setLabel("bottom", bottom, siPrefixEnableRanges=(), **label_style)
    plot.setLabel("left", left, siPrefixEnableRanges=(), **label_style)


def new_plot_widget(parent: QtWidgets.QWidget | None = None) -> pg.PlotWidget:
    widget = pg.PlotWidget(parent=parent, background=BACKGROUND)
    widget.setMinimumSize(160, 140)  # docks in the main window can be narrow
    return widget


def caption_label(parent: QtWidgets.QWidget | None = None) -> QtWidgets.QLabel:
    """A wrapped one- or two-line caption above a picture."""
    label = QtWidgets.QLabel(parent)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    return label


def bind(widget: QtWidgets.QWidget, signal, slot) -> None:
    """Connect a psygnal ``signal`` to ``slot`` for as long as the Qt ``widget`` lives.

    psygnal keeps only weak references to bound methods, but a Qt widget's C++ side can be
    destroyed while its Python wrapper survives; disconnecting on ``destroyed`` keeps a late
    emit from touching a deleted widget. The disconnecting closure holds the slot weakly, so
    it does not keep an unparented widget alive either.
    """
    signal.connect(slot)
    method = weakref.WeakMethod(slot)

    def disconnect(*_args) -> None:
        alive = method()
        if alive is not None:
            signal.disconnect(alive, missing_ok=True)

    widget.destroyed.connect(disconnect)
