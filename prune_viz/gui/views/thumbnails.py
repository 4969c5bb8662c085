"""The heatmaps' thumbnail strip: every layer's matrix, small, in model order, each drawn once per
k step into an image that its repaints copy."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QAbstractButton,
    QFrame,
    QHBoxLayout,
    QScrollArea,
    QSizePolicy,
    QWidget,
)

from prune_viz.gui.views.colours import ColormapSpec, kept_colours
from prune_viz.gui.views.heatmap_data import THUMBNAIL_PIXELS, LayerPicture


def rgb32_image(pixels: np.ndarray) -> QImage:
    """A QImage of its own (a copy) of ``kept_colours``' pixels."""
    h, w = pixels.shape
    return QImage(np.ascontiguousarray(pixels).data, w, h, 4 * w, QImage.Format.Format_RGB32).copy()


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
WIDEST_FRACTION = "100.0% zero"  # a thumbnail's second line at its widest


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
        """Room for the picture and for the caption whole at the font (presenter mode's 18 pt too): the
        layer's name and the widest zero fraction, so a k step never changes it."""
        metrics = self.fontMetrics()
        name = self.caption.split("\n")[0]
        text = max(metrics.horizontalAdvance(name), metrics.horizontalAdvance(WIDEST_FRACTION))
        return QSize(
            max(THUMBNAIL_PIXELS, text + 4) + 2 * self.MARGIN,
            THUMBNAIL_PIXELS + 2 * metrics.height() + 3 * self.MARGIN,
        )

    def picture_left(self) -> int:
        """Where the picture starts: centred over a caption wider than it."""
        return (self.width() - THUMBNAIL_PIXELS) // 2

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
            THUMBNAIL_PIXELS,
            THUMBNAIL_PIXELS,
            Qt.AspectRatioMode.IgnoreAspectRatio,
            Qt.TransformationMode.FastTransformation,
        )
        widened = caption.split("\n")[0] != self.caption.split("\n")[0]  # (excluded) was added or taken off
        self.caption = caption
        self.setAccessibleName(caption.replace("\n", ": "))
        if widened:
            self.updateGeometry()
        self._new_face()  # a k step changes the zero fraction only: no layout

    def _new_face(self, *_args) -> None:
        self._face = None
        self.update()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.FontChange):
            self._new_face()
        if event.type() == QEvent.Type.FontChange:
            self.updateGeometry()

    def _draw_face(self) -> QImage:
        face = QImage(self.size(), QImage.Format.Format_RGB32)
        palette = self.palette()
        background = palette.color(QPalette.ColorRole.Mid if self.isChecked() else QPalette.ColorRole.Window)
        face.fill(background)
        painter = QPainter(face)
        margin = self.MARGIN
        if self.picture is not None:
            painter.drawImage(self.picture_left(), margin, self.picture)
        line_size = QSize(self.width() - 2 * margin, self.fontMetrics().height())
        top = margin * 2 + THUMBNAIL_PIXELS
        for line in self.caption.split("\n")[:2]:
            painter.drawImage(
                margin,
                top,
                _CAPTION_LINES.image(
                    line, self.font(), palette.color(QPalette.ColorRole.WindowText), background, line_size
                ),
            )
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
        self._fit_height()

    def _fit_height(self) -> None:
        """As tall as a thumbnail at the font, with room for the scroll bar."""
        height = THUMBNAIL_PIXELS + 2 * self.fontMetrics().height() + 24
        self.setFixedHeight(height + (self.horizontalScrollBar().sizeHint().height() if self.thumbnails else 0))

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:  # presenter mode: two lines of larger text
            self._fit_height()

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
