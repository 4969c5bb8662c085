"""Histogram of a layer's original |w| (or unit L2 norms), split at the current pruning threshold.

The histogram of the originals is computed once per (layer, method) and drawn twice, in the
pruned and in the kept colours, each clipped to its side of the threshold: a new k only moves
the threshold line and the two clips.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6 import QtWidgets
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QFont, QPainterPath, QPen, QPolygonF

from prune_viz.core.criteria import score_label
from prune_viz.core.non_finite import is_non_finite
from prune_viz.core.pruning import PruneResult
from prune_viz.gui.binding import bind
from prune_viz.gui.views.colours import LIGHT, PRUNED, Theme
from prune_viz.gui.views.pictures import (
    PRUNED_LEGEND,
    SteadyCaption,
    WhenVisible,
    caption_label,
    is_font_change,
    new_plot_widget,
    point_size,
    set_axis_labels,
    sized_font,
    style_plot,
    swatch,
)

SUMMARY_LINES = 3
LOG_FLOOR = 0.5  # where empty bins sit on a log axis, so a count of 1 still shows as a bar
FILL_ALPHA = 170


@dataclass(frozen=True, eq=False)  # one per layer and method, compared by identity
class Histogram:
    edges: np.ndarray  # (bins + 1,)
    counts: np.ndarray  # (bins,)
    total: int
    method: str  # "weight" (|w|) or "unit" (L2 norms)


def histogram_of(values: np.ndarray, method: str) -> Histogram:
    """|w| bins start at 0; unit norms bunch far from 0, so their bins span min..max."""
    values = np.asarray(values, dtype=np.float64).ravel()
    bins = bin_count(values.size, method)
    top = float(values.max()) if values.size else 1.0
    bottom = 0.0 if method == "weight" else float(values.min()) if values.size else 0.0
    if top <= bottom:
        top = bottom + 1.0
    counts, edges = np.histogram(values, bins=bins, range=(bottom, top))
    return Histogram(edges, counts, int(values.size), method)


def histogram_of_sorted(magnitudes) -> Histogram:
    """``histogram_of(|w|, "weight")`` from a ``MagnitudeOrder``, with one lookup per bin edge."""
    counts, edges = magnitudes.histogram(bin_count(len(magnitudes), "weight"))
    return Histogram(edges, counts, len(magnitudes), "weight")


def bin_count(size: int, method: str) -> int:
    return int(np.clip(np.sqrt(size) * 1.5, 8, 120 if method == "weight" else 40))


class ThresholdMarker:
    """A dashed vertical line at the threshold with its value near the top, on a tag that keeps its
    size in pixels. Qt's own graphics items: a k step moves them without the Python geometry of a
    pyqtgraph InfiniteLine."""

    HEIGHT = 0.92  # the tag's place, as a fraction of the plot's height
    PAD = 3  # pixels around the text

    def __init__(self, plot: pg.PlotItem, theme: Theme):
        # the line lives in the view box's pixels, not in data coordinates: Qt counts a cosmetic pen's
        # width in the item's units, so in data units its bounds spanned the whole plot, axes included,
        # and every k step repainted all of it
        self.box = plot.getViewBox()
        self.line = QtWidgets.QGraphicsLineItem(self.box)
        self.tag = QtWidgets.QGraphicsRectItem()
        self.tag.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.tag.setPen(QPen(Qt.PenStyle.NoPen))
        self.text = QtWidgets.QGraphicsSimpleTextItem(self.tag)
        plot.addItem(self.tag, ignoreBounds=True)
        for item in (self.line, self.tag):
            item.setZValue(10)  # over the bars
        self.box.sigTransformChanged.connect(self._place_line)  # a new range or size moves it
        self.value: float | None = None
        self.set_theme(theme)
        self.show(None)

    def set_theme(self, theme: Theme) -> None:
        pen = QPen(pg.mkColor(theme.foreground), 2, Qt.PenStyle.CustomDashLine)
        pen.setDashPattern([5, 3])
        pen.setCosmetic(True)
        pen.setCapStyle(Qt.PenCapStyle.FlatCap)  # square caps reach past the plot's edge, into its axis
        self.line.setPen(pen)
        self.text.setBrush(QBrush(pg.mkColor(theme.foreground)))
        self.tag.setBrush(QBrush(pg.mkColor(theme.legend_fill)))

    def set_font(self, font: QFont) -> None:
        self.text.setFont(font)
        if self.value is not None:
            self._place_text(self.tag.rect().left() < 0)

    def show(
        self, value: float | None, y_range: tuple = (0.0, 1.0), text_on_left: bool = False, label: str = ""
    ) -> None:
        """The line at ``value`` from the plot's top to its bottom (None: hidden), its text (``label``, by
        default the value) right of it, or left, near the top of ``y_range``."""
        self.value = value
        for item in (self.line, self.tag):
            item.setVisible(value is not None)
        if value is None:
            return
        bottom, top = y_range
        self._place_line()
        self.text.setText(f"threshold {label or f'{value:.3g}'}")
        self.tag.setPos(value, bottom + self.HEIGHT * (top - bottom))
        self._place_text(text_on_left)

    def _place_line(self, *_args) -> None:
        """The line at the value, from the view's top to its bottom (the y range shown)."""
        if self.value is None:
            return
        x = self.box.mapFromView(QPointF(self.value, 0.0)).x()
        self.line.setLine(x, 0.0, x, self.box.rect().height())  # the same line again: Qt does nothing

    def _place_text(self, on_left: bool) -> None:
        size = self.text.boundingRect().size()
        width, height = size.width() + 2 * self.PAD, size.height() + 2 * self.PAD
        left = -width - self.PAD if on_left else self.PAD
        self.tag.setRect(QRectF(left, -height / 2, width, height))
        self.text.setPos(left + self.PAD, -height / 2 + self.PAD)


