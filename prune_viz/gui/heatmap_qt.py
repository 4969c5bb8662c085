"""Weight matrices as heatmaps: a big zoomable view of the selected layer and thumbnails of all.

Colours: a diverging map centred at 0 with symmetric levels fixed per layer (from
the original weights, so colours do not drift while pruning). Pruned cells are
NaN in the displayed matrix and drawn in the app's one "pruned" colour
(pictures_qt.PRUNED, a grey that no live weight takes). Matrices larger
than the screen are shown with a stride (every n-th row/column), which keeps the
pruned fraction honest, unlike block averages or block maxima.

Below the matrix, a thin strip per unit vector (the layer's bias, and gamma and beta
of a BatchNormalization right after it) shows the entries that go with each unit
column; when unit pruning removes units (unit mode "remove") their entries are
drawn pruned too. Each strip is coloured on its own symmetric scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QGuiApplication, QImage, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QAbstractButton,
    QFrame,
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from prune_viz.core.inputs import layer_seeing_pixels
from prune_viz.gui.pictures_qt import (
    HIGH_CONTRAST_THEME,
    LIGHT,
    PRUNED_LEGEND,
    PRUNED_RGB,
    Theme,
    WhenVisible,
    cache_axes,
)

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)

LEVEL_PERCENTILE = 99.5  # colour levels at +-this percentile of |w|, so one outlier does not wash out the map
LEVEL_SAMPLE = 1_000_000
THUMBNAIL_PIXELS = 96
HOVER_PROMPT = "Hover to read a weight."


@dataclass(frozen=True)
class ColormapSpec:
    key: str
    title: str
    stops: tuple  # RGB tuples from the most negative to the most positive weight
    theme: Theme  # the charts' colours that go with this map
    pruned: tuple = PRUNED_RGB  # the same in every map: a colour no map takes

    @property
    def background(self) -> str:
        return self.theme.background

    @property
    def foreground(self) -> str:
        return self.theme.foreground

    def colormap(self) -> pg.ColorMap:
        positions = np.linspace(0.0, 1.0, len(self.stops))
        return pg.ColorMap(positions, [QColor(*c) for c in self.stops], name=self.key)

    def lut(self) -> np.ndarray:
        """The map's 256-entry RGB table (read-only; made once per map, views ask for it on every step)."""
        table = _LUTS.get(self)
        if table is None:
            table = self.colormap().getLookupTable(0.0, 1.0, 256, alpha=False).astype(np.uint8)
            table.flags.writeable = False
            table = _LUTS.setdefault(self, table)
        return table


    def indexed_lut(self) -> np.ndarray:
        """``lut()`` and, at PRUNED_INDEX, the pruned colour: the table of ``colour_indices`` images."""
        table = _INDEXED_LUTS.get(self)
        if table is None:
            table = np.vstack([self.lut(), np.array([self.pruned], dtype=np.uint8)])
            table.flags.writeable = False
            table = _INDEXED_LUTS.setdefault(self, table)
        return table

    def packed_indexed_lut(self) -> np.ndarray:
        """``indexed_lut()`` as one opaque RGBA uint32 per entry (its bytes in R, G, B, A order)."""
        table = _PACKED_LUTS.get(self)
        if table is None:
            rgba = np.concatenate([self.indexed_lut(), np.full((PRUNED_INDEX + 1, 1), 255, np.uint8)], axis=1)
            table = np.ascontiguousarray(rgba).view(np.uint32).ravel()
            table.flags.writeable = False
            table = _PACKED_LUTS.setdefault(self, table)
        return table

    def rgb32_indexed_lut(self) -> np.ndarray:
        """``indexed_lut()`` as QImage RGB32 pixels, one uint32 0xffRRGGBB per entry: what a widget's
        painter draws without converting."""
        table = _RGB32_LUTS.get(self)
        if table is None:
            rgb = self.indexed_lut().astype(np.uint32)
            table = np.uint32(0xFF000000) | rgb[:, 0] << 16 | rgb[:, 1] << 8 | rgb[:, 2]
            table.flags.writeable = False
            table = _RGB32_LUTS.setdefault(self, table)
        return table


