"""Drawn digits are made the way MNIST's were: fitted into 20x20, centred by mass in 28x28."""

from __future__ import annotations

import numpy as np

from prune_viz.core.drawing import digit_from_strokes, mnist_digit, rasterise, resize_area


def _centre_of_mass(image):
    w = image.astype(float)
    return (
        (w.sum(axis=1) * (np.arange(28) + 0.5)).sum() / w.sum(),
        (w.sum(axis=0) * (np.arange(28) + 0.5)).sum() / w.sum(),
    )


def test_bounding_box_fits_20_pixels_and_mass_is_centred():
    theta = np.linspace(0, 2 * np.pi, 60)
    ring = [list(zip(0.3 + 0.1 * np.cos(theta), 0.4 + 0.25 * np.sin(theta)))]  # small, off-centre, tall
    digit = digit_from_strokes(ring)
    rows, cols = np.nonzero(digit)
    assert rows.max() - rows.min() + 1 == 20  # the taller side fills the 20-pixel box
    assert 8 <= cols.max() - cols.min() + 1 < 20  # aspect ratio kept
    row, col = _centre_of_mass(digit)
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5
    # anti-aliased: grey levels on the edges, not just ink and paper
    assert len(np.unique(digit)) > 20


def test_position_and_size_on_the_pad_do_not_matter():
    small = digit_from_strokes([[(0.1, 0.1), (0.1, 0.4)], [(0.05, 0.25), (0.15, 0.25)]])
    large = digit_from_strokes([[(0.5, 0.1), (0.5, 0.9)], [(0.3, 0.5), (0.7, 0.5)]])
    assert np.abs(small.astype(int) - large.astype(int)).mean() < 25  # same cross, up to stroke width


def test_area_resize_keeps_mean_ink_and_an_empty_pad_is_zero():
    image = np.random.default_rng(0).random((112, 80))
    small = resize_area(image, 20, 14)
    assert small.shape == (20, 14) and abs(small.mean() - image.mean()) < 1e-9
    assert not digit_from_strokes([]).any() and not mnist_digit(np.zeros((50, 50))).any()


def test_a_drawn_digit_is_read_by_the_demo_model():
    from prune_viz.core.io import load_model
    from prune_viz.resources import demo_model_path

    model = load_model(demo_model_path()).keras_model
    theta = np.linspace(0, 2 * np.pi, 50)
    drawings = {
        0: [list(zip(0.5 + 0.22 * np.cos(theta), 0.5 + 0.32 * np.sin(theta)))],
        1: [[(0.5, 0.15), (0.5, 0.85)]],
        7: [[(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]],
    }
    x = np.stack([digit_from_strokes(s) for s in drawings.values()]).reshape(len(drawings), -1) / 255.0
    assert list(np.argmax(model(x.astype(np.float32)).numpy(), axis=1)) == list(drawings)


def test_rasterised_strokes_are_round_capped_lines():
    ink = rasterise([[(0.25, 0.5), (0.75, 0.5)]], size=100, pen_width=0.1)
    # the line runs from x=25 to x=75 at y=50, with a radius of 5 pixels; the caps reach 5 past its ends
    assert ink[50, 50] == 1.0 and ink[50, 21] == 1.0 and ink[50, 18] == 0.0 and 0 < ink[50, 20] < 1
    assert ink[45, 50] == 1.0 and ink[44, 50] == 0.0
