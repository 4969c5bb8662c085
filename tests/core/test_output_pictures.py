"""A generator's outputs as pictures: which outputs are pictures, their value scale, and the strip the
evaluation keeps of the first samples (unpruned and pruned), checked against the model called directly."""

from __future__ import annotations

import numpy as np
import pytest

from prune_viz.core.output_pictures import STRIP_SAMPLES, as_pictures, picture_shape, value_range
from prune_viz.core.session import Session, open_model


def test_which_outputs_are_pictures():
    assert picture_shape((28, 28, 1)) == (28, 28, 1)
    assert picture_shape((32, 32, 3)) == (32, 32, 3)
    assert picture_shape((28, 28)) == (28, 28)
    for not_a_picture in ((10,), (), (20, 3), (100, 8), (8, 8, 7), (2, 2, 3), (None, 16)):
        assert picture_shape(not_a_picture) is None, not_a_picture


def test_values_are_drawn_on_the_unpruned_outputs_scale():
    assert value_range(np.array([-0.9, 0.2, 0.95])) == (-1.0, 1.0)  # tanh
    assert value_range(np.array([0.1, 0.7])) == (0.0, 1.0)  # sigmoid
    assert value_range(np.array([3.0, 200.0])) == (0.0, 255.0)  # pixels
    assert value_range(np.array([-5.0, 7.0])) == (-5.0, 7.0)
    pictures = as_pictures(np.array([[-1.0, 0.0, 1.0, 3.0]]), (2, 2, 1), (-1.0, 1.0))
    np.testing.assert_array_equal(pictures, [[[0, 128], [255, 255]]])  # grey: the channel dropped, beyond: clipped


@pytest.mark.slow
def test_the_evaluation_keeps_a_strip_of_a_generators_outputs(own_data):
    import keras

    session = Session(data_path=str(own_data / "noise.npz"))
    session.set_model(open_model(own_data / "image_generator.keras"))
    unpruned, _ = session.evaluate(session.config.with_k(0.0))
    strip = unpruned.result.output_strip
    assert unpruned.result.task == "agreement" and strip is not None
    assert strip.unpruned.shape == (STRIP_SAMPLES, 32, 32, 3) and strip.span == (0.0, 1.0)  # sigmoid outputs
    np.testing.assert_array_equal(strip.pruned, strip.unpruned)
    noise = np.load(own_data / "noise.npz")["x"][:STRIP_SAMPLES]
    direct = keras.saving.load_model(own_data / "image_generator.keras")(noise).numpy()
    assert np.abs(strip.unpruned.astype(int) - np.round(direct * 255)).max() <= 1
    pruned, _ = session.evaluate(session.config.with_k(80.0))
    np.testing.assert_array_equal(pruned.result.output_strip.unpruned, strip.unpruned)
    assert np.abs(pruned.result.output_strip.pruned.astype(int) - strip.unpruned).mean() > 1  # pruning shows


@pytest.mark.slow
def test_a_classifier_has_no_strip(own_data):
    session = Session(data_path=str(own_data / "colours.npz"))
    session.set_model(open_model(own_data / "colours.keras"))
    record, _ = session.evaluate(session.config.with_k(50.0))
    assert record.result.task == "classification" and record.result.output_strip is None
