"""Pictures of samples: a data set's images (grey or colour, any size) as thumbnails, and the output
strip, a generator's outputs for the first few samples, unpruned above and pruned below.

The pictures come from the core as uint8 arrays ((h, w) grey, (h, w, 3) colour, (h, w, 4) with alpha:
``core.flips.sample_pictures``, ``core.output_pictures``); this module only draws them.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from prune_viz.gui.views.pictures import STALE_OPACITY

FORMATS = {1: QImage.Format.Format_Grayscale8, 3: QImage.Format.Format_RGB888, 4: QImage.Format.Format_RGBA8888}


def picture_image(picture: np.ndarray) -> QImage:
    """A uint8 (h, w), (h, w, 1), (h, w, 3) or (h, w, 4) array as a QImage of its own (a copy)."""
    picture = np.asarray(picture, dtype=np.uint8)
    if picture.ndim == 3 and picture.shape[-1] == 1:
        picture = picture[..., 0]
    channels = 1 if picture.ndim == 2 else picture.shape[-1]
    picture = np.ascontiguousarray(picture)
    rows, cols = picture.shape[:2]
    return QImage(picture.data, cols, rows, cols * channels, FORMATS[channels]).copy()


def picture_pixmap(picture: np.ndarray, side: int) -> QPixmap:
    """The picture scaled to fit a ``side`` x ``side`` square, its aspect kept: a small one in crisp
    pixels (each a block), a large one smoothly."""
    image = picture_image(picture)
    larger = max(image.width(), image.height()) <= side
    mode = Qt.TransformationMode.FastTransformation if larger else Qt.TransformationMode.SmoothTransformation
    return QPixmap.fromImage(image.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio, mode))


class OutputStripView(QWidget):
    """Two rows of a generator's outputs for the first samples: "unpruned" and "pruned at k = ..",
    each picture as large as the width allows (up to ``LARGEST`` pixels), drawn on one value scale."""

    LARGEST = 56
    GAP = 4

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.strip = None  # core.output_pictures.OutputStrip
        self.k: float | None = None
        self._images: tuple[list[QImage], list[QImage]] = ([], [])
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.setToolTip("The model's outputs for the first test samples: unpruned, and pruned as evaluated")
        self.hide()

    @property
    def titles(self) -> tuple[str, str]:
        k = "" if self.k is None else f" at k = {self.k:g}%"
        return "unpruned", f"pruned{k}"

    def show_strip(self, strip, k: float) -> None:
        """Show ``strip`` (an OutputStrip) for k; None hides the view."""
        self.strip, self.k = strip, k
        if strip is None:
            self._images = ([], [])
            self.hide()
            return
        self._images = ([picture_image(p) for p in strip.unpruned], [picture_image(p) for p in strip.pruned])
        self.setAccessibleName(f"{strip.output}: {self.titles[0]} and {self.titles[1]}, {strip.count} samples")
        self.show()
        self.updateGeometry()
        self.update()

    def clear(self) -> None:
        self.show_strip(None, 0.0)

    def cell(self, width: int | None = None) -> int:
        """One picture's side at ``width`` (default: the widget's)."""
        count = max(len(self._images[0]), 1)
        width = self.width() if width is None else width
        return int(max(8, min(self.LARGEST, (width - self.GAP * (count - 1)) // count)))

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        line = self.fontMetrics().height()
        return 2 * (line + self.cell(width) + self.GAP)

    def sizeHint(self) -> QSize:
        return QSize(8 * (self.LARGEST // 2 + self.GAP), self.heightForWidth(8 * (self.LARGEST // 2 + self.GAP)))

    def minimumSizeHint(self) -> QSize:
        return QSize(8 * (8 + self.GAP), self.heightForWidth(8 * (8 + self.GAP)))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.setFixedHeight(self.heightForWidth(event.size().width()))

    def picture_rect(self, row: int, index: int) -> QRect:
        """Where picture ``index`` of ``row`` (0 unpruned, 1 pruned) is drawn, in the widget's pixels."""
        line, side = self.fontMetrics().height(), self.cell()
        top = row * (line + side + self.GAP) + line
        return QRect(index * (side + self.GAP), top, side, side)

    def paintEvent(self, _event) -> None:
        if self.strip is None:
            return
        painter = QPainter(self)
        if not self.isEnabled():  # stale: greyed like the numbers beside it
            painter.setOpacity(STALE_OPACITY)
        painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        line = self.fontMetrics().height()
        for row, (title, images) in enumerate(zip(self.titles, self._images)):
            first = self.picture_rect(row, 0)
            painter.drawText(QRect(0, first.top() - line, self.width(), line), Qt.AlignmentFlag.AlignLeft, title)
            for index, image in enumerate(images):
                target = self.picture_rect(row, index)
                scaled = image.scaled(
                    target.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
                )
                painter.drawImage(target.topLeft(), scaled)
        painter.end()
