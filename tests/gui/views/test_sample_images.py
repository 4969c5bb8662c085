"""Pictures of samples: grey and colour arrays of any size as thumbnails, their aspect kept."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

from prune_viz.gui.views.sample_images import picture_image, picture_pixmap


def _rgb(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    raw = np.frombuffer(image.constBits(), np.uint8, count=image.bytesPerLine() * image.height())
    return (
        raw.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 3]
        .reshape(image.height(), image.width(), 3)
        .copy()
    )


def test_grey_and_colour_pictures_keep_their_pixels(qtbot):
    rng = np.random.default_rng(0)
    colour = rng.integers(0, 256, (5, 7, 3)).astype(np.uint8)
    np.testing.assert_array_equal(_rgb(picture_image(colour)), colour)
    grey = rng.integers(0, 256, (6, 4)).astype(np.uint8)
    np.testing.assert_array_equal(_rgb(picture_image(grey)), np.repeat(grey[..., None], 3, axis=2))
    np.testing.assert_array_equal(_rgb(picture_image(grey[..., None])), _rgb(picture_image(grey)))


def test_a_thumbnail_fits_its_square_with_the_aspect_kept(qtbot):
    wide = np.zeros((20, 40, 3), np.uint8)
    wide[:, :20, 0] = 255  # left half red, right half black
    small = picture_pixmap(wide, 56)
    assert (small.width(), small.height()) == (56, 28)
    pixels = _rgb(small.toImage())
    assert pixels[:, :27, 0].min() == 255 and pixels[:, 29:].max() == 0  # crisp blocks, not blurred
    large = picture_pixmap(np.full((300, 150), 128, np.uint8), 56)  # a large grey photo, shrunk
    assert (large.width(), large.height()) == (28, 56)
    assert np.all(_rgb(large.toImage()) == 128)
