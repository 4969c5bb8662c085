"""Details of the last evaluation: per-class accuracy bars and the confusion matrix, sized to the
model's classes and named after them (the data's class names: digits for MNIST, "T-shirt/top" ...
for Fashion-MNIST, the sub-folders of an image folder).

Greyed, with the Session's sentence on why, as soon as ``session.why_stale`` says
the evaluation no longer applies (other settings, other test data or scaling).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from prune_viz.gui.binding import bind
from prune_viz.gui.views.colours import LIGHT, Theme
from prune_viz.gui.views.pictures import (
    READABLE_POINTS,
    STALE_OPACITY,
    caption_label,
    is_font_change,
    new_plot_widget,
    point_size,
    sized_font,
    small_points,
    style_plot,
    swatch,
)

DIGITS = list(range(10))
DIGIT_NAMES = tuple(str(d) for d in DIGITS)
DIGIT_TICKS = [[(d, str(d)) for d in DIGITS]]
MAX_NAMED_TICKS = 12  # more classes than this: every few are numbered, names are in the tooltips


def class_ticks(names: tuple[str, ...]) -> list:
    """Axis ticks for ``names``: each name when they are few, else every few class numbers."""
    if len(names) <= MAX_NAMED_TICKS:
        return [[(i, name) for i, name in enumerate(names)]]
    step = int(np.ceil(len(names) / MAX_NAMED_TICKS))
    return [[(i, str(i)) for i in range(0, len(names), step)]]


def class_word(names: tuple[str, ...]) -> str:
    return "digit" if tuple(names) == DIGIT_NAMES else "class"


BAR_WIDTH = 0.7
# Confusion colours: white to dark blue with a power ramp, so the few dozen off-diagonal
# mistakes are visible next to diagonal counts near a thousand.
CONFUSION_GAMMA = 0.4
CONFUSION_COLOURS = ("#ffffff", "#c6dbef", "#6baed6", "#2171b5", "#08306b")
HIGH_CONTRAST_CONFUSION = ("#000000", "#3b0f70", "#8c2981", "#de4968", "#fe9f6d", "#fcfdbf")  # magma: 0 is black
MIN_COUNT_POINTS = 7.0  # smaller counts are not drawn at all (enlarge the matrix to read them)
BAR_LABEL_BASE = 2.0  # bar values are written up the bar from here, clear of the overall line
STALE_NOTE_COLOURS = ("#fff3cd", "#664d03")  # background, text and border: a pale amber note


def confusion_lut(levels: int = 256, colours: tuple = CONFUSION_COLOURS) -> np.ndarray:
    """RGB lookup table indexed linearly by count, coloured along count**CONFUSION_GAMMA."""
    cmap = pg.ColorMap(np.linspace(0.0, 1.0, len(colours)), [pg.mkColor(c) for c in colours])
    ramp = np.linspace(0.0, 1.0, levels) ** CONFUSION_GAMMA
    return cmap.map(ramp, mode="byte")[:, :3]


class ConfusionMatrix(QtWidgets.QWidget):
    """A 10x10 confusion matrix with its counts written in the cells (rows = true digit).

    ``cell_clicked(true, predicted)`` fires on a left click in a cell.
    """

    cell_clicked = QtCore.Signal(int, int)
    counts_shown_changed = QtCore.Signal(bool)

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.counts: np.ndarray | None = None
        self.names: tuple[str, ...] = DIGIT_NAMES
        self.theme: Theme = LIGHT
        self._lut = confusion_lut()
        self.counts_shown = True  # False when the cells are too small for readable counts
        self.widget = new_plot_widget(self)
        self.plot = self.widget.getPlotItem()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.invertY(True)
        self.plot.setAspectLocked(True)
        for side in ("bottom", "left"):
            self.plot.getAxis(side).setTicks(DIGIT_TICKS)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setLookupTable(self._lut)
        self.plot.addItem(self.image)
        self.frame = QtWidgets.QGraphicsRectItem(-0.5, -0.5, 10, 10)  # empty cells are white: show the edge
        self.frame.setPen(pg.mkPen(self.theme.muted, width=1))
        self.plot.addItem(self.frame)
        self.plot.setRange(xRange=(-0.5, 9.5), yRange=(-0.5, 9.5), padding=0.02)
        self.plot.getViewBox().sigResized.connect(self._fit_count_font)
        self.widget.scene().sigMouseClicked.connect(self._on_click)
        self.count_labels = np.empty((0, 0), dtype=object)
        self._make_cells(len(DIGIT_NAMES))
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.widget)
        self._apply_font()

    def _make_cells(self, n: int) -> None:
        for label in self.count_labels.flat:
            self.plot.removeItem(label)
        self.count_labels = np.empty((n, n), dtype=object)
        for true in range(n):
            for predicted in range(n):
                label = pg.TextItem("", anchor=(0.5, 0.5))
                label.setPos(predicted, true)
                self.plot.addItem(label)
                self.count_labels[true, predicted] = label
        self.frame.setRect(-0.5, -0.5, n, n)
        self.plot.setRange(xRange=(-0.5, n - 0.5), yRange=(-0.5, n - 0.5), padding=0.02)

    def set_classes(self, names: tuple[str, ...]) -> None:
        """Size the matrix to ``names`` and write them on its axes."""
        names = tuple(names)
        if names == self.names:
            return
        self.names = names
        self._make_cells(len(names))
        for side in ("bottom", "left"):
            self.plot.getAxis(side).setTicks(class_ticks(names))
        self._apply_font()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if is_font_change(event):
            self._apply_font()

    def _apply_font(self) -> None:
        word = class_word(self.names)
        style_plot(self.plot, f"predicted {word}", f"true {word}", point_size(self), self.theme)
        self.plot.showGrid(x=False, y=False)
        self._fit_count_font()

    def set_theme(self, theme: Theme) -> None:
        """Light, or high contrast: black background and a magma ramp (0 is black) for the counts."""
        self.theme = theme
        self.widget.setBackground(theme.background)
        self.frame.setPen(pg.mkPen(theme.muted, width=1))
        self._lut = confusion_lut(colours=CONFUSION_COLOURS if theme is LIGHT else HIGH_CONTRAST_CONFUSION)
        self.image.setLookupTable(self._lut)
        self._apply_font()
        if self.counts is not None:
            self.show_counts(self.counts)

    def _fit_count_font(self, *_args) -> None:
        """Counts as large as the widget's small font, but never wider than their cell; counts that
        would be too small to read (below READABLE_POINTS in presenter mode) are not drawn."""
        cell_pixels = 1.0 / max(self.plot.getViewBox().viewPixelSize()[0], 1e-9)
        points = small_points(point_size(self))
        floor = READABLE_POINTS if points >= READABLE_POINTS else MIN_COUNT_POINTS
        font = sized_font(points)
        digits = len(str(int(self.counts.max()))) if self.counts is not None else 4
        widest = QtGui.QFontMetricsF(font).horizontalAdvance("0" * max(digits, 2))
        if widest > 0.95 * cell_pixels:
            font.setPointSizeF(font.pointSizeF() * 0.95 * cell_pixels / widest)
        shown = font.pointSizeF() >= floor
        for label in self.count_labels.flat:
            label.setFont(font)
            label.setVisible(shown)
        if shown != self.counts_shown:
            self.counts_shown = shown
            self.counts_shown_changed.emit(shown)

    def show_counts(self, confusion: np.ndarray) -> None:
        confusion = np.asarray(confusion)
        self.counts = confusion
        top = max(int(confusion.max()), 1)
        self.image.setImage(confusion, autoLevels=False, levels=(0, top))
        self.image.setRect(QtCore.QRectF(-0.5, -0.5, len(confusion), len(confusion)))
        self._fit_count_font()  # the widest count decides
        for (true, predicted), count in np.ndenumerate(confusion):
            label = self.count_labels[true, predicted]
            label.setText(str(count) if count else "")
            cell = self._lut[min(255, int(round(255 * count / top)))].astype(float)
            dark = cell @ (0.299, 0.587, 0.114) < 140  # white text on dark cells, black on light ones
            label.setColor("#ffffff" if dark else "#000000")

    def clear(self) -> None:
        self.counts = None
        self.image.clear()
        for label in self.count_labels.flat:
            label.setText("")

    def cell_at(self, scene_pos) -> tuple[int, int] | None:
        """(true, predicted) of the cell under a scene position, or None outside the matrix."""
        point = self.plot.getViewBox().mapSceneToView(scene_pos)
        predicted, true = int(round(point.x())), int(round(point.y()))
        n = len(self.names)
        return (true, predicted) if 0 <= predicted < n and 0 <= true < n else None

    def _on_click(self, event) -> None:
        if event.button() != QtCore.Qt.MouseButton.LeftButton or self.counts is None:
            return
        cell = self.cell_at(event.scenePos())
        if cell is not None:
            self.cell_clicked.emit(*cell)


def stale_note_label(parent: QtWidgets.QWidget) -> QtWidgets.QLabel:
    """An amber note in a box, painted from its palette: a style sheet would keep it at the font it had
    when it was styled, not presenter mode's 18 pt."""
    note = QtWidgets.QLabel(parent)
    note.setWordWrap(True)
    note.setFrameShape(QtWidgets.QFrame.Shape.Box)
    note.setMargin(4)
    note.setAutoFillBackground(True)
    background, text = (QtGui.QColor(colour) for colour in STALE_NOTE_COLOURS)
    palette = note.palette()
    palette.setColor(QtGui.QPalette.ColorRole.Window, background)
    palette.setColor(QtGui.QPalette.ColorRole.WindowText, text)
    note.setPalette(palette)
    return note


