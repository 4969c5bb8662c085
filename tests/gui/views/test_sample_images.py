"""Pictures of samples: grey and colour arrays of any size as thumbnails, their aspect kept."""

from __future__ import annotations

import numpy as np

from prune_viz.gui.views.sample_images import picture_image, picture_pixmap

from gui_helpers import image_pixels


def test_grey_and_colour_pictures_keep_their_pixels(qtbot):
    rng = np.random.default_rng(0)
    colour = rng.integers(0, 256, (5, 7, 3)).astype(np.uint8)
    np.testing.assert_array_equal(image_pixels(picture_image(colour)), colour)
    grey = rng.integers(0, 256, (6, 4)).astype(np.uint8)
    np.testing.assert_array_equal(image_pixels(picture_image(grey)), np.repeat(grey[..., None], 3, axis=2))
    np.testing.assert_array_equal(image_pixels(picture_image(grey[..., None])), image_pixels(picture_image(grey)))


def test_a_thumbnail_fits_its_square_with_the_aspect_kept(qtbot):
    wide = np.zeros((20, 40, 3), np.uint8)
    wide[:, :20, 0] = 255  # left half red, right half black
    small = picture_pixmap(wide, 56)
    assert (small.width(), small.height()) == (56, 28)
    pixels = image_pixels(small.toImage())
    assert pixels[:, :27, 0].min() == 255 and pixels[:, 29:].max() == 0  # crisp blocks, not blurred
    large = picture_pixmap(np.full((300, 150), 128, np.uint8), 56)  # a large grey photo, shrunk
    assert (large.width(), large.height()) == (28, 56)
    assert np.all(image_pixels(large.toImage()) == 128)
