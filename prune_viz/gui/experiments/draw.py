"""Draw a digit: a pad to draw on, and what the unpruned and the pruned model make of it.

The pad keeps strokes as data (lists of [x, y] from 0 to 1, x right, y down) and paints
them at once; turning them into the model's 28x28 input (core/drawing.py, the MNIST way)
and running the model happen in jobs, so drawing never waits for TensorFlow. Pen and
touch input reach the pad as the mouse events Qt synthesises for them.

Two kinds of job, each latest-wins: ``draw`` (the input's probabilities on the original
and on the currently pruned weights, redone while drawing and while k is dragged) and
``draw-flip`` (the first k, 0..100, at which the prediction flips for the current method
and scope; stopped when the drawing changes, restarted when a stroke ends).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from prune_viz.core.drawing import FIELD, PEN_WIDTH, digit_from_strokes
from prune_viz.core.flips import scan_image
from prune_viz.core.pruning import PruningConfig
from prune_viz.gui.binding import bind
from prune_viz.gui.views.colours import KEPT, LIGHT, MUTED, Theme
from prune_viz.gui.views.pictures import (
    caption_label,
    is_font_change,
    new_plot_widget,
    point_size,
    style_plot,
)
from prune_viz.gui.workers import Job, JobQueue

DRAW_KIND = "draw"
FLIP_KIND = "draw-flip"
PAD_SIDE = 252  # pixels: 9 per MNIST pixel; the pad grows and shrinks with its room
PAD_MIN = 168  # 6 per MNIST pixel: still a pad to draw on
PREVIEW_SCALE = 3
COALESCE_MS = 30  # mouse moves within this interval share one prediction job
BAR_WIDTH = 0.38
PLOT_MIN_HEIGHT = 170  # the bars with their axes at 18 pt
INK = QColor("#ffffff")
PAPER = QColor("#000000")  # white on black, as MNIST's digits are


def image_pixmap(image: np.ndarray, scale: int) -> QPixmap:
    """A uint8 greyscale image as a pixmap, each pixel a ``scale`` x ``scale`` square."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    rows, cols = image.shape
    qimage = QImage(image.data, cols, rows, cols, QImage.Format.Format_Grayscale8).copy()
    return QPixmap.fromImage(
        qimage.scaled(
            cols * scale, rows * scale, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.FastTransformation
        )
    )


class DrawingPad(QWidget):
    """A square pad: strokes in pad coordinates, or a 28x28 test image shown instead."""

    changed = Signal()  # strokes or the shown image changed (also during a stroke)
    stroke_finished = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._strokes: list[list[list[float]]] = []
        self._image: np.ndarray | None = None  # a test image sent to the pad
        self.label: int | None = None  # its true class
        self._drawing = False
        self.resize(PAD_SIDE, PAD_SIDE)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # then arrows (unused here) reach the panel and move k
        self.setToolTip("Draw a digit with the mouse, a pen or a finger (arrows: k)")

    # -- data -----------------------------------------------------------------------------------
    def strokes(self) -> list[list[list[float]]]:
        """The drawing as data: one list of [x, y] (0..1) per stroke."""
        return [[list(point) for point in stroke] for stroke in self._strokes]

    def set_strokes(self, strokes) -> None:
        self._strokes = [[[float(x), float(y)] for x, y in stroke] for stroke in strokes]
        self._image, self.label = None, None
        self.update()
        self.changed.emit()
        self.stroke_finished.emit()

    def show_image(self, image: np.ndarray, label: int | None = None) -> None:
        """Show a uint8 28x28 image (a test digit) instead of strokes; the probabilities are for it."""
        image = np.asarray(image, dtype=np.uint8)
        if image.shape != (FIELD, FIELD):
            raise ValueError(f"the pad shows {FIELD}x{FIELD} images, not {image.shape}")
        self._strokes, self._image, self.label = [], image.copy(), label
        self.update()
        self.changed.emit()
        self.stroke_finished.emit()

    @property
    def image(self) -> np.ndarray | None:
        """The test image shown instead of strokes, if any."""
        return self._image

    @property
    def drawing(self) -> bool:
        """A stroke is under way (the button is down)."""
        return self._drawing

    @property
    def is_empty(self) -> bool:
        return self._image is None and not any(self._strokes)

    def digit(self) -> np.ndarray:
        """The 28x28 uint8 input the model gets."""
        return self._image.copy() if self._image is not None else digit_from_strokes(self._strokes)

    def clear(self) -> None:
        self.set_strokes([])

    def undo(self) -> None:
        if self._image is not None:
            self.clear()
        elif self._strokes:
            self.set_strokes(self._strokes[:-1])

    # -- input ----------------------------------------------------------------------------------
    def to_pad(self, position: QPointF) -> list[float]:
        """A widget position in pad coordinates, clamped to the pad."""
        return [min(max(position.x() / self.width(), 0.0), 1.0), min(max(position.y() / self.height(), 0.0), 1.0)]

    def mousePressEvent(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        if self._image is not None:  # drawing over a test image starts a new drawing
            self._image, self.label = None, None
        self._drawing = True
        self._strokes.append([self.to_pad(event.position())])
        self.update()
        self.changed.emit()

    def mouseMoveEvent(self, event) -> None:
        if not self._drawing:
            return super().mouseMoveEvent(event)
        point = self.to_pad(event.position())
        if point != self._strokes[-1][-1]:
            self._strokes[-1].append(point)
            self.update()
            self.changed.emit()

    def mouseReleaseEvent(self, event) -> None:
        if not self._drawing or event.button() != Qt.MouseButton.LeftButton:
            return super().mouseReleaseEvent(event)
        self._drawing = False
        self.stroke_finished.emit()

    # -- painting -------------------------------------------------------------------------------
    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), PAPER)
        if self._image is not None:
            painter.drawPixmap(self.rect(), image_pixmap(self._image, 1))
        else:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            pen = QPen(
                INK, PEN_WIDTH * self.width(), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin
            )
            painter.setPen(pen)
            for stroke in self._strokes:
                points = [QPointF(x * self.width(), y * self.height()) for x, y in stroke]
                if len(points) == 1:
                    painter.drawPoint(points[0])
                    continue
                path = QPainterPath(points[0])
                for point in points[1:]:
                    path.lineTo(point)
                painter.drawPath(path)
        painter.setPen(QPen(QColor(MUTED), 1))
        painter.drawRect(QRectF(0.5, 0.5, self.width() - 1, self.height() - 1))
        painter.end()


