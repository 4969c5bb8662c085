"""Details of the last evaluation: per-digit accuracy bars and the 10x10 confusion matrix.

Greyed, with the Session's sentence on why, as soon as ``session.why_stale`` says
the evaluation no longer applies (other settings, other test data or scaling).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from prune_viz.gui.pictures_qt import (
    FOREGROUND,
    KEPT,
    MUTED,
    STALE_OPACITY,
    SMALL_SCALE,
    bind,
    caption_label,
    is_font_change,
    new_plot_widget,
    point_size,
    sized_font,
    style_plot,
)

DIGITS = list(range(10))
DIGIT_TICKS = [[(d, str(d)) for d in DIGITS]]
BAR_WIDTH = 0.7
# Confusion colours: white to dark blue with a power ramp, so the few dozen off-diagonal
# mistakes are visible next to diagonal counts near a thousand.
CONFUSION_GAMMA = 0.4
CONFUSION_COLOURS = ("#ffffff", "#c6dbef", "#6baed6", "#2171b5", "#08306b")
STALE_NOTE_STYLE = "background: #fff3cd; color: #664d03; border: 1px solid #e0c36c; padding: 4px;"


def confusion_lut(levels: int = 256) -> np.ndarray:
    """RGB lookup table indexed linearly by count, coloured along count**CONFUSION_GAMMA."""
    cmap = pg.ColorMap(np.linspace(0.0, 1.0, len(CONFUSION_COLOURS)), [pg.mkColor(c) for c in CONFUSION_COLOURS])
    ramp = np.linspace(0.0, 1.0, levels) ** CONFUSION_GAMMA
    return cmap.map(ramp, mode="byte")[:, :3]


class ConfusionMatrix(QtWidgets.QWidget):
    """A 10x10 confusion matrix with its counts written in the cells (rows = true digit).

    ``cell_clicked(true, predicted)`` fires on a left click in a cell.
    """

    cell_clicked = QtCore.Signal(int, int)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.counts: np.ndarray | None = None
        self.widget = new_plot_widget(self)
        self.plot = self.widget.getPlotItem()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.invertY(True)
        self.plot.setAspectLocked(True)
        for side in ("bottom", "left"):
            self.plot.getAxis(side).setTicks(DIGIT_TICKS)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLookupTable(confusion_lut())
        self.plot.addItem(self.image)
        frame = QtWidgets.QGraphicsRectItem(-0.5, -0.5, 10, 10)  # empty cells are white: show the edge
        frame.setPen(pg.mkPen(MUTED, width=1))
        self.plot.addItem(frame)
        self.plot.setRange(xRange=(-0.5, 9.5), yRange=(-0.5, 9.5), padding=0.02)
        self.plot.getViewBox().sigResized.connect(self._fit_count_font)
        self.widget.scene().sigMouseClicked.connect(self._on_click)
        self.count_labels = np.empty((10, 10), dtype=object)
        for true in DIGITS:
            for predicted in DIGITS:
                label = pg.TextItem("", anchor=(0.5, 0.5))
                label.setPos(predicted, true)
                self.plot.addItem(label)
                self.count_labels[true, predicted] = label
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.widget)
        self._apply_font()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if is_font_change(event):
            self._apply_font()

    def _apply_font(self) -> None:
        style_plot(self.plot, "predicted digit", "true digit", point_size(self))
        self.plot.showGrid(x=False, y=False)
        self._fit_count_font()

    def _fit_count_font(self, *_args) -> None:
        """Counts as large as the widget's small font, but never wider than their cell."""
        cell_pixels = 1.0 / max(self.plot.getViewBox().viewPixelSize()[0], 1e-9)
        font = sized_font(point_size(self) * SMALL_SCALE)
        widest = QtGui.QFontMetricsF(font).horizontalAdvance("0000")
        if widest > 0.9 * cell_pixels:
            font.setPointSizeF(max(5.0, font.pointSizeF() * 0.9 * cell_pixels / widest))
        for label in self.count_labels.flat:
            label.setFont(font)

    def show_counts(self, confusion: np.ndarray) -> None:
        confusion = np.asarray(confusion)
        self.counts = confusion
        top = max(int(confusion.max()), 1)
        self.image.setImage(confusion, autoLevels=False, levels=(0, top))
        self.image.setRect(QtCore.QRectF(-0.5, -0.5, 10, 10))
        for (true, predicted), count in np.ndenumerate(confusion):
            label = self.count_labels[true, predicted]
            label.setText(str(count) if count else "")
            dark = (count / top) ** CONFUSION_GAMMA > 0.55
            label.setColor("#ffffff" if dark else FOREGROUND)

    def clear(self) -> None:
        self.counts = None
        self.image.clear()
        for label in self.count_labels.flat:
            label.setText("")

    def cell_at(self, scene_pos) -> tuple[int, int] | None:
        """(true, predicted) of the cell under a scene position, or None outside the matrix."""
        point = self.plot.getViewBox().mapSceneToView(scene_pos)
        predicted, true = int(round(point.x())), int(round(point.y()))
        return (true, predicted) if 0 <= predicted <= 9 and 0 <= true <= 9 else None

    def _on_click(self, event) -> None:
        if event.button() != QtCore.Qt.MouseButton.LeftButton or self.counts is None:
            return
        cell = self.cell_at(event.scenePos())
        if cell is not None:
            self.cell_clicked.emit(*cell)