_LUTS: dict[ColormapSpec, np.ndarray] = {}
_INDEXED_LUTS: dict[ColormapSpec, np.ndarray] = {}
_PACKED_LUTS: dict[ColormapSpec, np.ndarray] = {}
_RGB32_LUTS: dict[ColormapSpec, np.ndarray] = {}
PRUNED_INDEX = 256  # the pruned colour's entry in ColormapSpec.indexed_lut


# ColorBrewer RdBu (reversed: blue negative, red positive); near-zero weights are near white.
DIVERGING = ColormapSpec(
    "diverging", "Blue-white-red (default)",
    ((5, 48, 97), (33, 102, 172), (67, 147, 195), (146, 197, 222), (209, 229, 240), (247, 247, 247),
     (253, 219, 199), (244, 165, 130), (214, 96, 77), (178, 24, 43), (103, 0, 31)),
    theme=LIGHT,
)
# For projectors: saturated ends, black at zero; pruned cells are the same mid grey as everywhere,
# far from black, so they are never taken for small weights.
HIGH_CONTRAST = ColormapSpec(
    "high-contrast", "High contrast (cyan-black-yellow)",
    ((0, 255, 255), (0, 110, 255), (0, 0, 0), (255, 60, 0), (255, 230, 0)),
    theme=HIGH_CONTRAST_THEME,
)
COLORMAPS = {spec.key: spec for spec in (DIVERGING, HIGH_CONTRAST)}


def display_limit() -> int:
    """Largest number of rows/columns worth drawing: the screen's size in device pixels."""
    screen = QGuiApplication.primaryScreen()
    if screen is None:
        return 1024
    size = screen.size() * screen.devicePixelRatio()
    return max(1024, size.width(), size.height())


