"""The score against sparsity, filled in as evaluations happen (and by sweeps, if any).

The score is the task's (core.metric_words.ScoreScale): accuracy % for a classifier, R² for a
regression, top-1 agreement % with the unpruned model on data without labels; the axis is named after
it and a chance line is drawn only for a classifier (at 1 / the data's classes).
One series per (method, scope); the latest evaluation is ringed (dashed and grey,
with the Session's sentence on why, once it is stale), the unpruned baseline is a
horizontal line. Only records measured on the same test data and
preprocessing as the latest one are drawn, so every point is comparable. A sweep's points
are series of their own, one per (method, scope, criterion): with several criteria side by side
each criterion has its colour and the legend names it.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from prune_viz.core.metric_words import ScoreScale, result_scale, score_scale
from prune_viz.core.pruning import CRITERIA
from prune_viz.core.reference import (
    LABEL,
    ReferenceCurve,
    is_seed_mlp,
    reference_curves,
)
from prune_viz.gui.binding import bind
from prune_viz.gui.views.colours import CRITERION_COLOURS, LIGHT, SERIES_DASHES, SERIES_STYLE, Theme
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
from prune_viz.gui.views.plots import score_range

MARKER_SIZE = 10
SWEEP_MARKER_SIZE = 5
RING_SIZE = 22
REFERENCE_COLOURS = ("#009E73", "#CC79A7", "#8C564B", "#882255")  # apart from the four series' colours
REFERENCE_TEXT = f"Published curves ({LABEL})"


class AccuracySparsityPlot(QtWidgets.QWidget):
    """The test score (accuracy %, R², top-1 agreement % ...) against the sparsity (%) of the selected layers."""

    legend_changed = QtCore.Signal()  # a series listed or unlisted, or the legend's columns changed: its rows

    def __init__(self, session, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self._series: dict[tuple[str, str], pg.PlotDataItem] = {}
        # a sweep's series, by (method, scope, criterion)
        self._sweep_series: dict[tuple[str, str, str], pg.PlotDataItem] = {}
        # (sparsity %, score as a fraction) of each sweep series
        self._sweep_points: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
        self.theme: Theme = LIGHT
        self.scale: ScoreScale = score_scale("classification", "accuracy")  # what the y axis shows

        self.caption = caption_label(self)
        self.plot_widget = new_plot_widget(self)
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.setXRange(0, 100, padding=0.02)
        self.plot.setYRange(0, 100, padding=0.02)
        self.legend = outside_legend(self.plot)

        theme = self.theme
        self.chance_line = pg.InfiniteLine(
            angle=0,
            movable=False,
            pen=pg.mkPen(theme.muted, width=1, dash=[2, 4]),
            label="",
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
        self.chance_line.setVisible(False)  # until the data's classes are known (a classifier's only)
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
        columns = self.legend.columnCount
        fit_legend_columns(self.legend, self.width())
        if self.legend.columnCount != columns:
            self.legend_changed.emit()

    def _apply_font(self) -> None:
        points = point_size(self)
        style_plot(self.plot, "sparsity of the selected layers (%)", self.scale.axis, points, self.theme)
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
        self.set_scale(other.scale)
        for (method, scope, criterion), points in other._sweep_points.items():
            for sparsity, score in points:
                self.add_sweep_point(method, scope, sparsity / 100.0, score, criterion)

    # -- public ---------------------------------------------------------------------------------
    def set_scale(self, scale: ScoreScale) -> None:
        """Show ``scale``'s score: the axis named after it, its range, and a chance line where it has one."""
        if scale != self.scale:
            self.scale = scale
            self._apply_font()
            for key in list(self._sweep_series):
                self._draw_sweep(key)
            self._draw_current(self.session.last_evaluation)
        chance = scale.chance is not None
        self.chance_line.setVisible(chance)
        if chance:
            self.chance_line.setValue(scale.shown(scale.chance))
            self.chance_line.label.setFormat(scale.chance_text)
        self._fit_range()

    def add_point(self, point) -> None:
        """Add a SweepPoint: its score on its scale (core.metric_words.score_scale)."""
        self.set_scale(score_scale(point.task, point.score_metric, point.classes))
        self.add_sweep_point(point.method, point.scope, point.sparsity_included, point.score, point.criterion)

    def add_sweep_point(
        self, method: str, scope: str, sparsity: float, score: float, criterion: str = "magnitude"
    ) -> None:
        """Add one point of a sweep; ``sparsity`` is a fraction in [0, 1], ``score`` the task's score as a
        fraction (accuracy 0.97, R² 0.91 ...), drawn on the plot's scale."""
        if (method, scope) not in SERIES_STYLE or criterion not in CRITERIA:
            raise ValueError(f"unknown series {method!r}, {scope!r}, {criterion!r}")
        key = (method, scope, criterion)
        criteria = self.sweep_criteria
        self._sweep_points.setdefault(key, []).append((100.0 * sparsity, score))
        if self.sweep_criteria != criteria:  # a criterion more (or the first): colours and names change
            self._restyle_sweep()
        self._draw_sweep(key)

    def clear_sweep(self) -> None:
        self._sweep_points.clear()
        for key in list(self._sweep_series):
            self._draw_sweep(key)

    @property
    def sweep_criteria(self) -> list[str]:
        """The criteria of the sweep points drawn, in the order of core.pruning.CRITERIA."""
        found = {key[2] for key, points in self._sweep_points.items() if points}
        return [criterion for criterion in CRITERIA if criterion in found]

    def series_data(
        self, method: str, scope: str, sweep: bool = False, criterion: str | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The (sparsity %, score on the axis's scale) points drawn for a series, sorted by sparsity (a sweep's: of
        ``criterion``, by default of the only or the first criterion it has)."""
        if sweep:
            keys = [key for key in self._sweep_series if key[:2] == (method, scope)]
            if criterion is not None:
                keys = [key for key in keys if key[2] == criterion]
            keys.sort(key=lambda key: CRITERIA.index(key[2]))
            item = self._sweep_series[keys[0]] if keys else None
        else:
            item = self._series.get((method, scope))
        x, y = item.getData() if item is not None else (None, None)
        return (np.zeros(0), np.zeros(0)) if x is None else (np.asarray(x), np.asarray(y))

    def sweep_legend(self) -> list[str]:
        """The legend's names of the sweep series drawn, in the legend's order."""
        sweep = set(map(id, self._sweep_series.values()))
        return [label.text for sample, label in self.legend.items if id(sample.item) in sweep]

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

    def _series_item(self, key: tuple, sweep: bool) -> pg.PlotDataItem:
        store = self._sweep_series if sweep else self._series
        if key not in store:
            colour, marker, _dash = SERIES_STYLE[key[:2]]
            if sweep:
                item = pg.PlotDataItem(symbol=marker, symbolSize=SWEEP_MARKER_SIZE, symbolPen=None)
                self._style_sweep_item(item, key)
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
            item.opts["name"] = self._sweep_name(key) if sweep else series_name(*key)
            store[key] = item
        return store[key]

    def _sweep_name(self, key: tuple[str, str, str]) -> str:
        """E.g. 'weight, layerwise (sweep)', with the criterion when the sweep has several or not magnitude."""
        method, scope, criterion = key
        named = self.sweep_criteria not in ([], ["magnitude"])
        return series_name(method, scope) + (f", {criterion}" if named else "") + " (sweep)"

    def _style_sweep_item(self, item: pg.PlotDataItem, key: tuple[str, str, str]) -> None:
        """One criterion: the (method, scope)'s own colour and line; several: a colour per criterion, a
        line style per (method, scope)."""
        if len(self.sweep_criteria) > 1:
            colour = CRITERION_COLOURS[key[2]]
            pen = pg.mkPen(colour, width=1.5)
            if SERIES_DASHES[key[:2]]:
                pen.setDashPattern(SERIES_DASHES[key[:2]])
        else:
            colour = SERIES_STYLE[key[:2]][0]
            pen = series_pen(*key[:2], width=1.5)
        item.setPen(pen)
        item.setSymbolBrush(colour)

    def _restyle_sweep(self) -> None:
        """The sweep's criteria changed: its series' colours and legend names follow."""
        for key, item in self._sweep_series.items():
            self._style_sweep_item(item, key)
            name = self._sweep_name(key)
            if item.opts.get("name") != name:
                item.opts["name"] = name
                for sample, label in self.legend.items:
                    if sample.item is item:
                        label.setText(name)

    def _draw_sweep(self, key: tuple[str, str, str]) -> None:
        points = sorted((x, self.scale.shown(score)) for x, score in self._sweep_points.get(key, []))
        if not points and key not in self._sweep_series:
            return
        item = self._series_item(key, sweep=True)
        self._set_points(item, points)
        self._fit_range()

    def _fit_range(self) -> None:
        """0-100 for a percentage; a score like R² from its lowest point shown (never below -1) up to 1."""
        if self.scale.percent:
            self.plot.setYRange(0, 100, padding=0.02)
            return
        values = []
        for item in (*self._series.values(), *self._sweep_series.values()):
            y = item.getData()[1]
            values += [] if y is None else np.asarray(y, float).tolist()
        self.plot.setYRange(*score_range(self.scale, values), padding=0.02)

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
            self.legend_changed.emit()
        elif not points and listed:
            self.legend.removeItem(item)
            self.legend_changed.emit()

    @property
    def legend_rows(self) -> int:
        """The rows the legend under the plot takes."""
        return -(-len(self.legend.items) // max(self.legend.columnCount, 1))

    def _redraw(self) -> None:
        records = self._comparable_records()
        if records:  # the scale of the latest result: every comparable record is on the same data
            self.set_scale(result_scale(records[-1].result))
        latest: dict[tuple[str, str], dict] = {}
        for record in records:  # a config evaluated twice keeps its latest result
            key = (record.config.method, record.config.scope)
            latest.setdefault(key, {})[record.config] = record
        for key in SERIES_STYLE:
            if key not in latest and key not in self._series:
                continue
            points = sorted(
                (100.0 * r.sparsity, self.scale.shown(r.result.score)) for r in latest.get(key, {}).values()
            )
            self._set_points(self._series_item(key, sweep=False), points)

        baseline = self.session.baseline()
        comparable = baseline is not None and records and baseline.data_source == records[-1].data_source
        self.baseline_line.setVisible(bool(comparable))
        if comparable:
            self.baseline_line.setValue(self.scale.shown(baseline.result.score))
            self.baseline_line.label.setFormat(f"unpruned {self.scale.text(baseline.result.score)}")
        self._fit_range()
        self._draw_current(self.session.last_evaluation)

    def _draw_current(self, record) -> None:
        if record is None or not self.session.history:
            self.current_ring.setData([], [])
            self.caption.setText(f"<b>{self.scale.name} vs sparsity</b>: each evaluation adds a point.")
            return
        x, y = 100.0 * record.sparsity, self.scale.shown(record.result.score)
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
            f"<b>{self.scale.name} vs sparsity</b>: ringed = last evaluation, {record.config.describe()}: "
            f"<b>{self.scale.text(record.result.score)}</b> at {x:.1f}% sparsity{stale}"
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