class PadHolder(QWidget):
    """Keeps the pad square and centred, as large as the room it is given (from PAD_MIN), so it fills
    an enlarged window and still fits a dock under the heatmap."""

    def __init__(self, pad: DrawingPad, parent: QWidget | None = None):
        super().__init__(parent)
        self.pad = pad
        pad.setParent(self)
        self.setMinimumSize(PAD_MIN, PAD_MIN)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(PAD_SIDE, PAD_SIDE)

    def minimumSizeHint(self) -> QSize:
        return QSize(PAD_MIN, PAD_MIN)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        side = min(self.width(), self.height())
        self.pad.setGeometry((self.width() - side) // 2, (self.height() - side) // 2, side, side)


class DrawPanel(QWidget):
    """The pad, the model's input, and the class probabilities unpruned and pruned, side by side."""

    shown = Signal()  # new probabilities are on screen
    flip_found = Signal(object)  # ImageScan

    def __init__(self, session, jobs: JobQueue, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.jobs = jobs
        self.probabilities: tuple[np.ndarray, np.ndarray] | None = None  # (unpruned, pruned) of ``shown_input``
        self.shown_input: np.ndarray | None = None
        self.shown_config: PruningConfig | None = None
        self.image_scan = None  # the last finished flip scan (ImageScan)
        self._flip_config: PruningConfig | None = None
        self._generation = 0  # counts the pad's changes, so a scan of an older drawing is dropped
        self._behind = False  # the pruning changed while the panel was hidden

        self.pad = DrawingPad()
        self.clear_button = QPushButton("Clear")
        self.undo_button = QPushButton("Undo")
        self.clear_button.clicked.connect(self.pad.clear)
        self.undo_button.clicked.connect(self.pad.undo)
        self.preview = QLabel()
        self.preview.setFixedSize(FIELD * PREVIEW_SCALE, FIELD * PREVIEW_SCALE)
        self.preview.setToolTip("What the model gets: 28x28, fitted into 20x20 and centred by mass, as MNIST")
        self.preview.setPixmap(image_pixmap(np.zeros((FIELD, FIELD), np.uint8), PREVIEW_SCALE))
        self.preview_caption = QLabel("model input\n28x28")
        self.preview_caption.setAlignment(Qt.AlignmentFlag.AlignHCenter)

        self.caption = caption_label(self)
        self.flip_label = caption_label(self)
        self.theme = LIGHT
        self.plot_widget = new_plot_widget(self)
        self.plot_widget.setMinimumSize(240, PLOT_MIN_HEIGHT)
        self.plot_widget.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # a click on the bars leaves arrows to k
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.getAxis("bottom").setTicks([[(d, str(d)) for d in range(10)]])
        self.plot.setXRange(-0.6, 9.6, padding=0)
        self.plot.setYRange(0, 105, padding=0)
        digits = np.arange(10)
        self.unpruned_bars = pg.BarGraphItem(
            x=digits - BAR_WIDTH / 2, height=np.zeros(10), width=BAR_WIDTH, brush=pg.mkBrush(MUTED), pen=pg.mkPen(MUTED)
        )
        self.pruned_bars = pg.BarGraphItem(
            x=digits + BAR_WIDTH / 2, height=np.zeros(10), width=BAR_WIDTH, brush=pg.mkBrush(KEPT), pen=pg.mkPen(KEPT)
        )
        self.plot.addItem(self.unpruned_bars)
        self.plot.addItem(self.pruned_bars)
        self.legend = caption_label(self)
        self.legend.setText(
            f"<span style='color:{MUTED}; font-size:large'>■</span> unpruned &nbsp; "
            f"<span style='color:{KEPT}; font-size:large'>■</span> pruned (current k)"
        )

        buttons = QHBoxLayout()
        buttons.addWidget(self.clear_button)
        buttons.addWidget(self.undo_button)
        self.pad_holder = PadHolder(self.pad)
        left = QVBoxLayout()
        left.addWidget(self.pad_holder, 1)
        left.addLayout(buttons)
        middle = QVBoxLayout()
        middle.addWidget(self.preview, 0, Qt.AlignmentFlag.AlignHCenter)
        middle.addWidget(self.preview_caption)
        middle.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(self.caption)
        right.addWidget(self.flip_label)
        right.addWidget(self.plot_widget, 1)
        right.addWidget(self.legend)
        row = QHBoxLayout(self)
        row.addLayout(left, 2)
        row.addLayout(middle)
        row.addLayout(right, 3)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

        self._timer = QTimer(self)  # coalesces a burst of mouse moves into one job
        self._timer.setSingleShot(True)
        self._timer.setInterval(COALESCE_MS)
        self._timer.timeout.connect(self.request_probabilities)
        self.pad.changed.connect(self._on_pad_changed)
        self.pad.stroke_finished.connect(self.request_flip)
        bind(self, session.config_changed, self._on_config_changed)
        bind(self, session.model_changed, self._on_model_changed)
        self._apply_font()
        self._show_empty()

    # -- the drawing as data (lesson files keep it) -----------------------------------------------
    def strokes(self) -> list[list[list[float]]]:
        return self.pad.strokes()

    def set_strokes(self, strokes) -> None:
        self.pad.set_strokes(strokes)

    # -- requests -------------------------------------------------------------------------------
    def _ready(self) -> bool:
        session = self.session
        return session.model is not None and session.draw_problem is None and not self.pad.is_empty

    def request_probabilities(self) -> Job | None:
        """Queue the ``draw`` job for the pad's current input and the session's current pruning."""
        if not self._ready():
            self._show_empty()
            return None
        strokes, image = self.pad.strokes(), self.pad.image
        config = self.session.config
        unpruned = config.unpruned()
        session = self.session

        def work(task):
            digit = image if image is not None else digit_from_strokes(strokes)
            if not digit.any():
                return digit, None, config
            return digit, session.predict_images(digit[None], [unpruned, config], task), config

        job = Job(work, DRAW_KIND, self)
        job.label = "Reading the drawing"
        job.succeeded.connect(self._on_probabilities)
        self.jobs.submit(job)
        return job

    def request_flip(self) -> Job | None:
        """Queue the ``draw-flip`` job: the first k (0..100) at which this input's prediction changes."""
        self._timer.stop()
        self.request_probabilities()
        if not self._ready():
            return None
        digit = self.pad.digit()
        label = self.pad.label
        config = self.session.config
        self._flip_config = config.with_k(0.0)
        scan_config = self._flip_config
        session = self.session
        self.image_scan = None
        self.flip_label.setText(f"Scanning k = 0..100 for {config.describe(with_k=False)}...")
        job = Job(lambda task: scan_image(session, digit, scan_config, label=label, task=task), FLIP_KIND, self)
        job.label = "Finding where the drawing flips"
        job.succeeded.connect(lambda scan, c=scan_config, g=self._generation: self._on_flip(scan, c, g))
        self.jobs.submit(job, cancel_running_kinds=(FLIP_KIND,))
        return job

    # -- results --------------------------------------------------------------------------------
    def _on_probabilities(self, value) -> None:
        digit, probabilities, config = value
        self.shown_input = digit
        self.preview.setPixmap(image_pixmap(digit, PREVIEW_SCALE))
        if probabilities is None:
            self._show_empty()
            return
        unpruned, pruned = probabilities[0][0], probabilities[1][0]
        self.probabilities = (unpruned, pruned)
        self.shown_config = config
        self.unpruned_bars.setOpts(height=100 * unpruned)
        self.pruned_bars.setOpts(height=100 * pruned)
        a, b = int(np.argmax(unpruned)), int(np.argmax(pruned))
        truth = f" (a test image of a {self.pad.label})" if self.pad.label is not None else ""
        self.caption.setText(
            f"Unpruned: <b>{a}</b> ({unpruned[a]:.0%}) &nbsp; {config.describe()}: "
            f"<b style='color:{KEPT if a == b else '#D55E00'}'>{b}</b> ({pruned[b]:.0%}){truth}"
        )
        self.shown.emit()

    def _on_flip(self, scan, config: PruningConfig, generation: int) -> None:
        if config != self._flip_config or generation != self._generation:
            return
        self.image_scan = scan
        scope = config.describe(with_k=False)
        what = "This test image breaks" if scan.label is not None else "This drawing flips"
        if scan.flip_k is None:
            text = f"{what.replace('breaks', 'never breaks').replace('flips', 'never flips')} up to k = 100% ({scope})."
        else:
            now = int(scan.predicted[int(np.searchsorted(scan.ks, scan.flip_k))])
            text = f"{what} at <b>k = {scan.flip_k:g}%</b> ({scope}): {scan.reference} becomes {now}."
        self.flip_label.setText(text)
        self.flip_found.emit(scan)

    def _show_empty(self) -> None:
        self.probabilities = None
        self.unpruned_bars.setOpts(height=np.zeros(10))
        self.pruned_bars.setOpts(height=np.zeros(10))
        if self.session.model is None:
            self.caption.setText("<b>Draw a digit</b>: open a model first.")
        elif self.session.draw_problem:  # the drawing is an MNIST-shaped image this model cannot take
            self.caption.setText(f"<b>Draw a digit</b>: {self.session.draw_problem}")
        else:
            self.caption.setText(
                "<b>Draw a digit</b> on the black pad: the bars show what the unpruned "
                "and the pruned model think it is."
            )
        self.flip_label.setText("")
        if self.pad.is_empty:
            self.preview.setPixmap(image_pixmap(np.zeros((FIELD, FIELD), np.uint8), PREVIEW_SCALE))

    # -- events ---------------------------------------------------------------------------------
    def _on_pad_changed(self) -> None:
        self.image_scan = None  # whatever was found was for the drawing before this change
        if self.pad.is_empty:
            self.jobs.cancel_all(FLIP_KIND)
            self._show_empty()
            return
        self._generation += 1
        if self.pad.drawing:  # a scan of the drawing as it was is moot; it restarts when the stroke ends
            self.jobs.cancel_all(FLIP_KIND)
            self.flip_label.setText("Where this drawing flips is found when the stroke ends.")
        if not self._timer.isActive():
            self._timer.start()

    def _on_config_changed(self, config) -> None:
        if not self._ready():
            return
        if not self.isVisible():  # no jobs for a hidden panel; it catches up when shown
            self._behind = True
            return
        self.request_probabilities()
        flip = config.with_k(0.0)
        if flip != self._flip_config:  # k alone does not change where the drawing flips
            self.request_flip()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._size_pad()

    def _size_pad(self) -> None:
        """The pad as large as the panel's height allows, up to PAD_SIDE, as long as the width leaves the
        other parts their least width (the pad gets no more than its share of the width otherwise)."""
        layout, holder = self.layout(), self.pad_holder
        others = layout.minimumSize().width() - holder.minimumWidth()
        margins = layout.contentsMargins()
        buttons = self.clear_button.sizeHint().height() + max(layout.spacing(), 0)
        tall = self.height() - margins.top() - margins.bottom() - buttons
        side = max(PAD_MIN, min(PAD_SIDE, tall, self.width() - others))
        if holder.minimumWidth() != side:
            holder.setMinimumWidth(side)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._behind:
            self._behind = False
            self._on_config_changed(self.session.config)

    def _on_model_changed(self, _opened) -> None:
        self._flip_config = None
        self._show_empty()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if is_font_change(event):
            self._apply_font()

    def set_theme(self, theme: Theme) -> None:
        """Chart colours (light, or high contrast); the pad itself is white ink on black already."""
        self.theme = theme
        self.plot_widget.setBackground(theme.background)
        self._apply_font()

    def _apply_font(self) -> None:
        style_plot(self.plot, "digit", "probability (%)", point_size(self), self.theme)
        self.plot.showGrid(x=False, y=True, alpha=self.theme.grid_alpha)
        self.plot.getAxis("left").setTextPen(pg.mkPen(self.theme.foreground))
