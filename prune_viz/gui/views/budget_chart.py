"""A budget's pictures: the ks per layer as bars (the window's Allocate), and uniform against allocated
across targets as a PNG (``prune-viz budget --plot`` and the window's Save plot PNG)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import pyqtgraph as pg

from prune_viz.core.metric_words import score_scale
from prune_viz.gui.views.colours import LIGHT, Theme, qualitative_style
from prune_viz.gui.views.pictures import point_size, style_plot

ALLOCATED_COLOUR, UNIFORM_COLOUR = "#0072B2", "#D55E00"


def _layer_axis(plot, names: list[str]) -> None:
    plot.getAxis("bottom").setTicks([[(i, name) for i, name in enumerate(names)]])


class AllocationChart(pg.PlotWidget):
    """One bar per layer: its allocated k; a dashed line at the uniform k of the same overall sparsity."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.theme: Theme = LIGHT
        self.layer_k: dict[str, float] = {}
        self.uniform_k: float | None = None
        self.plot = self.getPlotItem()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.bars: pg.BarGraphItem | None = None
        self.uniform_line = pg.InfiniteLine(
            angle=0, pen=pg.mkPen(UNIFORM_COLOUR, width=2, style=pg.QtCore.Qt.PenStyle.DashLine)
        )
        self.uniform_line.setVisible(False)
        self.plot.addItem(self.uniform_line)
        self.labels: list[pg.TextItem] = []
        self._style()

    def _style(self, title: str = "") -> None:
        self.setBackground(self.theme.background)
        style_plot(self.plot, "layer", "own k (%)", point_size(self), self.theme)
        self.plot.setTitle(title or "Allocate: the ks per layer", color=self.theme.foreground)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.show_allocation(self.layer_k, self.uniform_k, self._title)

    _title = ""

    def show_allocation(self, layer_k: Mapping[str, float], uniform_k: float | None, title: str = "") -> None:
        self.layer_k, self.uniform_k, self._title = dict(layer_k), uniform_k, title
        if self.bars is not None:
            self.plot.removeItem(self.bars)
            self.bars = None
        for label in self.labels:
            self.plot.removeItem(label)
        self.labels = []
        names = list(self.layer_k)
        self._style(title)
        if names:
            self.bars = pg.BarGraphItem(
                x=list(range(len(names))),
                height=[self.layer_k[n] for n in names],
                width=0.6,
                brush=ALLOCATED_COLOUR,
                pen=pg.mkPen(self.theme.foreground, width=1),
            )
            self.plot.addItem(self.bars)
            for i, name in enumerate(names):
                label = pg.TextItem(f"{self.layer_k[name]:.1f}", color=self.theme.foreground, anchor=(0.5, 1.0))
                label.setPos(i, self.layer_k[name])
                self.plot.addItem(label)
                self.labels.append(label)
        _layer_axis(self.plot, names)
        self.uniform_line.setVisible(uniform_k is not None and bool(names))
        if uniform_k is not None:
            self.uniform_line.setPos(uniform_k)
        self.plot.setRange(xRange=(-0.6, max(len(names), 1) - 0.4), yRange=(0, 108), padding=0)


PLOT_SIZE = (1200, 560)


def write_budget_plot(
    path: str | os.PathLike, rows, *, title: str = "", force: bool = False, protect: Iterable = ()
) -> Path:
    """Score against target sparsity, uniform and allocated (measured; predicted dashed), and the ks per
    layer at each target as grouped bars; ``rows`` are core.budget.BudgetRows."""
    from prune_viz.core.files import check_writable
    from prune_viz.gui.views.plots import offscreen_qt_app, write_layout_png

    path = check_writable(path, force=force, protect=protect)
    app = offscreen_qt_app()
    widget, _scores = budget_plot_layout(rows, title)
    return write_layout_png(app, widget, path, *PLOT_SIZE, force=force, protect=protect)


def budget_plot_layout(rows, title: str = "") -> tuple[pg.GraphicsLayoutWidget, pg.PlotItem]:
    """The budget plot (not shown) and its score plot: the score in the units of the rows' metric
    (core.metric_words.ScoreScale: accuracy in %, R² as it is), measured on the reporting part."""
    rows = list(rows)
    width, height = PLOT_SIZE
    widget = pg.GraphicsLayoutWidget()
    widget.setBackground("w")
    widget.resize(width, height)
    scale = rows[0].scale if rows else score_scale("classification", "accuracy")
    heading = title or (f"{rows[0].model}: {rows[0].method} pruning, uniform vs allocated" if rows else "")
    widget.addLabel(heading, row=0, col=0, colspan=2, color="k", size="12pt")
    where = f"measured on {rows[0].reported_on}" if rows and rows[0].reported_on else "at each target"
    scores = widget.addPlot(row=1, col=0, title=f"<span style='color:#000'>{scale.name} {where}</span>")
    bars = widget.addPlot(row=1, col=1, title="<span style='color:#000'>k per layer at each target</span>")
    for plot, bottom, left in ((scores, "target sparsity (%)", scale.axis), (bars, "layer", "k (%)")):
        plot.showGrid(x=False, y=True, alpha=0.25)
        plot.setLabel("bottom", bottom, color="k")
        plot.setLabel("left", left, color="k")
        for axis in ("left", "bottom"):
            plot.getAxis(axis).enableAutoSIPrefix(False)
            plot.getAxis(axis).setTextPen("k")
            plot.getAxis(axis).setPen("k")
    scores.addLegend(offset=(10, -10), labelTextColor="k", brush=(255, 255, 255, 220))  # bottom left: under the curves
    x = [r.target * 100 for r in rows]
    for values, colour, label, dashed, marker in (
        ([r.uniform_score for r in rows], UNIFORM_COLOUR, "uniform (measured)", False, "s"),
        ([r.allocated_score for r in rows], ALLOCATED_COLOUR, "allocated (measured)", False, "o"),
        ([r.predicted_score for r in rows], ALLOCATED_COLOUR, "predicted (choosing part)", True, None),
    ):
        pen = pg.mkPen(
            colour, width=2.5, style=pg.QtCore.Qt.PenStyle.DashLine if dashed else pg.QtCore.Qt.PenStyle.SolidLine
        )
        shown = [scale.shown(v) for v in values]
        scores.plot(x, shown, pen=pen, symbol=marker, symbolBrush=colour, symbolSize=9, name=label)
    if scale.percent:
        scores.setYRange(0, 100, padding=0.02)
    names = list(dict.fromkeys(n for r in rows for n in r.layer_k))
    group = 0.8 / max(len(rows), 1)
    bar_legend = bars.addLegend(offset=(10, 10), labelTextColor="k", brush=(255, 255, 255, 220))
    for j, row in enumerate(rows):
        colour, _ = qualitative_style(j)
        item = pg.BarGraphItem(
            x=[i - 0.4 + group * (j + 0.5) for i in range(len(names))],
            height=[row.layer_k.get(n, 0.0) for n in names],
            width=group * 0.9,
            brush=colour,
            pen=pg.mkPen("k", width=0.5),
        )
        bars.addItem(item)
        bar_legend.addItem(item, f"{row.target * 100:g}%")
    _layer_axis(bars, names)
    bar_legend.setColumnCount(max(len(rows), 1))  # one row above the bars, not over them
    bars.setYRange(0, 118, padding=0.02)
    bars.getAxis("left").setTicks([[(k, f"{k}") for k in range(0, 101, 20)]])
    widget.resize(width, height)
    return widget, scores