class EvaluationDetails(QtWidgets.QWidget):
    """Per-class accuracy and confusion matrix of ``session.last_evaluation``."""

    def __init__(self, session, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.record = None

        self.caption = caption_label(self)
        self.stale_note = QtWidgets.QLabel(self)
        self.stale_note.setWordWrap(True)
        self.stale_note.setStyleSheet(STALE_NOTE_STYLE)
        # never squeezed below its wrapped text by the pictures
        self.stale_note.setSizePolicy(QtWidgets.QSizePolicy.Policy.Preferred, QtWidgets.QSizePolicy.Policy.Minimum)
        self.stale_note.setVisible(False)

        # per-class accuracy
        self.bars_widget = new_plot_widget(self)
        self.bars_plot = self.bars_widget.getPlotItem()
        self.bars_plot.setMouseEnabled(x=False, y=False)
        self.bars_plot.getAxis("bottom").setTicks(DIGIT_TICKS)
        self.bars_plot.setXRange(-0.6, 9.6, padding=0)
        self.bars_plot.setYRange(0, 110, padding=0)
        self.bars_plot.getAxis("left").setTicks([[(v, str(v)) for v in range(0, 101, 20)]])
        self.baseline_bars = pg.BarGraphItem(x=DIGITS, height=np.zeros(10), width=BAR_WIDTH + 0.16,
                                             brush=pg.mkBrush(0, 0, 0, 0), pen=pg.mkPen(MUTED, width=1.5, dash=[3, 2]))
        self.bars = pg.BarGraphItem(x=DIGITS, height=np.zeros(10), width=BAR_WIDTH,
                                    brush=pg.mkBrush(KEPT), pen=pg.mkPen(KEPT))
        self.overall_line = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen(FOREGROUND, width=1.5, dash=[6, 4]))
        self.bars_plot.addItem(self.baseline_bars)
        self.bars_plot.addItem(self.bars)
        self.bars_plot.addItem(self.overall_line)
        self.bar_labels = []
        for digit in DIGITS:
            label = pg.TextItem("", color=FOREGROUND, anchor=(0.5, 1.0))
            label.setPos(digit, 0)
            self.bars_plot.addItem(label)
            self.bar_labels.append(label)

        # confusion matrix, row = true digit
        self.matrix = ConfusionMatrix(self)
        self.confusion_widget = self.matrix.widget
        self.confusion_plot = self.matrix.plot
        self.confusion_image = self.matrix.image
        self.count_labels = self.matrix.count_labels
        self.confusion_widget.scene().sigMouseMoved.connect(self._on_confusion_hover)

        pictures = QtWidgets.QHBoxLayout()
        pictures.addWidget(self.bars_widget, 1)
        pictures.addWidget(self.matrix, 1)
        self.legend = caption_label(self)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.caption)
        layout.addWidget(self.stale_note)
        layout.addLayout(pictures, 1)
        layout.addWidget(self.legend)

        bind(self, session.model_changed, self._on_model_changed)
        bind(self, session.evaluation_changed, self._on_evaluation_changed)
        bind(self, session.config_changed, self._on_config_changed)
        bind(self, session.data_changed, self._on_data_changed)
        self._apply_font()
        self.show_record(session.last_evaluation)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if is_font_change(event):
            self._apply_font()

    def _apply_font(self) -> None:
        points = point_size(self)
        style_plot(self.bars_plot, "digit", "accuracy (%)", points)
        self.bars_plot.showGrid(x=False, y=True, alpha=0.25)
        small = sized_font(points * SMALL_SCALE)
        for label in self.bar_labels:
            label.setFont(small)

    # -- public ---------------------------------------------------------------------------------
    @property
    def is_stale(self) -> bool:
        """The settings or the test data changed since the shown evaluation."""
        return self.session.why_stale(self.record) is not None

    @property
    def confusion(self) -> np.ndarray | None:
        """The counts the confusion image shows (rows = true digit), or None."""
        image = self.confusion_image.image
        return None if image is None or self.record is None else np.asarray(image)

    @property
    def bar_heights(self) -> np.ndarray:
        """Per-digit accuracy (%) the bars show."""
        return np.asarray(self.bars.opts["height"], dtype=np.float64)

    def show_record(self, record) -> None:
        self.record = record
        if record is None:
            self._clear()
        else:
            self._draw(record)
        self._update_staleness()

    # -- session --------------------------------------------------------------------------------
    def _on_model_changed(self, _opened) -> None:
        self.show_record(None)

    def _on_evaluation_changed(self, record) -> None:
        self.show_record(record)

    def _on_config_changed(self, _config) -> None:
        self._update_staleness()

    def _on_data_changed(self) -> None:
        self._update_staleness()

    # -- drawing --------------------------------------------------------------------------------
    def _clear(self) -> None:
        self.bars.setOpts(height=np.zeros(10))
        self.baseline_bars.setOpts(height=np.zeros(10))
        self.overall_line.setVisible(False)
        for label in self.bar_labels:
            label.setText("")
        self.matrix.clear()
        self.caption.setText("<b>Evaluation details</b>: evaluate the model to see per-digit accuracy "
                             "and which digits it confuses.")
        self.legend.setText("")

    def _draw(self, record) -> None:
        result = record.result
        per_class = 100.0 * np.nan_to_num(np.asarray(result.per_class_accuracy, dtype=np.float64), nan=0.0)
        self.bars.setOpts(height=per_class)
        for digit, label in enumerate(self.bar_labels):
            label.setText(f"{per_class[digit]:.0f}")
            label.setPos(digit, per_class[digit] + 0.5)
        self.overall_line.setValue(100.0 * result.accuracy)
        self.overall_line.setVisible(True)

        baseline = self.session.baseline()
        comparable = (baseline is not None and baseline is not record
                      and baseline.data_source == record.data_source
                      and baseline.result.preprocessing == result.preprocessing)
        heights = 100.0 * np.nan_to_num(baseline.result.per_class_accuracy, nan=0.0) if comparable else np.zeros(10)
        self.baseline_bars.setOpts(height=heights)
        self.baseline_bars.setVisible(bool(comparable))

        self.matrix.show_counts(result.confusion)

        self.caption.setText(
            f"<b>{record.config.describe()}</b>: accuracy <b>{100.0 * result.accuracy:.2f}%</b> "
            f"({result.correct:,} of {result.total:,} test images)"
            + (f", unpruned {100.0 * baseline.result.accuracy:.2f}%" if comparable else "")
        )
        legend = [
            f"<span style='color:{KEPT}; font-size:large'>■</span> accuracy per digit",
            "<b>- -</b> overall",
        ]
        if comparable:
            legend.append(f"<span style='color:{MUTED}'>┆ ┆</span> unpruned")
        legend.append("confusion: row = true digit, column = predicted, diagonal = correct")
        self.legend.setText(" &nbsp; ".join(legend))

    def describe_cell(self, true: int, predicted: int) -> str:
        """The hover text of a confusion cell."""
        confusion = self.record.result.confusion
        count, row_total = int(confusion[true, predicted]), int(confusion[true].sum())
        share = f" ({count / row_total:.1%} of the {row_total:,} test images of a {true})" if row_total else ""
        if true == predicted:
            return f"{count:,} images of a {true} correctly recognised{share}"
        return f"{count:,} images of a {true} taken for a {predicted}{share}"

    def _on_confusion_hover(self, scene_pos) -> None:
        if self.record is None:
            return
        cell = self.matrix.cell_at(scene_pos)
        self.confusion_widget.setToolTip(self.describe_cell(*cell) if cell is not None else "")

    def _update_staleness(self) -> None:
        why = self.session.why_stale(self.record)
        stale = why is not None
        opacity = STALE_OPACITY if stale else 1.0
        for item in (self.bars, self.baseline_bars, self.overall_line, self.confusion_image,
                     *self.bar_labels, *self.count_labels.flat):
            item.setOpacity(opacity)
        self.stale_note.setVisible(stale)
        if stale:
            self.stale_note.setText(f"{why} It is for {self.record.config.describe()}. Evaluate again to update.")