def strides(shape: tuple[int, int], limit: int) -> tuple[int, int]:
    rows, cols = shape
    return max(1, -(-rows // limit)), max(1, -(-cols // limit))


def display_matrix(matrix: np.ndarray, kept: np.ndarray | None, limit: int) -> tuple[np.ndarray, int, int]:
    """(image, row stride, column stride): ``matrix`` strided to <= limit, float32, NaN where pruned.

    ``kept`` is the keep-mask already strided the same way (see ``LayerHeatmaps.kept_matrix``), or None.
    """
    rs, cs = strides(matrix.shape, limit)
    values = np.array(matrix[::rs, ::cs], dtype=np.float32)
    if kept is not None:
        values[~kept] = np.nan
    return values, rs, cs


def _same_mask(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and bool(np.array_equal(a, b))


def symmetric_level(matrix: np.ndarray) -> float:
    """+-level for the colours: a high percentile of |w| (from an even sample of at most
    LEVEL_SAMPLE weights, so that huge layers open without a pause)."""
    flat = matrix.ravel()
    flat = flat[:: max(1, flat.size // LEVEL_SAMPLE)]
    magnitude = np.abs(flat[np.isfinite(flat)])
    if magnitude.size == 0:
        return 1.0
    level = float(np.percentile(magnitude, LEVEL_PERCENTILE))
    return level if level > 0 else (float(magnitude.max()) or 1.0)


def layer_level(magnitudes) -> float:
    """symmetric_level of a layer from its MagnitudeOrder: the LEVEL_PERCENTILE-th |w| of all its
    finite weights, looked up in the order the pruner keeps rather than sorted from a sample."""
    finite = magnitudes.count_below(np.inf)
    if finite == 0:
        return 1.0
    level = float(magnitudes.value_at(int(LEVEL_PERCENTILE / 100 * (finite - 1))))
    return level if level > 0 else (float(magnitudes.value_at(finite - 1)) or 1.0)


@dataclass(frozen=True)
class LayerPicture:
    """What the heatmaps draw of one layer that no k changes."""

    matrix: np.ndarray  # the (fan_in, units) original weights
    level: float  # the colours' +-level (layer_level)
    thumbnail: np.ndarray  # the matrix strided for a thumbnail, float32
    thumbnail_indices: np.ndarray  # its lut_indices at the level


@dataclass(frozen=True)
class HeatmapData:
    """Every layer's LayerPicture for one opened model. Plain numpy (and the pruner's sorted
    magnitudes), so the open job can make it off the GUI thread, where a big model's levels take a while."""

    opened: object
    layers: dict[str, LayerPicture]


def heatmap_data(opened) -> HeatmapData:
    pictures = {}
    for layer in opened.layers if opened is not None else []:
        matrix = layer.as_matrix(layer.original)
        level = layer_level(opened.pruner.magnitudes(layer.name))
        thumbnail, _, _ = display_matrix(matrix, None, THUMBNAIL_PIXELS)
        pictures[layer.name] = LayerPicture(matrix, level, thumbnail, lut_indices(thumbnail, level))
    return HeatmapData(opened, pictures)


def colour_indices(values: np.ndarray, level: float) -> np.ndarray:
    """uint16 entries of ``indexed_lut`` for ``values`` coloured at +-``level`` (NaN: PRUNED_INDEX):
    the entry pyqtgraph would pick for the float value, so the colours are the same, but a k step
    then only picks between these and PRUNED_INDEX, and pyqtgraph skips its search for NaNs."""
    scale = np.float32(256 / (2 * level))
    with np.errstate(invalid="ignore"):
        index = np.clip((values + np.float32(level)) * scale, 0, 255)
    index = np.nan_to_num(index, nan=PRUNED_INDEX).astype(np.uint16)
    return index


def indexed_rgb(indices: np.ndarray, spec: ColormapSpec) -> np.ndarray:
    """Opaque RGBA uint8 of ``colour_indices`` (PRUNED_INDEX: the pruned colour), looked up as one
    uint32 per cell rather than as a row of an RGB table."""
    return spec.packed_indexed_lut().take(indices).view(np.uint8).reshape(*indices.shape, 4)


def lut_indices(image: np.ndarray, level: float) -> np.ndarray:
    """uint8 entries of ``ColormapSpec.lut`` for ``image`` coloured at +-``level`` (NaN: the middle
    entry, drawn pruned by ``kept_colours`` where the cell is not kept)."""
    finite = np.isfinite(image)
    scaled = np.where(finite, (np.nan_to_num(image) + level) / (2 * level), 0.5)
    return np.clip((scaled * 255).round(), 0, 255).astype(np.uint8)


def kept_colours(indices: np.ndarray, kept: np.ndarray | None, spec: ColormapSpec) -> np.ndarray:
    """RGB32 pixels (uint32 0xffRRGGBB) of ``lut_indices`` where ``kept`` (None: everywhere), the
    pruned colour elsewhere: a thumbnail's colours, from indices kept from one k to the next."""
    return spec.rgb32_indexed_lut().take(indices if kept is None else np.where(kept, indices, np.uint16(PRUNED_INDEX)))


def rgb32_image(pixels: np.ndarray) -> QImage:
    """A QImage of its own (a copy) of ``kept_colours``' pixels."""
    h, w = pixels.shape
    return QImage(np.ascontiguousarray(pixels).data, w, h, 4 * w, QImage.Format.Format_RGB32).copy()


class MatrixView(QWidget):
    """The selected layer's matrix: zoom/pan with the mouse, hover for the weight under it."""

    hovered = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.spec = DIVERGING
        self.layer_name = ""
        self.description = ""
        self.rows_are_pixels = False
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
        self.vector_backdrop = QGraphicsRectItem(0, 0, 1, 1)
        self.vector_backdrop.setPen(QPen(Qt.PenStyle.NoPen))
        self.vector_backdrop.setZValue(-1)
        self.vector_backdrop.setVisible(False)
        self.plot.addItem(self.vector_backdrop)
        self.vector_image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.vector_image)
        self.colorbar = pg.ColorBarItem(values=(-1, 1), colorMap=self.spec.colormap(), 
                                        interactive=False, width=14, colorMapMenu=False)
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
        reset = QToolButton(text="Fit")
        reset.setToolTip("Show the whole matrix (zoom with the wheel, pan by dragging)")
        reset.clicked.connect(self.fit)
        bottom = QHBoxLayout()
        # a long hover line must not widen the view and squeeze the docks beside it
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.readout.setMinimumWidth(0)
        bottom.addWidget(self.readout, 1)
        bottom.addWidget(self.legend)
        bottom.addWidget(reset)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(bottom)
        self.set_colormap(self.spec)

    # -- content -----------------------------------------------------------------------------
    def show_matrix(self, name: str, description: str, matrix: np.ndarray, kept: np.ndarray | None,
                    level: float, rows_are_pixels: bool = False) -> None:
        """Draw ``matrix`` with ``kept`` (strided like the image, or None); only the image is
        redone when just the mask changed, so a zoomed-in view stays where it is.
        ``rows_are_pixels``: the rows are the 784 pixels of a 28x28 image (hover names the pixel)."""
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
        indices = self._strided[2]
        self._shown_indices = indices if kept is None else np.where(kept, indices, np.uint16(PRUNED_INDEX))
        self._colour_image()
        self._refresh_readout(keep_cell=same)
        if same:
            return
        rows, cols = matrix.shape
        self.image.setRect(QRectF(0, 0, cols, rows))
        self.colorbar.setLevels(values=(-level, level))
        stride = ""
        if self.row_stride > 1 or self.col_stride > 1:
            stride = f" &nbsp;<i>(drawn with every {self.row_stride}th row, {self.col_stride}th column)</i>"
        self.title.setText(f"<b>{name}</b> &nbsp;{description}{stride} &nbsp;&middot; colours saturate at "
                           f"&plusmn;{level:.3g} ({LEVEL_PERCENTILE:g}th percentile of |w|)")
        self.fit()

    def show_vectors(self, labels: list[str], vectors: np.ndarray | None, removed: np.ndarray | None) -> None:
        """The unit-vector strips under the matrix (``vectors``: (len(labels), units) originals);
        ``removed`` units (or None) are drawn pruned. Call after ``show_matrix``."""
        if (not getattr(self, "_fit_vectors", False) and vectors is self.vectors and list(labels) == self.vector_labels
                and _same_mask(removed, self.removed)):
            return  # a k step that removed no unit: the strips and the axis stay as drawn
        self.vector_labels = list(labels)
        self.vectors = vectors
        self.removed = removed
        self._refresh_readout(keep_cell=True)  # a hovered strip entry may have been removed or restored
        if self.matrix is None or vectors is None or not len(labels):
            self.vector_image.clear()
            self.vector_backdrop.setVisible(False)
            self._label_rows()
            return
        values = np.array(vectors[:, :: self.col_stride], dtype=np.float64)
        for row in values:  # each strip on its own scale: a bias and a BN gamma differ in size
            level = symmetric_level(row)
            row /= level
        if removed is not None:
            values[:, removed[:: self.col_stride]] = np.nan
        self.vector_image.setImage(values.astype(np.float32), autoLevels=False, levels=(-1.0, 1.0))
        self.vector_image.setLookupTable(self.spec.lut())
        self.vector_image.setRect(self.vector_rect())
        self.vector_backdrop.setRect(self.vector_rect())
        self.vector_backdrop.setVisible(True)
        self._label_rows()
        if getattr(self, "_fit_vectors", False):
            self._fit_vectors = False
            self.fit()

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
        self.vectors = self.removed = None
        self.vector_labels = []
        self.image.clear()
        self.vector_image.clear()
        self.vector_backdrop.setVisible(False)
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
        elif self.hovered_strip is not None and self.vectors is not None \
                and self.hovered_strip[0] < len(self.vector_labels):
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
        self.vector_backdrop.setBrush(QBrush(QColor(*spec.pruned)))
        self.vector_image.setLookupTable(spec.lut())
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
        source = f"pixel ({row // 28}, {row % 28})" if self.rows_are_pixels else "input"
        return (f"{self.layer_name}  row {row} ({source})  column {col} (unit)  "
                f"w = {value:+.5g}  |w| = {abs(value):.5g}  {state}")

    def describe_vector(self, strip: int, col: int) -> str:
        """The hover text for a unit-vector strip entry (bias, BN gamma or beta) of unit ``col``."""
        col -= col % self.col_stride
        removed = self.removed is not None and bool(self.removed[col])
        state = "REMOVED with its unit" if removed else "kept"
        return (f"{self.layer_name}  {self.vector_labels[strip]} of unit {col} = "
                f"{float(self.vectors[strip, col]):+.5g}  {state}")

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


class LineImages:
    """Lines of text drawn once into images, kept by (text, font, colours, size): a thumbnail's caption
    changes with every k, but to one of few texts ("60.2% zero"), and laying text out costs more than
    copying an image."""

    LIMIT = 4096

    def __init__(self):
        self._images: dict[tuple, QImage] = {}

    def image(self, text: str, font: QFont, colour: QColor, background: QColor, size: QSize) -> QImage:
        key = (text, font.key(), colour.rgba(), background.rgba(), size.width(), size.height())
        found = self._images.get(key)
        if found is None:
            if len(self._images) >= self.LIMIT:
                self._images.clear()
            found = QImage(size, QImage.Format.Format_RGB32)
            found.fill(background)
            painter = QPainter(found)
            painter.setFont(font)
            painter.setPen(colour)
            elided = QFontMetrics(font).elidedText(text, Qt.TextElideMode.ElideRight, size.width())
            painter.drawText(found.rect(), Qt.AlignmentFlag.AlignHCenter, elided)
            painter.end()
            self._images[key] = found
        return found


_CAPTION_LINES = LineImages()


class Thumbnail(QAbstractButton):
    """One layer's matrix, small, with its name and zero fraction under it; click (or Space) shows it
    large. Its face (background, picture, two lines of text) is drawn into an image when it changes,
    once per k step; a repaint, and the heatmaps' render after it, copy that image. (A QToolButton's new
    icon and text asked the strip for a layout and laid out its text again on every paint.)"""

    MARGIN = 4

    def __init__(self, name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.name = name
        self.setCheckable(True)
        self.setAutoExclusive(False)
        self.setAttribute(Qt.WidgetAttribute.WA_Hover)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)  # the face covers it: nothing under it is repainted
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self._shown: tuple | None = None  # (LayerPicture, keep-mask or None) drawn
        self.picture: QImage | None = None  # its colours at THUMBNAIL_PIXELS square
        self.caption = name
        self._face: QImage | None = None  # what paintEvent copies; None: drawn again before the next paint
        self.setToolTip(f"{name}: click to show it large")  # its zero fraction is written under it
        self.toggled.connect(self._new_face)

    def sizeHint(self) -> QSize:
        return QSize(THUMBNAIL_PIXELS + 2 * self.MARGIN,
                     THUMBNAIL_PIXELS + 2 * self.fontMetrics().height() + 3 * self.MARGIN)

    @property
    def image(self) -> np.ndarray | None:
        """The matrix drawn, strided, as float32 with NaN where pruned (made when asked)."""
        if self._shown is None:
            return None
        picture, kept = self._shown
        return picture.thumbnail if kept is None else np.where(kept, picture.thumbnail, np.float32(np.nan))

    def show_image(self, picture: LayerPicture, kept: np.ndarray | None, spec: ColormapSpec, caption: str) -> None:
        """``picture``'s thumbnail with the cells outside ``kept`` (the keep-mask strided like it; None:
        nothing pruned) drawn pruned; ``caption``: two lines, the layer and its zero fraction."""
        self._shown = (picture, kept)
        self.picture = rgb32_image(kept_colours(picture.thumbnail_indices, kept, spec)).scaled(
            THUMBNAIL_PIXELS, THUMBNAIL_PIXELS, Qt.AspectRatioMode.IgnoreAspectRatio,
            Qt.TransformationMode.FastTransformation)
        self.caption = caption
        self.setAccessibleName(caption.replace("\n", ": "))
        self._new_face()  # the size never changes: no layout

    def _new_face(self, *_args) -> None:
        self._face = None
        self.update()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.FontChange):
            self._new_face()

    def _draw_face(self) -> QImage:
        face = QImage(self.size(), QImage.Format.Format_RGB32)
        palette = self.palette()
        background = palette.color(QPalette.ColorRole.Mid if self.isChecked() else QPalette.ColorRole.Window)
        face.fill(background)
        painter = QPainter(face)
        margin = self.MARGIN
        if self.picture is not None:
            painter.drawImage(margin, margin, self.picture)
        line_size = QSize(self.width() - 2 * margin, self.fontMetrics().height())
        top = margin * 2 + THUMBNAIL_PIXELS
        for line in self.caption.split("\n")[:2]:
            painter.drawImage(margin, top, _CAPTION_LINES.image(
                line, self.font(), palette.color(QPalette.ColorRole.WindowText), background, line_size))
            top += line_size.height()
        painter.end()
        return face

    def paintEvent(self, _event) -> None:
        if self._face is None or self._face.size() != self.size():
            self._face = self._draw_face()
        painter = QPainter(self)
        painter.drawImage(0, 0, self._face)
        if self.isDown():
            painter.fillRect(self.rect(), QColor(0, 0, 0, 40))
        if self.isChecked() or self.hasFocus() or self.underMouse():
            painter.setPen(QPen(self.palette().color(QPalette.ColorRole.Highlight), 2 if self.hasFocus() else 1))
            painter.drawRect(self.rect().adjusted(0, 0, -1, -1))


class ThumbnailStrip(QScrollArea):
    """Every layer's matrix, small, in model order; click one to show it large."""

    layer_clicked = Signal(str)
    scrolled = Signal()  # other thumbnails may have come into view (scrolled, resized or shown)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.stale: set[str] = set()  # thumbnails that show an older mask, drawn when they come into view
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.thumbnails: dict[str, Thumbnail] = {}
        self._inner = QWidget()
        self._row = QHBoxLayout(self._inner)
        self._row.setContentsMargins(2, 2, 2, 2)
        self._row.addStretch(1)
        self.setWidget(self._inner)
        # thumbnails come into view when the row scrolls, the strip grows or is shown (signals and
        # handlers, not a filter on the row: that would be a Python call for each of its paints)
        self.horizontalScrollBar().valueChanged.connect(self._maybe_in_view)

    def _maybe_in_view(self, *_args) -> None:
        if self.stale:
            self.scrolled.emit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._maybe_in_view()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._maybe_in_view()

    def set_layers(self, names: list[str]) -> None:
        for thumb in self.thumbnails.values():
            self._row.removeWidget(thumb)
            thumb.deleteLater()
        self.thumbnails = {}
        self.stale = set()
        for i, name in enumerate(names):
            thumb = Thumbnail(name)
            thumb.clicked.connect(lambda _=False, n=name: self.layer_clicked.emit(n))
            self._row.insertWidget(i, thumb)
            self.thumbnails[name] = thumb
        height = THUMBNAIL_PIXELS + 2 * self.fontMetrics().height() + 24
        self.setFixedHeight(height + (self.horizontalScrollBar().sizeHint().height() if names else 0))

    def stale_in_view(self) -> list[str]:
        """The stale thumbnails that can be seen now (all of them when the window is not shown: a test,
        an off-screen render), from the row's place under the viewport rather than asking each
        thumbnail for its visible region."""
        if not self.window().isVisible():
            return list(self.stale)
        if not self.isVisible():
            return []
        seen = self.viewport().rect().translated(-self._inner.pos())  # the viewport, in the row's coordinates
        return [name for name in self.stale if self.thumbnails[name].geometry().intersects(seen)]

    def select(self, name: str) -> None:
        for n, thumb in self.thumbnails.items():
            thumb.setChecked(n == name)


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
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.strip)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.placeholder, 1)
        self.strip.layer_clicked.connect(self.set_layer)
        self.strip.scrolled.connect(self._draw_thumbnails_in_view)
        self._when_visible = WhenVisible(self, self._show_selected)
        session.model_changed.connect(self._on_model_changed)
        session.pruning_changed.connect(self._on_pruning_changed)
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
        has_layers = bool(self._layers)
        self.strip.setVisible(has_layers)
        self.view.setVisible(has_layers)
        self.placeholder.setVisible(not has_layers)
        if opened is not None and not has_layers:
            self.placeholder.setText("This model has no prunable layers (no Dense or Conv1D/Conv2D kernels).")
        self.selected = ""
        self.view.clear()
        if has_layers:
            self.set_layer(next(iter(self._layers)))

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
            description += ", output layer"
        picture = self.data.layers[name]
        self.view.show_matrix(name, description, picture.matrix,
                              self.kept_matrix(name, limit=display_limit()), picture.level,
                              rows_are_pixels=name == self._pixel_layer)
        labels, vectors = self._vectors(name)
        result = self.session.result
        self.view.show_vectors(labels, vectors, result.removed_units(name) if result is not None else None)

    def _vectors(self, name: str) -> tuple[list[str], np.ndarray | None]:
        """The labels and stacked originals of ``name``'s unit vectors, stacked once: the same array on
        every k step lets the view see that the strips are unchanged."""
        found = self._unit_vectors.get(name)
        if found is None:
            vectors = self._layers[name].unit_vectors
            found = ([v.label for v in vectors], np.stack([v.original for v in vectors]) if vectors else None)
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
            self.strip.thumbnails[name].show_image(self.data.layers[name], self.kept_matrix(name, result, THUMBNAIL_PIXELS),
                                                   self.spec, f"{name}{included}\n{stats.sparsity * 100:.1f}% zero")
