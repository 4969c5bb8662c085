"""Sweep curves as a PNG file, drawn offscreen with pyqtgraph (no matplotlib needed).

The Sweep panel's "Save plot PNG" and ``prune-viz sweep --plot`` both draw through here.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

LEGEND_COLUMNS = 2
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")


def offscreen_qt_app():
    """A Qt application for offscreen drawing: the running one, else an offscreen one."""
    from PySide6.QtGui import QGuiApplication

    if QGuiApplication.instance() is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg

    return pg.mkQApp()


def score_range(scale, values) -> tuple[float, float]:
    """The y range of a score axis: 0-100 for a percentage; for R² and other scores up to 1.0 from 0,
    or from the lowest score shown, but never below -1 (a model worse than predicting the mean by far
    would squeeze every other point flat)."""
    if scale.percent:
        return 0.0, 100.0
    finite = [v for v in values if v == v]
    low = min([0.0, *finite])
    return max(low, -1.0), 1.0


def write_sweep_plot(
    path: str | os.PathLike, summary, *, per_layer: bool, title: str, force: bool = False, protect: Iterable = ()
) -> Path:
    """Accuracy (and loss) against k, one curve per (method, criterion, unit mode, scope), or per
    layer for a sensitivity sweep."""
    import numpy as np
    import pyqtgraph as pg

    from prune_viz.core.files import check_writable
    from prune_viz.core.metric_words import score_scale

    path = check_writable(path, force=force, protect=protect)  # before drawing anything
    app = offscreen_qt_app()
    summary = list(summary)
    first = summary[0] if summary else None
    # the score the points carry (accuracy %, R², top-1 agreement % ...), and the task's loss
    scale = (
        score_scale(first.task, first.score_metric, first.classes)
        if first is not None
        else score_scale("classification", "accuracy")
    )
    groups: dict[tuple, list] = {}
    for s in summary:
        groups.setdefault((s.method, s.scope, s.layer, s.criterion, s.unit_mode), []).append(s)
    named = {key[3] for key in groups} != {"magnitude"} or {key[4] for key in groups} - {"", "kernel"}
    criteria = list(dict.fromkeys(key[3] for key in groups))
    methods = list(dict.fromkeys(key[0] for key in groups))
    columns = 2
    if per_layer:  # one panel per method, one curve per layer
        panels = [
            (
                f"{method} pruning, one layer at a time",
                "score",
                [(key, rows) for key, rows in groups.items() if key[0] == method],
            )
            for method in methods
        ]
        columns = len(panels)
    elif len(criteria) > 1:  # criteria compared: a row per method (accuracy, loss), a colour per criterion
        panels = [
            (
                f"{method} pruning: {scale.name if quantity == 'score' else 'loss'}",
                quantity,
                [(key, rows) for key, rows in groups.items() if key[0] == method],
            )
            for method in methods
            for quantity in ("score", "loss")
        ]
    else:  # accuracy and loss, one curve per (method, scope)
        panels = [(scale.name, "score", list(groups.items())), ("loss", "loss", list(groups.items()))]
    widget = pg.GraphicsLayoutWidget()
    widget.setBackground("w")
    rows_of_panels = -(-len(panels) // columns)
    legend_rows = max(-(-len(curves) // LEGEND_COLUMNS) for _t, _q, curves in panels)
    legend_height = 22 * legend_rows + 12
    width, height = 600 * columns, (480 + legend_height) * rows_of_panels + 30
    widget.resize(width, height)
    widget.addLabel(title, row=0, col=0, colspan=columns, color="k", size="12pt")
    for p, (panel_title, quantity, curves) in enumerate(panels):
        row, col = 1 + 2 * (p // columns), p % columns
        plot = widget.addPlot(row=row, col=col, title=f"<span style='color:#000'>{panel_title}</span>")
        plot.showGrid(x=True, y=True, alpha=0.25)
        plot.setLabel("bottom", "k (% pruned)", color="k")
        plot.setLabel("left", scale.axis if quantity == "score" else scale.loss_name, color="k")
        for axis in ("left", "bottom"):
            plot.getAxis(axis).enableAutoSIPrefix(False)
            plot.getAxis(axis).setTextPen("k")
            plot.getAxis(axis).setPen("k")
        # the legend sits in its own cell under the plot, never over the curves
        legend = pg.LegendItem(labelTextColor="k", colCount=LEGEND_COLUMNS)
        widget.addItem(legend, row=row + 1, col=col)
        widget.ci.layout.setRowFixedHeight(row + 1, legend_height)
        for i, ((method, scope, layer, criterion, unit_mode), rows) in enumerate(curves):
            color = PALETTE[criteria.index(criterion) if len(criteria) > 1 and not per_layer else i % len(PALETTE)]
            style = pg.QtCore.Qt.PenStyle.DashLine if scope == "global" else pg.QtCore.Qt.PenStyle.SolidLine
            pen = pg.mkPen(color, width=2, style=style)
            factor = scale.shown(1.0) if quantity == "score" else 1.0
            x = np.array([r.k for r in rows])
            y = np.array([getattr(r, f"{quantity}_mean") for r in rows]) * factor
            err = np.array([getattr(r, f"{quantity}_std") for r in rows]) * factor
            label = layer if per_layer else f"{method}, {'layerwise' if scope == 'layer' else 'global'}"
            if named:
                label += f", {criterion}" + (f", units {unit_mode}" if unit_mode == "remove" else "")
            curve = plot.plot(
                x,
                y,
                pen=pen,
                symbol="o" if method == "weight" else "t",
                symbolSize=6,
                symbolBrush=color,
                symbolPen=color,
            )
            legend.addItem(curve, label)
            if np.any(err > 0):
                plot.addItem(pg.ErrorBarItem(x=x, y=y, height=2 * err, beam=1.2, pen=pg.mkPen(color, width=1)))
        plot.setXRange(0, 100, padding=0.02)
        if quantity == "score":
            plot.setYRange(*score_range(scale, [r.score_mean for _key, rows in curves for r in rows]), padding=0.02)
            if scale.chance is not None:
                plot.addItem(
                    pg.InfiniteLine(
                        pos=scale.shown(scale.chance),
                        angle=0,
                        pen=pg.mkPen("#777777", width=1, dash=[2, 4]),
                        label=scale.chance_text,
                        labelOpts={"position": 0.95, "color": "#555555", "anchors": [(1, 1), (1, 1)]},
                    )
                )
    return write_layout_png(app, widget, path, width, height, force=force, protect=protect)


def write_layout_png(app, widget, path: Path, width: int, height: int, *, force: bool, protect: Iterable) -> Path:
    """Write a pyqtgraph GraphicsLayoutWidget that is never shown as a PNG of ``width`` x ``height`` at
    ``path`` (atomically, as every file the app writes), then close it."""
    import pyqtgraph as pg
    from pyqtgraph.exporters import ImageExporter

    from prune_viz.core.files import write_atomically

    # never shown, so lay the scene out at the export size by hand
    widget.ci.setGeometry(pg.QtCore.QRectF(0, 0, width, height))
    app.processEvents()
    exporter = ImageExporter(widget.scene())
    exporter.parameters()["width"] = width

    def export(temporary: Path) -> None:
        exporter.export(str(temporary))
        if not temporary.stat().st_size:
            raise OSError(f"Qt wrote an empty image for {path}")

    try:
        return write_atomically(path, export, force=force, protect=protect)
    finally:
        widget.close()
