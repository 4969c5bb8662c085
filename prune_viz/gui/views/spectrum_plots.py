"""Pictures of core.spectrum's spectra: the eigenvalue spectral density on log-log axes with its fitted
power law and xmin, the singular values by rank, and alpha against k per tensor from a scan.

The original matrix is drawn in the muted grey and the pruned one in the kept blue, in both pictures,
so "before" and "at k" read the same everywhere; the page's title and caption say so, so the ESD and
the singular values have no legend of their own (at 18 pt it would take half a short plot). Axes are
log10 of the values (pyqtgraph's own log mode cannot draw a histogram's empty bins). Every plot
restyles its text on a FontChange (presenter mode)."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from prune_viz.gui.views.colours import KEPT, MUTED, qualitative_style
from prune_viz.gui.views.pictures import is_font_change, outside_legend, point_size, style_plot

BINS = 40
LOW_QUANTILE = 0.01  # the ESD's x axis starts at this quantile of the nonzero eigenvalues
ORIGINAL, PRUNED_AT_K = MUTED, KEPT


class _Plot(pg.PlotWidget):
    """A white plot whose axis text (and legend, if it has one) follows the widget's font."""

    axes = ("", "")  # (bottom, left) titles

    def __init__(self, parent=None):
        super().__init__(parent=parent, background="w")
        self.plot_item = self.getPlotItem()

    def apply_font(self) -> None:
        style_plot(self.plot_item, *self.axes, point_size(self))

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if is_font_change(event):
            self.apply_font()


def log_histogram(eigenvalues: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log10 bin centres, log10 density) of the nonzero bins of ``eigenvalues`` over log10 ``edges``;
    the density is per unit of eigenvalue, so a power law p(x) ~ x^-alpha is a line of slope -alpha."""
    values = eigenvalues[eigenvalues > 0]
    if not len(values):
        return np.zeros(0), np.zeros(0)
    counts, _ = np.histogram(np.log10(values), edges)
    widths = 10.0 ** edges[1:] - 10.0 ** edges[:-1]
    full = counts > 0
    density = counts[full] / (len(eigenvalues) * widths[full])
    return ((edges[:-1] + edges[1:]) / 2)[full], np.log10(density)


def power_law_line(spectrum) -> tuple[np.ndarray, np.ndarray] | None:
    """The fitted power law as log10 (x, density) from xmin to the largest eigenvalue, scaled to the share
    of eigenvalues in the tail (so it lies on the histogram), or None without a fit."""
    fit = spectrum.fit
    if not fit.fitted or fit.alpha <= 1 or spectrum.lambda_max <= fit.xmin:
        return None
    x = np.linspace(math.log10(fit.xmin), math.log10(spectrum.lambda_max), 20)
    scale = fit.tail / len(spectrum.eigenvalues) * (fit.alpha - 1) / fit.xmin
    return x, math.log10(scale) - fit.alpha * (x - math.log10(fit.xmin))


class EsdPlot(_Plot):
    """The ESD of the original and the pruned matrix, each with its power-law line and xmin."""

    axes = ("log10 eigenvalue", "log10 density")  # of W^T W / N: the page's title says

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumSize(160, 180)  # two side by side in a narrow lab panel
        self.apply_font()
        self.shown: tuple = (None, None)

    def show_spectra(self, original, pruned, k: float | None) -> None:
        self.plot_item.clear()
        self.shown = (original, pruned)
        spectra = [s for s in (original, pruned) if s is not None and len(s.nonzero)]
        if not spectra:
            return
        # from the 1st percentile: a dead unit's lone 1e-12 would squeeze the bulk into a few bins
        low = min(math.log10(np.quantile(s.nonzero, LOW_QUANTILE)) for s in spectra)
        high = max(math.log10(s.lambda_max) for s in spectra)
        edges = np.linspace(low, high + 1e-9 if high > low else low + 1, BINS + 1)
        pairs = [(original, ORIGINAL, "original")]
        if pruned is not None and pruned is not original:
            pairs.append((pruned, PRUNED_AT_K, f"pruned at k = {k:g}%"))
        for spectrum, colour, label in pairs:
            x, y = log_histogram(spectrum.eigenvalues, edges)
            self.plot_item.plot(
                x,
                y,
                pen=pg.mkPen(colour, width=2),
                symbol="o",
                symbolSize=4,
                symbolBrush=colour,
                symbolPen=colour,
                name=label,
            )
            line = power_law_line(spectrum)
            if line is not None:
                dashed = pg.mkPen(colour, width=2, style=Qt.PenStyle.DashLine)
                self.plot_item.plot(*line, pen=dashed, name=f"alpha = {spectrum.fit.alpha:.2f}")
                xmin = pg.InfiniteLine(math.log10(spectrum.fit.xmin), angle=90, pen=pg.mkPen(colour, width=1))
                self.plot_item.addItem(xmin)


class SingularValuesPlot(_Plot):
    """log10 of the singular values, largest first, of the original and the pruned matrix (all its kernel
    positions' together, for a convolution)."""

    axes = ("rank, largest first", "log10 σ")  # σ: a singular value (the caption says)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumSize(160, 180)  # two side by side in a narrow lab panel
        self.apply_font()

    def show_spectra(self, original, pruned, k: float | None) -> None:
        self.plot_item.clear()
        pairs = [(original, ORIGINAL, "original")]
        if pruned is not None and pruned is not original:
            pairs.append((pruned, PRUNED_AT_K, f"pruned at k = {k:g}%"))
        for spectrum, colour, label in pairs:
            if spectrum is None:
                continue
            values = spectrum.singular_values
            values = values[values > 0]
            self.plot_item.plot(
                np.arange(1, len(values) + 1), np.log10(values), pen=pg.mkPen(colour, width=2), name=label
            )


class AlphaScanPlot(_Plot):
    """alpha against k, one curve (colour and marker) per tensor, filled in as a scan's points arrive."""

    axes = ("k (%)", "alpha")

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumSize(220, 200)
        outside_legend(self.plot_item, columns=3)
        self.apply_font()
        self.points: dict[str, list[tuple[float, float]]] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}

    def clear_scan(self) -> None:
        self.points, self.curves = {}, {}
        self.plot_item.clear()
        self.plot_item.legend.clear()

    def add_point(self, point) -> None:
        for name, spectrum in point.spectra.items():
            if not spectrum.fit.fitted:
                continue
            self.points.setdefault(name, []).append((point.k, spectrum.fit.alpha))
            xy = np.array(sorted(self.points[name]))
            curve = self.curves.get(name)
            if curve is None:
                colour, marker = qualitative_style(len(self.curves))
                curve = self.plot_item.plot(
                    pen=pg.mkPen(colour, width=2), symbol=marker, symbolBrush=colour, symbolPen=colour, name=name
                )
                self.curves[name] = curve
            curve.setData(xy[:, 0], xy[:, 1])
