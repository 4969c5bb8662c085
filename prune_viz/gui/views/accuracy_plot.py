"""Accuracy against sparsity, filled in as evaluations happen (and by sweeps, if any).

One series per (method, scope); the latest evaluation is ringed (dashed and grey,
with the Session's sentence on why, once it is stale), the unpruned baseline is a
horizontal line. Only records measured on the same test data and
preprocessing as the latest one are drawn, so every point is comparable.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets

from prune_viz.core.reference import (
    LABEL,
    ReferenceCurve,
    is_seed_mlp,
    reference_curves,
)
from prune_viz.gui.binding import bind
from prune_viz.gui.views.colours import LIGHT, SERIES_STYLE, Theme
from prune_viz.gui.views.pictures import (
    WhenVisible,
    caption_label,
    fit_legend_columns,
    is_font_change,
    new_plot_widget,
    outside_legend,
    point_size,
    series_name,
    series_pen,
    sized_font,
    style_plot,
)

CHANCE = 10.0  # % accuracy of guessing among 10 digits
MARKER_SIZE = 10
SWEEP_MARKER_SIZE = 5
RING_SIZE = 22
REFERENCE_COLOURS = ("#009E73", "#CC79A7", "#8C564B", "#882255")  # apart from the four series' colours
REFERENCE_TEXT = f"Published curves ({LABEL})"


class AccuracySparsityPlot(QtWidgets.QWidget):
    """Test accuracy (%) against the sparsity (%) of the selected layers."""

    def __init__(self, session, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self._series: dict[tuple[str, str], pg.PlotDataItem] = {}
        self._sweep_series: dict[tuple[str, str], pg.PlotDataItem] = {}
        self._sweep_points: dict[tuple[str, str], list[tuple[float, float]]] = {}
        self.theme: Theme = LIGHT

        self.caption = caption_label(self)
        self.plot_widget = new_plot_widget(self)
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setXRange(0, 100, padding=0.02)
        self.plot.setYRange(0, 100, padding=0.02)
        self.legend = outside_legend(self.plot)

        theme = self.theme
        self.chance_line = pg.InfiniteLine(
            pos=CHANCE,
            angle=0,
            movable=False,
            pen=pg.mkPen(theme.muted, width=1, dash=[2, 4]),
            label="chance 10%",
            labelOpts={"position": 0.97, "color": theme.muted, "anchors": [(1, 1), (1, 1)]},
        )
        self.baseline_line = pg.InfiniteLine(
            angle=0,
            movable=False,
            pen=pg.mkPen(theme.foreground, width=1.5, dash=[6, 4]),
            label="",
            labelOpts={
                "position": 0.97,
                "color": theme.foreground,
                "anchors": [(1, 1), (1, 1)],
                "fill": theme.legend_fill,
            },
        )
        self.plot.addItem(self.chance_line)
        self.plot.addItem(self.baseline_line)
        self.baseline_line.setVisible(False)
        self.current_ring = pg.ScatterPlotItem(
            size=RING_SIZE, symbol="o", brush=None, pen=pg.mkPen(theme.foreground, width=2.5)
        )
        self.current_ring.setZValue(10)
        self.plot.addItem(self.current_ring)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.caption)
        layout.addWidget(self.plot_widget, 1)

        bind(self, session.model_changed, self._on_model_changed)
        bind(self, session.evaluation_changed, self._on_evaluation_changed)
        # a k step changes only the ring's staleness and the published curves' method: a hidden tab
        # catches up when it is shown
        self._when_visible = WhenVisible(self, self._on_settings_changed)
        bind(self, session.config_changed, self._when_visible.request)
        bind(self, session.data_changed, self._when_visible.request)
        self._apply_font()
        self._redraw()
        self._add_reference_curves()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if is_font_change(event):
            self._apply_font()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        fit_legend_columns(self.legend, self.width())

    def _apply_font(self) -> None:
        points = point_size(self)
        style_plot(self.plot, "sparsity of the selected layers (%)", "test accuracy (%)", points, self.theme)
        for line in (self.chance_line, self.baseline_line):
            line.label.setFont(sized_font(points))

    def set_theme(self, theme: Theme) -> None:
        """Chart colours (light, or high contrast); the series keep their colours and markers."""
        self.theme = theme
        self.plot_widget.setBackground(theme.background)
        self.chance_line.setPen(pg.mkPen(theme.muted, width=1, dash=[2, 4]))
        self.chance_line.label.setColor(theme.muted)
        self.baseline_line.setPen(pg.mkPen(theme.foreground, width=1.5, dash=[6, 4]))
        self.baseline_line.label.setColor(theme.foreground)
        self.baseline_line.label.fill = pg.mkBrush(theme.legend_fill)
        self._apply_font()
        self._draw_current(self.session.last_evaluation)

    def copy_sweep_from(self, other: AccuracySparsityPlot) -> None:
        """The sweep points another plot shows (an enlarged copy starts with them)."""
        for key, points in other._sweep_points.items():
            for sparsity, accuracy in points:
                self.add_sweep_point(*key, sparsity / 100.0, accuracy / 100.0)

    # -- public ---------------------------------------------------------------------------------
    def add_sweep_point(self, method: str, scope: str, sparsity: float, accuracy: float) -> None:
        """Add one point of a sweep; ``sparsity`` and ``accuracy`` are fractions in [0, 1]."""
        key = (method, scope)
        if key not in SERIES_STYLE:
            raise ValueError(f"unknown series {method!r}, {scope!r}")
        self._sweep_points.setdefault(key, []).append((100.0 * sparsity, 100.0 * accuracy))
        self._draw_sweep(key)

    def clear_sweep(self) -> None:
        self._sweep_points.clear()
        for key in list(self._sweep_series):
            self._draw_sweep(key)

    def series_data(self, method: str, scope: str, sweep: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """The (sparsity %, accuracy %) points drawn for a series, sorted by sparsity."""
        item = (self._sweep_series if sweep else self._series).get((method, scope))
        x, y = item.getData() if item is not None else (None, None)
        return (np.zeros(0), np.zeros(0)) if x is None else (np.asarray(x), np.asarray(y))

    @property
    def point_count(self) -> int:
        return sum(len(self.series_data(*key)[0]) for key in SERIES_STYLE)

    # -- session --------------------------------------------------------------------------------
    def _on_model_changed(self, _opened) -> None:
        self.clear_sweep()
        self._redraw()

    def _on_evaluation_changed(self, _record) -> None:
        self._redraw()

    def _on_settings_changed(self) -> None:
        self._draw_current(self.session.last_evaluation)
        self._draw_reference()

    @property
    def is_stale(self) -> bool:
        """The ringed evaluation no longer applies (Session.why_stale)."""
        return self.session.why_stale(self.session.last_evaluation) is not None

    # -- drawing --------------------------------------------------------------------------------
    def _comparable_records(self) -> list:
        history = self.session.history
        if not history:
            return []
        last = history[-1]
        # one criterion (and unit mode) at a time: curves of different scores would mix in one series
        return [
            r
            for r in history
            if r.data_source == last.data_source
            and r.result.preprocessing == last.result.preprocessing
            and r.config.criterion == last.config.criterion
            and r.config.unit_mode == last.config.unit_mode
        ]

    def _series_item(self, key: tuple[str, str], sweep: bool) -> pg.PlotDataItem:
        store = self._sweep_series if sweep else self._series
        if key not in store:
            colour, marker, _dash = SERIES_STYLE[key]
            if sweep:
                item = pg.PlotDataItem(
                    pen=series_pen(*key, width=1.5),
                    symbol=marker,
                    symbolSize=SWEEP_MARKER_SIZE,
                    symbolBrush=colour,
                    symbolPen=None,
                )
            else:
                item = pg.PlotDataItem(
                    pen=series_pen(*key, width=2.0),
                    symbol=marker,
                    symbolSize=MARKER_SIZE,
                    symbolBrush=colour,
                    symbolPen=pg.mkPen("w", width=1),
                )
            item.setZValue(1 if sweep else 5)
            self.plot.addItem(item)
            # named after adding, so the plot does not list it in the legend before it has points
            item.opts["name"] = series_name(*key) + (" (sweep)" if sweep else "")
            store[key] = item
        return store[key]

    def _draw_sweep(self, key: tuple[str, str]) -> None:
        points = sorted(self._sweep_points.get(key, []))
        if not points and key not in self._sweep_series:
            return
        item = self._series_item(key, sweep=True)
        self._set_points(item, points)

    def _set_points(self, item: pg.PlotDataItem, points: list[tuple[float, float]]) -> None:
        if points:
            x, y = np.array(points).T
            item.setData(x, y)
        else:
            item.setData([], [])
        # the legend lists only the series that have points
        listed = any(sample.item is item for sample, _label in self.legend.items)
        if points and not listed:
            self.legend.addItem(item, item.name())
        elif not points and listed:
            self.legend.removeItem(item)

    def _redraw(self) -> None:
        records = self._comparable_records()
        latest: dict[tuple[str, str], dict] = {}
        for record in records:  # a config evaluated twice keeps its latest result
            key = (record.config.method, record.config.scope)
            latest.setdefault(key, {})[record.config] = record
        for key in SERIES_STYLE:
            if key not in latest and key not in self._series:
                continue
            points = sorted((100.0 * r.sparsity, 100.0 * r.result.accuracy) for r in latest.get(key, {}).values())
            self._set_points(self._series_item(key, sweep=False), points)

        baseline = self.session.baseline()
        comparable = baseline is not None and records and baseline.data_source == records[-1].data_source
        self.baseline_line.setVisible(bool(comparable))
        if comparable:
            accuracy = 100.0 * baseline.result.accuracy
            self.baseline_line.setValue(accuracy)
            self.baseline_line.label.setFormat(f"unpruned {accuracy:.1f}%")
        self._draw_current(self.session.last_evaluation)

    def _draw_current(self, record) -> None:
        if record is None or not self.session.history:
            self.current_ring.setData([], [])
            self.caption.setText("<b>Accuracy vs sparsity</b>: each evaluation adds a point.")
            return
        x, y = 100.0 * record.sparsity, 100.0 * record.result.accuracy
        why = self.session.why_stale(record)
        current = why is None
        self.current_ring.setData([x], [y])
        self.current_ring.setPen(
            pg.mkPen(
                self.theme.foreground if current else self.theme.muted, width=2.5, dash=None if current else [3, 3]
            )
        )
        stale = "" if current else f"<br><span style='color:{self.theme.muted}'>{why}</span>"
        self.caption.setText(
            f"<b>Accuracy vs sparsity</b>: ringed = last evaluation, {record.config.describe()}: "
            f"<b>{y:.2f}%</b> at {x:.1f}% sparsity{stale}"
        )

    # -- published reference curves (the seed experiment's MLP only) -----------------------------
    def _add_reference_curves(self) -> None:
        self._reference_curves: list[ReferenceCurve] = reference_curves()
        self._reference_items: dict[str, pg.PlotDataItem] = {}  # repository -> its curve
        self.reference_check = QtWidgets.QCheckBox(REFERENCE_TEXT, self)
        self.reference_check.setToolTip(
            "Accuracy without retraining of the same 784-1000-1000-500-200-10 MLP as published by others, "
            "drawn at sparsity = their k (per layer, output layer not pruned). Their models, their "
            "training on the full 60,000 MNIST images, not yours:<br>"
            + "<br>".join(f"{c.citation} ({c.setup})" for c in self._reference_curves if c.method == "weight")
        )
        self.layout().insertWidget(1, self.reference_check)
        self.reference_check.toggled.connect(self._draw_reference)
        bind(self, self.session.model_changed, self._draw_reference)
        self._draw_reference()

    @property
    def reference_available(self) -> bool:
        return self.session.model is not None and is_seed_mlp(self.session.model)

    def reference_data(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The published curves drawn now: repository -> (k %, accuracy %)."""
        drawn = {}
        for source, item in self._reference_items.items():
            x, y = item.getData()
            if x is not None and len(x):
                drawn[source] = (np.asarray(x), np.asarray(y))
        return drawn

    def _draw_reference(self, *_changed) -> None:
        available = self.reference_available
        self.reference_check.setVisible(available)
        method = self.session.config.method
        shown = available and self.reference_check.isChecked()
        sources = list(dict.fromkeys(c.source for c in self._reference_curves))
        for curve in self._reference_curves:
            if curve.method != method:
                continue
            item = self._reference_items.get(curve.source)
            if item is None:
                colour = REFERENCE_COLOURS[sources.index(curve.source) % len(REFERENCE_COLOURS)]
                item = pg.PlotDataItem(
                    pen=pg.mkPen(colour, width=1.5, dash=[5, 4]),
                    symbol="x",
                    symbolSize=7,
                    symbolPen=pg.mkPen(colour),
                    symbolBrush=None,
                )
                item.setZValue(0)  # under the user's own points
                self.plot.addItem(item)
                item.opts["name"] = f"{curve.source} (published)"  # the file is in the toggle's tooltip
                self._reference_items[curve.source] = item
            points = list(zip((float(k) for k in curve.ks), (100.0 * a for a in curve.accuracy))) if shown else []
            self._set_points(item, points)
