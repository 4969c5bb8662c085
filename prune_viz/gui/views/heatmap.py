"""Weight matrices as heatmaps: a big zoomable view of the selected layer and thumbnails of all.

Colours: a diverging map centred at 0 with symmetric levels fixed per layer (from
the original weights, so colours do not drift while pruning). Pruned cells are
NaN in the displayed matrix and drawn in the app's one "pruned" colour
(colours.PRUNED, a grey that no live weight takes). Weights that are NaN or infinite in the model
itself (core.non_finite) are drawn in colours.NON_FINITE while they are kept, and the view says so
above the thumbnails, in its legend and in the hover line. Matrices larger
than the screen are shown with a stride (heatmap_data: every n-th row/column), which keeps the
pruned fraction honest, unlike block averages or block maxima.

Below the matrix, a thin strip per unit vector (the layer's bias, and gamma and beta
of a BatchNormalization right after it) shows the entries that go with each unit
column; when unit pruning removes units (unit mode "remove") their entries are
drawn pruned too. Each strip is coloured on its own symmetric scale.

With N:M or block pruning, zoomed in far enough (at most GROUP_LINES_MAX_ROWS rows, or columns, in
view), lines mark where the pattern's cells start (the plan's ``boundaries``): N:M's groups of M inputs
(every M rows of each run of the input axis), so that the N kept cells of every group can be counted, and
the b_r x b_c grid of blocks, so that each pruned block is seen whole. One code path draws both.
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from prune_viz.core.inputs import layer_seeing_pixels
from prune_viz.core.non_finite import is_non_finite
from prune_viz.core.patterns import block_text
from prune_viz.core.plan import BlockPlan, NMPlan
from prune_viz.gui.binding import bind
from prune_viz.gui.views.colours import (
    DIVERGING,
    LEVEL_PERCENTILE,
    NON_FINITE,
    PRUNED_INDEX,
    ColormapSpec,
    colour_indices,
    indexed_rgb,
    kept_indices,
    symmetric_level,
)
from prune_viz.gui.views.heatmap_data import (
    THUMBNAIL_PIXELS,
    HeatmapData,
    display_limit,
    display_matrix,
    heatmap_data,
    strides,
)
from prune_viz.gui.views.pictures import NON_FINITE_LEGEND, PRUNED_LEGEND, WhenVisible, cache_axes, swatch
from prune_viz.gui.views.thumbnails import ThumbnailStrip

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)

HOVER_PROMPT = "Hover to read a weight."


def _starts_in_view(starts: np.ndarray, low: float, high: float) -> np.ndarray:
    """The starts strictly inside (low, high), as floats, if the view spans at most GROUP_LINES_MAX_ROWS
    cells and the starts are more than one cell apart (else none)."""
    if high - low > GROUP_LINES_MAX_ROWS or len(starts) < 2 or np.min(np.diff(starts)) < 2:
        return np.zeros(0)
    return starts[(starts > low) & (starts < high)].astype(float)


def _same_mask(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and bool(np.array_equal(a, b))


def _number(value: float, sign: str = "") -> str:
    """A weight for the hover line: 5 significant digits, and NaN written as such."""
    return "NaN" if np.isnan(value) else f"{value:{sign}.5g}"


def non_finite_words(value: float, pruned: bool, ranked: bool = True) -> str:
    """What the hover line adds for a NaN or infinite weight ("" for a finite one); ``ranked``: it is a
    weight that pruning ranks (not a bias, which goes only with its unit)."""
    if not is_non_finite(np.float32(value)):
        return ""
    nan = bool(np.isnan(value))
    words = "NOT A NUMBER in the model" if nan else "INFINITE in the model"
    if not pruned:
        words += ", drawn magenta"
    if ranked:
        words += "; by |w| ranked above every " + ("number: pruned last" if nan else "finite weight")
    return f"  ({words})"


GROUP_LINES_MAX_ROWS = 160  # N:M group and block boundaries: drawn with at most this many rows (columns) in view
GROUP_LINE_COLOUR = "#000000"  # over the diverging map (white at 0) and the pruned grey


class MatrixView(QWidget):
    """The selected layer's matrix: zoom/pan with the mouse, hover for the weight under it."""

    hovered = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.spec = DIVERGING
        self.layer_name = ""
        self.description = ""
        self.rows_are_pixels = False
        self.axis_names = ("input", "unit")  # what rows and columns are, as the axes say
        self.matrix: np.ndarray | None = None  # the full original-orientation matrix shown
        self.kept: np.ndarray | None = None  # the keep-mask as drawn (strided like the image)
        self.row_stride = self.col_stride = 1
        # (display limit, the matrix strided to it as float32, their colour_indices)
        self._strided: tuple[int, np.ndarray, np.ndarray] | None = None
        self._shown_indices: np.ndarray | None = None  # the colour indices drawn, pruned cells included
        self.level = 1.0
        self.hovered_cell: tuple[int, int] | None = None  # (row, col) under the mouse, re-read on every redraw
        self.hovered_strip: tuple[int, int] | None = None  # (strip, col) of a bias/BN strip under the mouse
        self.vector_labels: list[str] = []  # the strips below the matrix, top to bottom
        self.vectors: np.ndarray | None = None  # (strips, units) original values
        self.removed: np.ndarray | None = None  # bool per unit: its strip entries are pruned
        self.vector_indices: np.ndarray | None = None  # the strips' colour indices as drawn (strided)

        self.canvas = pg.GraphicsLayoutWidget()
        self.plot = self.canvas.addPlot()
        self.plot.invertY(True)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setLabel("left", "input (row)")
        self.plot.setLabel("bottom", "unit (column)")
        self.plot.getViewBox().setDefaultPadding(0.0)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.vector_image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.vector_image)
        self.group_starts: np.ndarray | None = None  # N:M and blocks: the rows where a group or block starts
        self.column_starts = np.zeros(0)  # blocks: the columns where a block starts
        self.group_lines = pg.PlotCurveItem(connect="pairs", pen=pg.mkPen(GROUP_LINE_COLOUR, width=1.5))
        self.plot.addItem(self.group_lines)
        self.group_lines_drawn = 0
        self.plot.getViewBox().sigRangeChanged.connect(lambda *_: self._draw_groups())
        self.colorbar = pg.ColorBarItem(
            values=(-1, 1), colorMap=self.spec.colormap(), interactive=False, width=14, colorMapMenu=False
        )
        # beside the plot, as setImageItem(insert_in=) puts it, but not driving the image's table and levels
        self.plot.layout.addItem(self.colorbar, 2, 5)
        self.plot.layout.setColumnFixedWidth(4, 5)
        self.colorbar.axis.enableAutoSIPrefix(False)  # plain weights, never "50 (x0.001)"
        self.colorbar.axis.setLabel("weight")
        cache_axes(self.plot.getAxis("left"), self.plot.getAxis("bottom"), self.colorbar.axis)
        self.canvas.scene().sigMouseMoved.connect(self._on_mouse_moved)

        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)  # wraps rather than widening the centre and squeezing the docks
        self.readout = QLabel(HOVER_PROMPT)
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.legend = QLabel(PRUNED_LEGEND)
        self.non_finite_legend = QLabel(NON_FINITE_LEGEND)  # shown for a model holding NaN or infinite weights
        self.non_finite_legend.setToolTip(
            "Weights that are NaN (not a number) or infinite in the model itself, drawn in this colour while "
            "they are kept (pruned ones are grey like any other)"
        )
        self.non_finite_legend.hide()
        self.group_note = QLabel()  # N:M and blocks: what the lines are, and when they show
        self.group_note.hide()
        reset = QToolButton(text="Fit")
        reset.setToolTip("Show the whole matrix (zoom with the wheel, pan by dragging)")
        reset.clicked.connect(self.fit)
        bottom = QHBoxLayout()
        # a long hover line must not widen the view and squeeze the docks beside it
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.readout.setMinimumWidth(0)
        bottom.addWidget(self.readout, 1)
        bottom.addWidget(self.non_finite_legend)
        bottom.addWidget(self.group_note)
        bottom.addWidget(self.legend)
        bottom.addWidget(reset)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(bottom)
        self.set_colormap(self.spec)

    # -- content -----------------------------------------------------------------------------
    def show_matrix(
        self,
        name: str,
        description: str,
        matrix: np.ndarray,
        kept: np.ndarray | None,
        level: float,
        rows_are_pixels: bool = False,
        axis_names: tuple[str, str] = ("input", "unit"),
    ) -> None:
        """Draw ``matrix`` with ``kept`` (strided like the image, or None); only the image is
        redone when just the mask changed, so a zoomed-in view stays where it is.
        ``rows_are_pixels``: the rows are the 784 pixels of a 28x28 image (hover names the pixel);
        ``axis_names``: what its rows and columns are."""
        if axis_names != self.axis_names:
            self.axis_names = axis_names
            self.plot.setLabel("left", f"{axis_names[0]} (row)")
            self.plot.setLabel("bottom", f"{axis_names[1]} (column)")
        same = matrix is self.matrix and name == self.layer_name and level == self.level
        self._fit_vectors = not same  # show_vectors fits the view again once the strips are known
        self.rows_are_pixels = rows_are_pixels
        self.layer_name = name
        self.description = description
        self.matrix = matrix
        self.kept = kept
        self.level = level
        limit = display_limit()
        if not same or self._strided is None or self._strided[0] != limit:
            # the strided values and their colours change with the matrix only: a k step just masks them
            values, self.row_stride, self.col_stride = display_matrix(matrix, None, limit)
            self._strided = (limit, values, colour_indices(values, level))
        self._shown_indices = kept_indices(self._strided[2], kept)
        self._colour_image()
        self._refresh_readout(keep_cell=same)
        stride = ""
        if self.row_stride > 1 or self.col_stride > 1:
            stride = f" &nbsp;<i>(drawn with every {self.row_stride}th row, {self.col_stride}th column)</i>"
        title = (
            f"<b>{name}</b> &nbsp;{description}{stride} &nbsp;&middot; colours saturate at "
            f"&plusmn;{level:.3g} ({LEVEL_PERCENTILE:g}th percentile of |w|)"
        )
        if self.title.text() != title:  # the description says the layer's own k, which a step may change
            self.title.setText(title)
        if same:
            return
        rows, cols = matrix.shape
        self.image.setRect(QRectF(0, 0, cols, rows))
        self.colorbar.setLevels(values=(-level, level))
        self.fit()

    def show_vectors(self, labels: list[str], vectors: np.ndarray | None, removed: np.ndarray | None) -> None:
        """The unit-vector strips under the matrix (``vectors``: (len(labels), units) originals);
        ``removed`` units (or None) are drawn pruned. Call after ``show_matrix``."""
        if (
            not getattr(self, "_fit_vectors", False)
            and vectors is self.vectors
            and list(labels) == self.vector_labels
            and _same_mask(removed, self.removed)
        ):
            return  # a k step that removed no unit: the strips and the axis stay as drawn
        self.vector_labels = list(labels)
        self.vectors = vectors
        self.removed = removed
        self._refresh_readout(keep_cell=True)  # a hovered strip entry may have been removed or restored
        if self.matrix is None or vectors is None or not len(labels):
            self.vector_image.clear()
            self.vector_indices = None
            self._label_rows()
            return
        values = np.array(vectors[:, :: self.col_stride], dtype=np.float32)
        # each strip on its own scale (a bias and a BN gamma differ in size), coloured like the matrix
        indices = np.stack([colour_indices(row / np.float32(symmetric_level(row)), 1.0) for row in values])
        if removed is not None:
            indices[:, removed[:: self.col_stride]] = PRUNED_INDEX
        self.vector_indices = indices
        self._colour_vectors()
        self.vector_image.setRect(self.vector_rect())
        self._label_rows()
        if getattr(self, "_fit_vectors", False):
            self._fit_vectors = False
            self.fit()

    def show_groups(self, starts: np.ndarray | None, note: str = "", columns: np.ndarray | None = None) -> None:
        """The rows (and ``columns``) where a pattern's group or block starts (None: no pattern), drawn as
        lines once zoomed in."""
        self.group_starts = starts
        self.column_starts = np.zeros(0) if columns is None or starts is None else columns
        self.group_note.setText(note)
        self.group_note.setVisible(starts is not None and bool(note))
        self._draw_groups()

    def _draw_groups(self) -> None:
        """Once zoomed in (few enough rows in view), lines across the view at each row start in view, and down
        it at each column start if few enough columns are in view too; a step of 1 (a 1 x 8 block's rows)
        draws none."""
        x, y = [], []
        (x0, x1), (y0, y1) = self.plot.getViewBox().viewRange()
        if self.group_starts is not None and self.matrix is not None and y1 - y0 <= GROUP_LINES_MAX_ROWS:
            rows, cols = self.matrix.shape
            x0, x1, y0, y1 = max(0.0, x0), min(float(cols), x1), max(0.0, y0), min(float(rows), y1)
            across = _starts_in_view(self.group_starts, y0, y1)
            down = _starts_in_view(self.column_starts, x0, x1)
            x = [np.tile([x0, x1], len(across)), np.repeat(down, 2)]
            y = [np.repeat(across, 2), np.tile([y0, y1], len(down))]
        if not len(x) or not sum(len(part) for part in x):
            self.group_lines.setData([], [])
            self.group_lines_drawn = 0
            return
        self.group_lines.setData(np.concatenate(x), np.concatenate(y))
        self.group_lines_drawn = sum(len(part) for part in x) // 2

    def _label_rows(self) -> None:
        """Row numbers on the left axis for the matrix, and the strips' names beside the strips."""
        axis = self.plot.getAxis("left")
        if self.matrix is None or self.vectors is None or not self.vector_labels:
            axis.setTicks(None)  # automatic ticks
            return
        rows = self.matrix.shape[0]
        step = 1
        for magnitude in 10 ** np.arange(0, 8):
            step = next((m * magnitude for m in (1, 2, 5) if rows / (m * magnitude) <= 8), 0)
            if step:
                break
        rect = self.vector_rect()
        height = rect.height() / len(self.vector_labels)
        ticks = [(float(r), str(r)) for r in range(0, rows, int(step))]
        ticks += [(rect.top() + (i + 0.5) * height, label) for i, label in enumerate(self.vector_labels)]
        axis.setTicks([ticks, []])

    def vector_rect(self) -> QRectF:
        rows, cols = self.matrix.shape
        height = max(1.0, rows / 40.0)
        return QRectF(0, rows + height / 2, cols, height * len(self.vector_labels))

    def vector_cell(self, y: float) -> int | None:
        """Which strip the view's y falls in, or None."""
        if self.vectors is None or not self.vector_labels:
            return None
        rect = self.vector_rect()
        if not rect.top() <= y < rect.bottom():
            return None
        return int((y - rect.top()) / (rect.height() / len(self.vector_labels)))

    def clear(self) -> None:
        self.layer_name = ""
        self.matrix = self.kept = None
        self._strided = self._shown_indices = None
        self.vectors = self.removed = self.vector_indices = None
        self.vector_labels = []
        self.image.clear()
        self.vector_image.clear()
        self.show_groups(None)
        self.title.setText("")
        self._refresh_readout(keep_cell=False)

    def _refresh_readout(self, keep_cell: bool) -> None:
        """The hover line always describes the model, layer and mask drawn now: re-read for the same
        cell when only the mask changed, back to the prompt when the matrix changed."""
        hovering = self.hovered_cell is not None or self.hovered_strip is not None
        if not keep_cell or self.matrix is None:
            self.hovered_cell = self.hovered_strip = None
            self.readout.setText(HOVER_PROMPT)
            if hovering:
                self.hovered.emit("")  # the status bar's copy goes too
            return
        if self.hovered_cell is not None:
            text = self.describe_cell(*self.hovered_cell)
        elif (
            self.hovered_strip is not None
            and self.vectors is not None
            and self.hovered_strip[0] < len(self.vector_labels)
        ):
            text = self.describe_vector(*self.hovered_strip)
        else:
            return
        self.readout.setText(text)
        self.hovered.emit(text)

    def displayed_image(self) -> np.ndarray | None:
        """The matrix as drawn: the strided values, NaN where pruned (the ImageItem holds their colour
        indices)."""
        if self.matrix is None or self._strided is None:
            return None
        values = self._strided[1]
        return values.copy() if self.kept is None else np.where(self.kept, values, np.float32(np.nan))

    def _colour_image(self) -> None:
        """Hand the image its cells' colours: an RGBA image is drawn as it is, where colour indices
        and a 257-entry table make pyqtgraph build a 65,536-entry table on every repaint."""
        if self._shown_indices is not None:
            self.image.setImage(indexed_rgb(self._shown_indices, self.spec), autoLevels=False, levels=None, lut=None)

    def _colour_vectors(self) -> None:
        if self.vector_indices is not None:
            self.vector_image.setImage(
                indexed_rgb(self.vector_indices, self.spec), autoLevels=False, levels=None, lut=None
            )

    def fit(self) -> None:
        if self.matrix is not None:
            rows, cols = self.matrix.shape
            if self.vectors is not None and self.vector_labels:
                rows = self.vector_rect().bottom()
            self.plot.getViewBox().setRange(QRectF(0, 0, cols, rows), padding=0.0)

    def set_colormap(self, spec: ColormapSpec) -> None:
        self.spec = spec
        self.colorbar.setColorMap(spec.colormap())
        self._colour_image()
        self.canvas.setBackground(spec.background)
        self._colour_vectors()
        for axis in (self.plot.getAxis("left"), self.plot.getAxis("bottom"), self.colorbar.axis):
            axis.setPen(spec.foreground)
            axis.setTextPen(spec.foreground)

    def apply_font(self) -> None:
        """Give the plot's axes the widget's font (pyqtgraph items do not inherit it)."""
        font = QFont(self.font())
        for axis in ("left", "bottom"):
            item = self.plot.getAxis(axis)
            item.setStyle(tickFont=font)
            item.label.setFont(font)
        self.colorbar.axis.setStyle(tickFont=font)
        self.colorbar.axis.setLabel("weight", **{"font-size": f"{font.pointSizeF():.1f}pt"})
        self.colorbar.axis.setWidth(QFontMetrics(font).horizontalAdvance("-0.000") + 12)  # pyqtgraph fixes 45 px

    # -- hover ---------------------------------------------------------------------------------
    def describe_cell(self, row: int, col: int) -> str:
        """The hover text for the displayed cell covering original (row, col)."""
        row -= row % self.row_stride
        col -= col % self.col_stride
        value = float(self.matrix[row, col])
        pruned = self.kept is not None and not bool(self.kept[row // self.row_stride, col // self.col_stride])
        state = "PRUNED (shown grey)" if pruned else "kept"
        source = f"pixel ({row // 28}, {row % 28})" if self.rows_are_pixels else self.axis_names[0]
        return (
            f"{self.layer_name}  row {row} ({source})  column {col} ({self.axis_names[1]})  "
            f"w = {_number(value, '+')}  |w| = {_number(abs(value))}{non_finite_words(value, pruned)}  {state}"
        )

    def describe_vector(self, strip: int, col: int) -> str:
        """The hover text for a unit-vector strip entry (bias, BN gamma or beta) of unit ``col``."""
        col -= col % self.col_stride
        removed = self.removed is not None and bool(self.removed[col])
        state = "REMOVED with its unit" if removed else "kept"
        value = float(self.vectors[strip, col])
        return (
            f"{self.layer_name}  {self.vector_labels[strip]} of unit {col} = "
            f"{_number(value, '+')}{non_finite_words(value, removed, ranked=False)}  {state}"
        )

    def _on_mouse_moved(self, scene_pos) -> None:
        if self.matrix is None:
            return
        point = self.plot.getViewBox().mapSceneToView(scene_pos)
        row, col = int(np.floor(point.y())), int(np.floor(point.x()))
        rows, cols = self.matrix.shape
        strip = self.vector_cell(point.y())
        if strip is not None and 0 <= col < cols:
            self.hovered_cell, self.hovered_strip = None, (strip, col)
            text = self.describe_vector(strip, col)
            self.readout.setText(text)
            self.hovered.emit(text)
        elif 0 <= row < rows and 0 <= col < cols:
            self.hovered_cell, self.hovered_strip = (row, col), None
            text = self.describe_cell(row, col)
            self.readout.setText(text)
            self.hovered.emit(text)


class LayerHeatmaps(QWidget):
    """Thumbnails of every prunable matrix above a large view of the selected one, kept in
    step with the session's pruning result."""

    layer_selected = Signal(str)

    def __init__(self, session, parent: QWidget | None = None):
        super().__init__(parent)
        self.session = session
        self.spec = DIVERGING
        self.selected = ""
        self.data = heatmap_data(None)
        self._prepared: HeatmapData | None = None  # made for a model about to be set (prepare)
        self._layers: dict = {}
        self._pixel_layer: str | None = None
        self.strip = ThumbnailStrip()
        self.view = MatrixView()
        self.placeholder = QLabel("No model open.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.notes = QLabel()  # the model's caveats (NaN or infinite weights...), said before any picture
        self.notes.setObjectName("model-notes")
        self.notes.setWordWrap(True)
        self.notes.setTextFormat(Qt.TextFormat.RichText)
        self.notes.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.notes)
        layout.addWidget(self.strip)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.placeholder, 1)
        self.strip.layer_clicked.connect(self.set_layer)
        self.strip.scrolled.connect(self._draw_thumbnails_in_view)
        self._when_visible = WhenVisible(self, self._show_selected)
        bind(self, session.model_changed, self._on_model_changed)
        bind(self, session.pruning_changed, self._on_pruning_changed)
        self._on_model_changed(session.model)

    @property
    def levels(self) -> dict[str, float]:
        """Each layer's colour level (+-), from its original weights."""
        return {name: picture.level for name, picture in self.data.layers.items()}

    def prepare(self, data: HeatmapData) -> None:
        """Use ``data`` (made off the GUI thread) when its model is set, rather than making it then."""
        self._prepared = data

    def _on_model_changed(self, opened) -> None:
        prepared, self._prepared = self._prepared, None
        self.data = prepared if prepared is not None and prepared.opened is opened else heatmap_data(opened)
        self._layers = {layer.name: layer for layer in opened.layers} if opened else {}
        self._unit_vectors: dict[str, tuple[list[str], np.ndarray | None]] = {}
        self._pixel_layer = None if opened is None else layer_seeing_pixels(opened.layers, opened.loaded.input_shape)
        self.strip.set_layers(list(self._layers))
        self._show_notes(opened)
        has_layers = bool(self._layers)
        self.strip.setVisible(has_layers)
        self.view.setVisible(has_layers)
        self.placeholder.setVisible(not has_layers)
        if opened is not None and not has_layers:
            self.placeholder.setText("This model has no prunable weights (no trainable weights of rank 2 or more).")
        self.selected = ""
        self.view.clear()
        if has_layers:
            self.set_layer(next(iter(self._layers)))

    def _show_notes(self, opened) -> None:
        """The model's notes (the core's sentences, as ``inspect`` prints them) above the pictures; for
        NaN or infinite weights, with the colour they are drawn in."""
        notes = [html.escape(note) for note in opened.loaded.notes] if opened is not None else []
        non_finite = bool(opened is not None and opened.non_finite_notes)
        if non_finite:
            notes.append(f"The heatmaps draw them {swatch(NON_FINITE, 'magenta')} while they are kept.")
        self.notes.setText("<b>Warning:</b> " + " ".join(notes) if notes else "")
        self.notes.setVisible(bool(notes))
        self.view.non_finite_legend.setVisible(non_finite)

    def set_layer(self, name: str) -> None:
        if name not in self._layers:
            return
        self.strip.select(name)  # a click on the shown layer's thumbnail leaves it checked
        if name == self.selected:
            return
        self.selected = name
        self._show_selected()
        self.layer_selected.emit(name)

    def apply_font(self) -> None:
        self.view.apply_font()

    def set_colormap(self, spec: ColormapSpec) -> None:
        self.spec = spec
        self.view.set_colormap(spec)
        if self.session.result is not None:
            self._on_pruning_changed(self.session.result)

    def kept_matrix(self, name: str, result=None, limit: int | None = None) -> np.ndarray | None:
        """The (fan_in, units) keep-mask of ``name`` under ``result`` (strided like ``display_matrix``
        when ``limit`` is given), computed on those cells only; None if the layer is not pruned."""
        result = result if result is not None else self.session.result
        plan = result.plans.get(name) if result is not None else None
        if plan is None:
            return None
        matrix = self.data.layers[name].matrix
        rs, cs = strides(matrix.shape, limit) if limit else (1, 1)
        return plan.kept(matrix, slice(None, None, rs), slice(None, None, cs))

    def _show_selected(self) -> None:
        name = self.selected
        if not name:
            return
        layer = self._layers[name]
        description = f"{layer.kind}, {layer.matrix_label}"
        if layer.is_output:
            description += ", output layer (excluded by default)"
        config = self.session.config
        if name in config.layer_k:
            description += f", <b>own k {config.layer_k[name]:g}%</b> (the slider's: {config.k:g}%)"
        picture = self.data.layers[name]
        self.view.show_matrix(
            name,
            description,
            picture.matrix,
            self.kept_matrix(name, limit=display_limit()),
            picture.level,
            rows_are_pixels=name == self._pixel_layer,
            axis_names=layer.axis_names,
        )
        labels, vectors = self._vectors(name)
        result = self.session.result
        removed = result.removed_units(name) if result is not None else None
        if removed is not None:  # per column of the matrix: its unit's
            removed = ~layer.kept_columns(~removed)
        self.view.show_vectors(labels, vectors, removed)
        plan = result.plans.get(name) if result is not None else None
        if isinstance(plan, (NMPlan, BlockPlan)):  # the core says where its groups or blocks start
            rows, columns = plan.boundaries()
            if isinstance(plan, NMPlan):
                n, m = plan.nm
                note = f"lines: {n}:{m} groups of {m} inputs (zoom in to {GROUP_LINES_MAX_ROWS} rows)"
            else:
                note = f"lines: {block_text(plan.block)} blocks (zoom in to {GROUP_LINES_MAX_ROWS} rows or columns)"
            self.view.show_groups(rows, note, columns)
        else:
            self.view.show_groups(None)

    def _vectors(self, name: str) -> tuple[list[str], np.ndarray | None]:
        """The labels and stacked originals of ``name``'s unit vectors, stacked once: the same array on
        every k step lets the view see that the strips are unchanged."""
        found = self._unit_vectors.get(name)
        if found is None:
            layer = self._layers[name]
            # strips under the columns: vectors with an entry per column (a GRU's two bias rows give two)
            labels, rows = [], []
            for v in layer.unit_vectors:
                if layer.columns and v.original.size % layer.columns == 0 and layer.row_units is None:
                    strips = v.original.reshape(-1, layer.columns)
                    rows.extend(strips)
                    labels.extend([v.label] if len(strips) == 1 else [f"{v.label}[{i}]" for i in range(len(strips))])
            found = (labels, np.stack(rows) if rows else None)
            self._unit_vectors[name] = found
        return found

    def _on_pruning_changed(self, result) -> None:
        """A new mask: redraw the thumbnails in view and the selected matrix (if this widget is
        shown); the rest are marked stale and drawn when they come into view."""
        self.strip.stale = set(self.strip.thumbnails)
        self._draw_thumbnails_in_view()
        self._when_visible.request()

    def _draw_thumbnails_in_view(self) -> None:
        result = self.session.result
        if result is None:
            return
        for name in self.strip.stale_in_view():
            self.strip.stale.discard(name)
            stats = result.layer(name)
            included = "" if name in result.config.included else " (excluded)"
            self.strip.thumbnails[name].show_image(
                self.data.layers[name],
                self.kept_matrix(name, result, THUMBNAIL_PIXELS),
                self.spec,
                f"{name}{included}\n{stats.sparsity * 100:.1f}% zero",
            )