class WeightHistogram(QtWidgets.QWidget):
    """|w| of the selected layer's original weights (unit L2 norms for unit pruning),
    pruned part shaded differently from the kept part, a line at the pruning threshold."""

    def __init__(self, session, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self._layer_name: str | None = None
        self._cache: dict[tuple[str, str], Histogram] = {}
        self._spans: dict[tuple, tuple[float, float]] = {}  # global scope: where its threshold can lie
        self._histogram: Histogram | None = None
        self._shown: tuple | None = None  # (histogram, log) the bars show
        self._frame: tuple | None = None  # the axes' labels and ranges as last set
        self.theme: Theme = LIGHT
        self._when_visible = WhenVisible(self, self._redraw)

        self.caption = caption_label(self)
        self.log_box = QtWidgets.QCheckBox("Log count", self)
        self.log_box.setToolTip("Logarithmic count axis: shows the sparse tail of large weights")
        self.log_box.toggled.connect(self._redraw)
        header = QtWidgets.QHBoxLayout()
        header.addWidget(self.caption, 1)
        header.addWidget(self.log_box)

        self.plot_widget = new_plot_widget(self)
        # a k step changes the two sides, the line and its tag: repainted as the one rectangle around
        # them, not as the several that Qt's antialiasing margins make of them (a region of several
        # rectangles clips everything drawn into it, which Qt draws about twice as slowly)
        self.plot_widget.setViewportUpdateMode(QtWidgets.QGraphicsView.ViewportUpdateMode.BoundingRectViewportUpdate)
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setMouseEnabled(x=False, y=False)
        # each side of the threshold: the whole histogram, clipped by a rectangle in data coordinates
        self.pruned_side, self.kept_side = self._side(), self._side()
        self.pruned_bars = self._bars(PRUNED, self.pruned_side)
        self.kept_bars = self._bars(self.theme.kept, self.kept_side)
        self.steps: tuple[np.ndarray, np.ndarray] | None = None  # (edges, heights) the bars show
        self.marker = ThresholdMarker(self.plot, self.theme)

        self.summary = SteadyCaption(self, on_window=True)
        # the legend and a k's numbers take three lines at the dock's usual width: reserved, a first
        # k step after a settings change does not shrink the plot (which redraws its axes from scratch)
        self.summary.reserve_lines(SUMMARY_LINES, self._legend())

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(header)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.summary)

        bind(self, session.model_changed, self._on_model_changed)
        bind(self, session.pruning_changed, self._on_pruning_changed)
        self._apply_font()
        self._on_model_changed(session.model)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if is_font_change(event):
            self._apply_font()
            self._redraw()

    def _apply_font(self) -> None:
        self._frame = None  # style_plot sets the axis labels afresh
        points = point_size(self)
        style_plot(self.plot, "|weight|", "weights", points, self.theme)
        self.marker.set_font(sized_font(points))

    def set_theme(self, theme: Theme) -> None:
        """Chart colours (light, or high contrast); pruned keeps the one pruned colour."""
        self.theme = theme
        self.plot_widget.setBackground(theme.background)
        self._colour_bars(self.pruned_bars, PRUNED)
        self._colour_bars(self.kept_bars, theme.kept)
        self.marker.set_theme(theme)
        self._apply_font()
        self._redraw()

    def _colour_bars(self, bars: QtWidgets.QGraphicsPathItem, colour: str) -> None:
        """Outline in ``colour``, filled with it faded into the background: an opaque fill and a thin
        outline paint without blending or stroking."""
        line, background = pg.mkColor(colour), pg.mkColor(self.theme.background)
        fade = FILL_ALPHA / 255
        bars.setBrush(
            pg.mkColor(*(round(fade * a + (1 - fade) * b) for a, b in zip(line.getRgb()[:3], background.getRgb()[:3])))
        )
        # width 0: Qt's one-pixel cosmetic pen, whose bounds are the path's own (a cosmetic width of 1
        # counts in data units there, and spread the bars' bounds, so their repaint, over the axes)
        bars.setPen(QPen(line, 0))

    def _side(self) -> QtWidgets.QGraphicsRectItem:
        side = QtWidgets.QGraphicsRectItem()
        side.setPen(QPen(Qt.PenStyle.NoPen))
        side.setFlag(QtWidgets.QGraphicsItem.GraphicsItemFlag.ItemClipsChildrenToShape)
        self.plot.addItem(side, ignoreBounds=True)
        return side

    def _bars(self, colour: str, side: QtWidgets.QGraphicsRectItem) -> QtWidgets.QGraphicsPathItem:
        """The histogram's outline, filled: one of Qt's own items, so a k step runs no Python geometry
        (a pyqtgraph curve works out its bounds in Python whenever the scene asks)."""
        bars = QtWidgets.QGraphicsPathItem(side)
        self._colour_bars(bars, colour)
        return bars

    # -- public ---------------------------------------------------------------------------------
    @property
    def layer_name(self) -> str | None:
        return self._layer_name

    def set_layer(self, name: str | None) -> None:
        if name != self._layer_name:  # the same layer is redrawn by the signals that change it
            self._layer_name = name
            self._redraw()

    def set_log_counts(self, on: bool) -> None:
        self.log_box.setChecked(on)

    @property
    def threshold(self) -> float | None:
        """The threshold the line shows (None when nothing of this layer is pruned)."""
        return self.marker.value

    @property
    def histogram(self) -> Histogram | None:
        return self._histogram

    # -- session --------------------------------------------------------------------------------
    def _on_model_changed(self, opened) -> None:
        self._cache.clear()
        self._spans.clear()
        names = [layer.name for layer in opened.layers] if opened is not None else []
        if self._layer_name not in names:
            self._layer_name = names[0] if names else None
        self._redraw()

    def _on_pruning_changed(self, _result: PruneResult) -> None:
        self._when_visible.request()  # a hidden tab catches up when it is shown

    # -- drawing --------------------------------------------------------------------------------
    def _layer(self, name: str):
        model = self.session.model
        if model is None:
            return None
        return next((layer for layer in model.layers if layer.name == name), None)

    def _histogram_for(self, name: str, config) -> Histogram:
        """The histogram of the scores ``config`` thresholds (|w| and unit norms for magnitude)."""
        pruner = self.session.model.pruner
        method = "unit" if config.method == "unit" else "weight"  # N:M and blocks rank weight scores
        key = (name, method, pruner.score_key(config), pruner.scores_version)
        if key not in self._cache:
            if method == "weight":  # from the pruner's sorted scores: no pass over a big kernel on the GUI thread
                self._cache[key] = histogram_of_sorted(pruner.scores(name, config))
            else:
                self._cache[key] = histogram_of(pruner.unit_scores(name, config), method)
        return self._cache[key]

    def _global_span(self, config) -> tuple[float, float]:
        """The lowest and highest score of the included layers (|w| or unit scores): where a global
        threshold can lie, whatever k is."""
        pruner = self.session.model.pruner
        key = (config.method, config.included, pruner.score_key(config), pruner.scores_version)
        if key not in self._spans:
            lows, highs = [0.0], [0.0]
            for layer in self.session.model.layers:
                if layer.name not in config.included:
                    continue
                if config.method != "unit":  # from the sorted scores the global plan has read
                    highs.append(float(pruner.scores(layer.name, config).max()))
                elif layer.units:
                    scores = pruner.unit_scores(layer.name, config)
                    lows.append(float(np.min(scores)))
                    highs.append(float(np.max(scores)))
            low = min((v for v in lows[1:] if not is_non_finite(v)), default=0.0)
            high = max((v for v in highs if not is_non_finite(v)), default=0.0)
            self._spans[key] = (low, high)
        return self._spans[key]

    def _redraw(self, *_args) -> None:
        session = self.session
        layer = self._layer(self._layer_name) if self._layer_name else None
        if layer is None:
            self._histogram = None
            self._show_steps(None, False)
            self.marker.show(None)
            why = (
                "no model open"
                if session.model is None
                else f"the model has no prunable layer named {self._layer_name}"
            )
            self.caption.setText(f"<b>Weight histogram</b>: {why}.")
            self.summary.show_text("")
            return
        result = session.result
        config = result.config if result is not None else session.config
        method = "unit" if config.method == "unit" else "weight"  # N:M and blocks: the weights' scores
        histogram = self._histogram_for(layer.name, config)
        self._histogram = histogram
        # a pattern has no threshold on these scores (N:M: one per group; blocks: on block norms)
        threshold = result.threshold(layer.name) if result is not None and not config.pattern else None
        log = self.log_box.isChecked()
        drawn_at, label = threshold, ""
        if threshold is not None and is_non_finite(np.float32(threshold)):
            # the cut is among the NaN or infinite weights (ranked last): every number is pruned, drawn at the end
            drawn_at, label = float(histogram.edges[-1]), "NaN" if np.isnan(threshold) else "inf"

        self._show_steps(histogram, log)

        what = score_label(config.criterion, method)
        if config.criterion == "magnitude":
            what = "|weight|" if method == "weight" else "unit L2 norm"
        counted = "weights" if method == "weight" else "units"
        # a global threshold can lie outside this layer's values: keep the line in view, at every k
        # (axes that followed the line were redrawn at each step while it lay beyond the layer's values)
        left, right = float(histogram.edges[0]), float(histogram.edges[-1])
        if config.scope == "global" and layer.name in config.included:
            low, high = self._global_span(config)
            left, right = min(left, low), max(right, high)
        if drawn_at is not None:
            left, right = min(left, drawn_at), max(right, drawn_at)
        margin = 0.03 * (right - left)
        peak = float(histogram.counts.max()) if histogram.counts.size else 1.0
        y_range = (np.log10(LOG_FLOOR), np.log10(max(peak, 1.0)) + 0.15) if log else (0.0, max(peak, 1.0) * 1.08)
        frame = (
            what,
            f"{counted} (log scale)" if log else counted,
            point_size(self),
            self.theme.key,
            (max(0.0, left - margin), right + margin),
            y_range,
            log,
        )
        if frame != self._frame:  # a k step mostly moves the line only: the axes are not redrawn for it
            self._frame = frame
            set_axis_labels(self.plot, frame[0], frame[1], frame[2], self.theme)
            self.plot.setXRange(*frame[4], padding=0)
            self.plot.setYRange(*y_range, padding=0)
            # the heights are log10-transformed here; the axis only labels its ticks as powers of ten
            self.plot.getAxis("left").setLogMode(False, log)
        self._split_at(drawn_at, frame[4], y_range)

        # the text stays inside the plot: right of the line on the left part, left of it beyond
        self.marker.show(drawn_at, y_range, drawn_at is not None and drawn_at >= left + 0.6 * (right - left), label)

        self.caption.setText(
            f"<b>{layer.name}</b> ({layer.kind}, {layer.matrix_label}): "
            + (
                (
                    "magnitudes of the original weights"
                    if method == "weight"
                    else (
                        "it has no unit definition, so unit pruning leaves it whole (weight pruning prunes it)"
                        if not layer.units
                        else f"L2 norm of each unit's {layer.fan_in:,} incoming weights"
                        if not layer.mapped and layer.group == layer.name
                        else f"L2 norm of each unit ({layer.unit_definition})"
                    )
                )
                if config.criterion == "magnitude"
                else f"{score_label(config.criterion, method)} of each {'weight' if method == 'weight' else 'unit'}, "
                "the number the threshold cuts"
            )
        )
        self.summary.show_text(
            f"{self._legend()} &nbsp;&nbsp; {self._summary(layer, result, threshold)}",
            (layer.name, config.method, config.scope, config.criterion, log),
        )

    def _legend(self) -> str:
        return f"{PRUNED_LEGEND} &nbsp; {swatch(self.theme.kept, 'kept')}"

    def _split_at(self, threshold: float | None, x_range: tuple, y_range: tuple) -> None:
        """Clip the pruned side to the left of ``threshold`` and the kept side to its right (None:
        all kept), each within the axes' ranges: a k step then repaints the plot's inside, not its axes
        (the view box clips at its edges anyway)."""
        (left, right), (bottom, top) = x_range, y_range
        cut = left if threshold is None else min(max(threshold, left), right)
        self.pruned_side.setRect(QRectF(left, bottom, cut - left, top - bottom))  # an unchanged rect: Qt does nothing
        self.kept_side.setRect(QRectF(cut, bottom, right - cut, top - bottom))
        self.pruned_bars.setVisible(threshold is not None)

    def _show_steps(self, histogram: Histogram | None, log: bool) -> None:
        """Both sides' bars: the histogram's counts (log10 of them on a log axis) as one outline; kept
        as they are when they already show these."""
        if (histogram, log) == self._shown:
            return
        self._shown = (histogram, log)
        if histogram is None:
            self.steps = None
            path = QPainterPath()
        else:
            counts = histogram.counts.astype(np.float64)
            heights = np.log10(np.maximum(counts, LOG_FLOOR)) if log else counts
            base = np.log10(LOG_FLOOR) if log else 0.0
            self.steps = (histogram.edges, heights)
            x = np.repeat(histogram.edges, 2)  # each edge twice: the step down from one bar, up to the next
            y = np.concatenate([[base], np.repeat(heights, 2), [base]])
            path = QPainterPath()
            path.addPolygon(QPolygonF([QPointF(a, b) for a, b in zip(x.tolist(), y.tolist())]))
            path.closeSubpath()
        for bars in (self.pruned_bars, self.kept_bars):
            bars.setPath(path)

    def _summary(self, layer, result: PruneResult | None, threshold: float | None) -> str:
        if result is None:
            return ""
        config = result.config
        if layer.name not in config.included:
            return f"<span style='color:{self.theme.muted}'>{layer.name} is not selected for pruning.</span>"
        stats = result.layer(layer.name)
        if config.pattern:
            share = f"{stats.pruned:,} of {stats.size:,} weights pruned ({stats.pruned / stats.size:.1%})"
            if config.method == "nm":
                return f"{config.pattern} (N:M): {share}, the lowest {config.nm[1] - config.nm[0]} of every group"
            return f"k = {config.k:g}% of {config.pattern} blocks: {share}, ranked by block L2 norm"
        scope = (
            "global threshold, shared by all selected layers" if config.scope == "global" else "this layer's threshold"
        )
        if config.method == "weight":
            pruned = f"{stats.pruned:,} of {stats.size:,} weights pruned ({stats.pruned / stats.size:.1%})"
        else:
            pruned = f"{stats.pruned_units:,} of {stats.units:,} units pruned"
        if threshold is None:
            return f"k = {config.k:g}%: nothing pruned in {layer.name}."
        sign = (
            ("|w|" if config.method == "weight" else "norm")
            if config.criterion == "magnitude"
            else score_label(config.criterion, config.method)
        )
        if is_non_finite(np.float32(threshold)):  # NaN sorts last, infinities just before it (core.plan)
            which = "NaN" if np.isnan(threshold) else "infinite"
            return f"k = {config.k:g}%: {pruned}; {scope} falls among the {which} scores: every finite one is pruned"
        return f"k = {config.k:g}%: {pruned}; {scope}: {sign} ≤ {threshold:.4g}"
