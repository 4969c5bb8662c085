"""A grid of small pictures drawn as one image: a layer's filters, or a layer's activation maps.

The tiles come ready (RGB32 pixels, made in a worker job); this widget lays them out in as many columns as
its width takes (``grid_pixels``: one reshape on the GUI thread), is as tall as its rows need
(height-for-width), and says which tile the mouse is over (``hovered``). Enlarged (View > Enlarge), a grid
given a height to fill (``fill_height``) draws its tiles as large as fits, each pixel repeated (``zoom``).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QSize, Qt, Signal
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from prune_viz.gui.views.colours import rgb32

MAX_ZOOM = 8  # an enlarged tile is at most this many times its size
ROOM_SLACK = 8  # pixels an enlarged page keeps free below its grids


def grid_pixels(tiles: np.ndarray, columns: int, background: np.uint32) -> np.ndarray:
    """``tiles`` (n, th, tw) laid out in rows of ``columns``, as one RGB32 image."""
    n, th, tw = tiles.shape
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    padded = np.full((rows * columns, th, tw), background, np.uint32)
    padded[:n] = tiles
    grid = padded.reshape(rows, columns, th, tw).transpose(0, 2, 1, 3)
    return np.ascontiguousarray(grid.reshape(rows * th, columns * tw))


def rgb32_qimage(pixels: np.ndarray) -> QImage:
    h, w = pixels.shape
    return QImage(np.ascontiguousarray(pixels).data, w, h, 4 * w, QImage.Format.Format_RGB32).copy()


class TileGrid(QWidget):
    """Tiles in rows as wide as the widget; ``hovered(index)`` names the tile under the mouse (-1: none).
    ``one_row``: every tile in one row, the row scaled to the width (a bar per unit)."""

    hovered = Signal(int)

    def __init__(self, parent: QWidget | None = None, one_row: bool = False):
        super().__init__(parent)
        self.tiles: np.ndarray | None = None
        self.one_row = one_row
        self.background = (255, 255, 255)
        self._image: QImage | None = None
        self._columns = 1
        self._zoom = 1  # the zoom the image was laid out with
        self.fill_height: int | None = None  # enlarged: the height the grid may fill, tiles zoomed to fit it
        self._hovered = -1
        self.setMouseTracking(True)
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    def set_tiles(self, tiles: np.ndarray | None, background: tuple[int, int, int] = (255, 255, 255)) -> None:
        self.tiles, self.background = tiles, background
        self._image = None
        self.updateGeometry()
        self.update()

    @property
    def count(self) -> int:
        return 0 if self.tiles is None else len(self.tiles)

    def set_fill_height(self, height: int | None) -> None:
        """Zoom the tiles to fill ``height`` pixels at the widget's width (None: tiles at their own size)."""
        if height != self.fill_height:
            self.fill_height = height
            self._image = None
            self.updateGeometry()
            self.setMinimumHeight(self.heightForWidth(self.width()))
            self.update()

    def zoom_for(self, width: int) -> int:
        """The largest whole zoom (up to MAX_ZOOM) whose rows fit ``fill_height`` at ``width``; 1 unless enlarged."""
        if self.tiles is None or self.one_row or not self.fill_height:
            return 1
        n, th, tw = self.tiles.shape
        for zoom in range(MAX_ZOOM, 1, -1):
            columns = min(n, width // (tw * zoom))
            if columns and -(-n // columns) * th * zoom <= self.fill_height:
                return zoom
        return 1

    @property
    def zoom(self) -> int:
        return self.zoom_for(self.width())

    def columns_for(self, width: int) -> int:
        if self.tiles is None:
            return 1
        if self.one_row:
            return self.count
        return max(1, min(self.count, width // (self.tiles.shape[2] * self.zoom_for(width))))

    def _scale_for(self, width: int) -> float:
        """How much the laid-out image is shrunk to fit ``width`` (one row only)."""
        if self.tiles is None or not self.one_row:
            return 1.0
        full = self.count * self.tiles.shape[2]
        return min(1.0, width / full) if full else 1.0

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        if self.tiles is None:
            return 0
        rows = -(-self.count // self.columns_for(width))
        scale = max(0.5, self._scale_for(width)) if self.one_row else self.zoom_for(width)
        return int(rows * self.tiles.shape[1] * scale)

    def sizeHint(self) -> QSize:
        if self.tiles is None:
            return QSize(200, 0)
        width = min(self.count, 12) * self.tiles.shape[2] if not self.one_row else 200
        return QSize(width, self.heightForWidth(width))

    def minimumSizeHint(self) -> QSize:
        return QSize(60, 0 if self.tiles is None else min(self.tiles.shape[1], 60))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if (self.columns_for(self.width()), self.zoom) != (self._columns, self._zoom):
            self._image = None
        self.setMinimumHeight(self.heightForWidth(self.width()))

    def image(self) -> QImage | None:
        """The grid as drawn now (laid out for the widget's width)."""
        if self.tiles is None:
            return None
        if self._image is None:
            self._columns, self._zoom = self.columns_for(self.width()), self.zoom
            tiles = self.tiles
            if self._zoom > 1:
                tiles = np.repeat(np.repeat(tiles, self._zoom, axis=1), self._zoom, axis=2)
            self._image = rgb32_qimage(grid_pixels(tiles, self._columns, rgb32(self.background)))
        return self._image

    def paintEvent(self, _event) -> None:
        image = self.image()
        if image is None:
            return
        painter = QPainter(self)
        if self.one_row:
            scale = self._scale_for(self.width())
            target = QSize(max(1, int(image.width() * scale)), max(1, int(image.height() * max(0.5, scale))))
            painter.drawImage(
                0,
                0,
                # smooth: a row of thin bars sampled to fewer pixels would drop whole bars
                image.scaled(target, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation),
            )
        else:
            painter.drawImage(0, 0, image)

    def tile_at(self, point: QPoint) -> int:
        """The index of the tile under ``point`` (widget pixels), or -1."""
        if self.tiles is None or point.x() < 0 or point.y() < 0:
            return -1
        _n, th, tw = self.tiles.shape
        columns = self.columns_for(self.width())
        scale = self._scale_for(self.width()) * self.zoom
        column, row = (
            int(point.x() / (tw * scale)),
            int(point.y() / (th * (max(0.5, scale) if self.one_row else scale))),
        )
        index = row * columns + column
        return index if column < columns and 0 <= index < self.count else -1

    def tile_centre(self, index: int) -> QPoint:
        """Where tile ``index`` is drawn (its centre, widget pixels)."""
        _n, th, tw = self.tiles.shape
        columns = self.columns_for(self.width())
        scale = self._scale_for(self.width()) * self.zoom
        row, column = divmod(index, columns)
        height = th * (max(0.5, scale) if self.one_row else scale)
        return QPoint(int((column + 0.5) * tw * scale), int((row + 0.5) * height))

    def mouseMoveEvent(self, event) -> None:
        index = self.tile_at(event.position().toPoint())
        if index != self._hovered:
            self._hovered = index
            self.hovered.emit(index)
        super().mouseMoveEvent(event)

    def leaveEvent(self, event) -> None:
        if self._hovered != -1:
            self._hovered = -1
            self.hovered.emit(-1)
        super().leaveEvent(event)


def room_left(page: QWidget, others: list[QWidget]) -> int:
    """Enlarged: the height the window holding ``page`` (its parent, the scroll area's viewport) leaves for its
    tile grids, once ``others`` (the page's other widgets, wrapped text at the page's width) and its layout's
    margins and spacing are taken."""
    holder = page.parentWidget()
    if holder is None:
        return 0
    width = page.width()
    used = sum(w.heightForWidth(width) if w.hasHeightForWidth() else w.sizeHint().height() for w in others)
    layout = page.layout()
    margins = layout.contentsMargins()
    used += margins.top() + margins.bottom() + layout.spacing() * (len(others) + 1)
    return max(0, holder.height() - used - ROOM_SLACK)