class EvaluationDetails(QtWidgets.QWidget):
    """Per-class accuracy and confusion matrix of ``session.last_evaluation``."""

    def __init__(self, session, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.record = None
        self.theme: Theme = LIGHT
        self.names: tuple[str, ...] = DIGIT_NAMES  # the classes the bars and the matrix show
        self.parts = (True, True)  # the pictures set_parts asks for (bars, confusion)
        self.has_classes = True  # False for a result without classes (regression, agreement): no pictures

        self.caption = caption_label(self)
        self.stale_note = stale_note_label(self)
        self.short_stale_note = False  # presenter mode: what it is for, not why (the result above says why)
        # never squeezed below its wrapped text by the pictures
        self.stale_note.setSizePolicy(QtWidgets.QSizePolicy.Policy.Preferred, QtWidgets.QSizePolicy.Policy.Minimum)
        self.stale_note.setVisible(False)

        # per-class accuracy
        self.bars_widget = new_plot_widget(self)
        self.bars_plot = self.bars_widget.getPlotItem()
        self.bars_plot.setMouseEnabled(x=False, y=False)
        self.bars_plot.getAxis("bottom").setTicks(DIGIT_TICKS)
        self.bars_plot.setXRange(-0.6, 9.6, padding=0)
        self.bars_plot.setYRange(0, 104, padding=0)
        self.bars_plot.getAxis("left").setTicks([[(v, str(v)) for v in range(0, 101, 20)]])
        self.baseline_bars = pg.BarGraphItem(
            x=DIGITS,
            height=np.zeros(10),
            width=BAR_WIDTH + 0.16,
            brush=pg.mkBrush(0, 0, 0, 0),
            pen=pg.mkPen(self.theme.muted, width=1.5, dash=[3, 2]),
        )
        self.bars = pg.BarGraphItem(
            x=DIGITS,
            height=np.zeros(10),
            width=BAR_WIDTH,
            brush=pg.mkBrush(self.theme.kept),
            pen=pg.mkPen(self.theme.kept),
        )
        self.overall_line = pg.InfiniteLine(
            angle=0, movable=False, pen=pg.mkPen(self.theme.foreground, width=1.5, dash=[6, 4])
        )
        self.bars_plot.addItem(self.baseline_bars)
        self.bars_plot.addItem(self.bars)
        self.bars_plot.addItem(self.overall_line)
        self.bar_labels = []
        self._make_bar_labels(len(DIGITS))

        # confusion matrix, row = true digit
        self.matrix = ConfusionMatrix(self)
        self.confusion_widget = self.matrix.widget
        self.confusion_plot = self.matrix.plot
        self.confusion_image = self.matrix.image
        self.count_labels = self.matrix.count_labels
        self.matrix.counts_shown_changed.connect(self._on_counts_shown)
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

    def _make_bar_labels(self, n: int) -> None:
        for label in self.bar_labels:
            self.bars_plot.removeItem(label)
        self.bar_labels = []
        for index in range(n):
            # written up the bar from its foot: never over a neighbour, the overall line or the top edge
            label = pg.TextItem("", color="#ffffff", anchor=(0.0, 0.5), angle=90)
            label.setPos(index, BAR_LABEL_BASE)
            self.bars_plot.addItem(label)
            self.bar_labels.append(label)

    def set_classes(self, names: tuple[str, ...]) -> None:
        """One bar per class, named on the axis; the matrix sized and named to match."""
        names = tuple(names)
        if names != self.names:
            self.names = names
            n = len(names)
            self._make_bar_labels(n)
            self.bars_plot.getAxis("bottom").setTicks(class_ticks(names))
            self.bars_plot.setXRange(-0.6, n - 0.4, padding=0)
            self.bars.setOpts(x=np.arange(n), height=np.zeros(n))
            self.baseline_bars.setOpts(x=np.arange(n), height=np.zeros(n))
            self._apply_font()
        self.matrix.set_classes(names)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if is_font_change(event):
            self._apply_font()

    def _apply_font(self) -> None:
        points = point_size(self)
        # presenter type on a short chart (a 720-pixel projector): the axis says "%", the tab says the rest
        left = "accuracy (%)" if points < READABLE_POINTS else "%"
        style_plot(self.bars_plot, class_word(self.names), left, points, self.theme)
        self.bars_plot.showGrid(x=False, y=True, alpha=self.theme.grid_alpha)
        small = sized_font(small_points(points))
        for label in self.bar_labels:
            label.setFont(small)

    def set_theme(self, theme: Theme) -> None:
        """Chart colours (light, or high contrast: black background, a magma ramp for the counts)."""
        self.theme = theme
        self.bars_widget.setBackground(theme.background)
        self.bars.setOpts(brush=pg.mkBrush(theme.kept), pen=pg.mkPen(theme.kept))
        self.baseline_bars.setOpts(pen=pg.mkPen(theme.muted, width=1.5, dash=[3, 2]))
        self.overall_line.setPen(pg.mkPen(theme.foreground, width=1.5, dash=[6, 4]))
        self.matrix.set_theme(theme)
        self._apply_font()
        self.show_record(self.record)

    def set_parts(self, bars: bool = True, confusion: bool = True, captions: bool = True) -> None:
        """Show the per-digit bars, the confusion matrix or both, with or without the caption and legend
        (presenter mode shows the bars alone: the accuracy is written large just above them)."""
        self.parts = (bars, confusion)
        self.bars_widget.setVisible(bars and self.has_classes)
        self.matrix.setVisible(confusion and self.has_classes)
        self.caption.setVisible(captions)
        self.legend.setVisible(captions)
        self.short_stale_note = not captions
        if self.record is not None:
            self._update_staleness()

    @property
    def counts_shown(self) -> bool:
        return self.matrix.counts_shown

    def _on_counts_shown(self, _shown: bool) -> None:
        if self.record is not None:
            self._show_legend(self.record)

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
        """Per-class accuracy (%) the bars show."""
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
    def _clear(self, caption: str | None = None) -> None:
        if caption is None:
            self._show_pictures(True)
        n = len(self.names)
        self.bars.setOpts(height=np.zeros(n))
        self.baseline_bars.setOpts(height=np.zeros(n))
        self.overall_line.setVisible(False)
        for label in self.bar_labels:
            label.setText("")
        self.matrix.clear()
        self.caption.setText(
            caption
            or "<b>Evaluation details</b>: evaluate the model to see per-class accuracy and which classes it confuses."
        )
        self.legend.setText("")

    def _show_pictures(self, shown: bool) -> None:
        self.has_classes = shown
        self.bars_widget.setVisible(self.parts[0] and shown)
        self.matrix.setVisible(self.parts[1] and shown)

    def _draw(self, record) -> None:
        result = record.result
        classes = bool(len(result.per_class_accuracy)) and result.confusion.size > 0
        self._show_pictures(classes)
        if not classes:
            self._clear(  # regression, agreement, several outputs: no classes to chart
                f"<b>{record.config.describe()}</b>: {result.score_name} ({result.task}); "
                "no per-class chart: the model's answers are not classes of this data's labels."
            )
            return
        count = len(result.per_class_accuracy)
        names = tuple(result.class_names or ())
        if len(names) != count:
            names = tuple(str(i) for i in range(count))
        self.set_classes(names)
        per_class = 100.0 * np.nan_to_num(np.asarray(result.per_class_accuracy, dtype=np.float64), nan=0.0)
        self.bars.setOpts(height=per_class)
        for digit, label in enumerate(self.bar_labels):
            label.setText(f"{per_class[digit]:.0f}")
            label.fill = pg.mkBrush(self.theme.kept)  # readable even where a bar is shorter than its value
            label.setPos(digit, BAR_LABEL_BASE)
        self.overall_line.setValue(100.0 * result.accuracy)
        self.overall_line.setVisible(True)

        baseline = self.session.baseline()
        comparable = (
            baseline is not None
            and baseline is not record
            and baseline.data_source == record.data_source
            and baseline.result.preprocessing == result.preprocessing
        )
        comparable = comparable and len(baseline.result.per_class_accuracy) == count
        heights = 100.0 * np.nan_to_num(baseline.result.per_class_accuracy, nan=0.0) if comparable else np.zeros(count)
        self.baseline_bars.setOpts(height=heights)
        self.baseline_bars.setVisible(bool(comparable))

        self.matrix.show_counts(result.confusion)

        self.caption.setText(
            f"<b>{record.config.describe()}</b>: accuracy <b>{100.0 * result.accuracy:.2f}%</b> "
            f"({result.correct:,} of {result.total:,} test samples)"
            + (f", unpruned {100.0 * baseline.result.accuracy:.2f}%" if comparable else "")
        )
        self._show_legend(record)

    def _show_legend(self, record) -> None:
        word = class_word(self.names)
        legend = [swatch(self.theme.kept, f"accuracy per {word}"), "<b>- -</b> overall"]
        if self.baseline_bars.isVisible():
            legend.append(f"<span style='color:{self.theme.muted}'>┆ ┆</span> unpruned")
        legend.append(f"confusion: row = true {word}, column = predicted, diagonal = correct")
        if not self.counts_shown:
            legend.append("<i>(counts too small to read here: View &gt; Enlarge &gt; Confusion matrix)</i>")
        self.legend.setText(" &nbsp; ".join(legend))

    def describe_cell(self, true: int, predicted: int) -> str:
        """The hover text of a confusion cell."""
        confusion = self.record.result.confusion
        count, row_total = int(confusion[true, predicted]), int(confusion[true].sum())
        name, taken = self.names[true], self.names[predicted]
        share = f" ({count / row_total:.1%} of the {row_total:,} test images of a {name})" if row_total else ""
        if true == predicted:
            return f"{count:,} images of a {name} correctly recognised{share}"
        return f"{count:,} images of a {name} taken for a {taken}{share}"

    def _on_confusion_hover(self, scene_pos) -> None:
        if self.record is None:
            return
        cell = self.matrix.cell_at(scene_pos)
        self.confusion_widget.setToolTip(self.describe_cell(*cell) if cell is not None else "")

    def _update_staleness(self) -> None:
        why = self.session.why_stale(self.record)
        stale = why is not None
        opacity = STALE_OPACITY if stale else 1.0
        if self.bars.opacity() != opacity:  # a k step with nothing evaluated changes nothing here
            self._set_opacity(opacity)
        self.stale_note.setVisible(stale)
        if stale and self.short_stale_note:
            self.stale_note.setText(f"<b>Stale:</b> for {self.record.config.describe()}")
        elif stale:
            self.stale_note.setText(f"{why} It is for {self.record.config.describe()}. Evaluate again to update.")

    def _set_opacity(self, opacity: float) -> None:
        for item in (
            self.bars,
            self.baseline_bars,
            self.overall_line,
            self.confusion_image,
            *self.bar_labels,
            *self.count_labels.flat,
        ):
            item.setOpacity(opacity)
