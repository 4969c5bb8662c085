"""Every data source of issue 27 read through core.data.load_data: .npz, CSV, PNG and JPEG folders,
token sequences, and the Keras data sets from a fake Keras cache (tests/own_data.py builds them)."""

from __future__ import annotations

import numpy as np
import pytest
from own_data import CLASSES

from prune_viz.core import data_images
from prune_viz.core.data import DataError, DataFit, MissingData, load_data
from prune_viz.core.tasks import Cancelled, TaskState


def test_npz_with_both_splits_and_class_names(own_data):
    data = load_data(own_data / "colours.npz")
    assert data.kind == "images" and data.class_names == CLASSES and data.name == "colours.npz"
    assert data.x.shape == (90, 32, 32, 3) and data.y.shape == (90,) and len(data.train.x) == 300
    assert data.as_dict()["classes"] == 3 and "3 classes (blue, green, red)" in data.description
    unlabelled = load_data(own_data / "colours-unlabelled.npz")
    assert unlabelled.y is None and not unlabelled.has_labels and unlabelled.train is None


def test_png_and_jpeg_folders_are_decoded_at_the_models_size_once(own_data):
    npz = load_data(own_data / "colours.npz")
    fit = DataFit(image_size=(32, 32), channels=3)
    png = load_data(own_data / "colours-png", fit=fit)
    assert png.class_names == CLASSES and png.x.shape == (90, 32, 32, 3) and png.x.dtype == np.uint8
    assert len(png.train.x) == 60  # train/ recognised
    assert "resized from 40x40 to 32x32" in png.notes
    assert np.array_equal(np.sort(png.y), np.sort(npz.y))
    assert load_data(own_data / "colours-png", fit=fit) is png  # decoded once, then kept
    grey = load_data(own_data / "colours-png", fit=DataFit(image_size=(16, 16), channels=1))
    assert grey.x.shape == (90, 16, 16, 1) and "grey" in grey.notes
    jpeg = load_data(own_data / "colours-jpeg", fit=fit)
    assert jpeg.x.shape == (90, 32, 32, 3) and jpeg.train is None
    # JPEG is lossy: the same images, within a few grey levels on average
    order = np.argsort(jpeg.y, kind="stable")
    assert np.array_equal(jpeg.y[order], np.sort(npz.y, kind="stable"))
    assert np.mean(np.abs(np.sort(jpeg.x.astype(int).ravel()) - np.sort(npz.x.astype(int).ravel()))) < 8


def test_a_damaged_image_is_named(own_data, tmp_path):
    (tmp_path / "cats").mkdir()
    (tmp_path / "cats" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match="Cannot decode broken.png"):
        data_images.load_image_folder(tmp_path, DataFit(image_size=(8, 8), channels=3))


def test_cancel_while_decoding_stops_midway_and_caches_nothing(own_data):
    """Cancel between images: the first progress report after it raises, with images still undecoded."""
    state = TaskState()
    seen = []

    def report(fraction, message):
        seen.append(fraction)
        if fraction > 0:  # the first report after some images were decoded
            state.cancel()

    state.on_progress = report
    folder = own_data / "colours-png"
    fit = DataFit(image_size=(24, 24), channels=3)  # a size no other test decodes at
    with pytest.raises(Cancelled):
        data_images.load_image_folder(folder, fit, state)
    assert 0 < seen[-1] < 1  # stopped midway, not at the end
    fresh = TaskState(on_progress=lambda fraction, message: seen.append(fraction))
    data = data_images.load_image_folder(folder, fit, fresh)  # decoded again: the cancelled run left no cache
    assert data.x.shape == (90, 24, 24, 3) and len(data.train.x) == 60


def test_csv_label_column_by_name_else_the_last(own_data, tmp_path):
    table = load_data(own_data / "table.csv")
    assert table.kind == "features" and table.x.shape == (80, 4) and set(np.unique(table.y)) == {0, 1}
    assert table.notes == ("label column 'target'",)
    (tmp_path / "plain.csv").write_text("1.5,2,cat\n0.5,1,dog\n2.5,0,cat\n")
    plain = load_data(tmp_path / "plain.csv")
    assert plain.class_names == ("cat", "dog") and plain.y.tolist() == [0, 1, 0]
    (tmp_path / "numbers.csv").write_text("1,2,3\n4,5,6\n")
    assert load_data(tmp_path / "numbers.csv", fit=DataFit(features=3)).y is None  # as wide as the input: no labels
    assert load_data(tmp_path / "numbers.csv", fit=DataFit(features=2)).y.tolist() == [3, 6]
    (tmp_path / "ragged.csv").write_text("1,2,3\n4,5\n")
    with pytest.raises(DataError, match="row 2 has 2 columns, not 3"):
        load_data(tmp_path / "ragged.csv")


def test_token_sequences_are_tokens_for_a_model_with_an_embedding(own_data):
    data = load_data(own_data / "tokens.npz", fit=DataFit(sequence_length=20, vocabulary=50, features=20))
    assert data.kind == "tokens" and data.x.shape == (100, 30)


def test_keras_data_sets_from_the_cache(own_data, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(own_data / "keras_home"))
    fashion = load_data("fashion_mnist")
    assert fashion.name == "Fashion-MNIST" and fashion.class_names[0] == "T-shirt/top" and not fashion.is_mnist
    assert fashion.x.shape == (40, 28, 28) and len(fashion.train.x) == 60
    cifar = load_data("cifar10")
    assert cifar.name == "CIFAR-10" and cifar.class_names[:2] == ("airplane", "automobile")
    assert cifar.x.shape == (20, 32, 32, 3) and len(cifar.x_train) == 100
    _x, _y = __import__("own_data").colour_images(120, 32, 11)
    assert np.array_equal(cifar.x, _x[100:])  # CIFAR's channel-major rows back to (32, 32, 3)
    imdb = load_data("imdb", fit=DataFit(sequence_length=20, vocabulary=50))
    assert imdb.kind == "tokens" and imdb.class_names == ("negative", "positive") and imdb.x.dtype == object
    first = imdb.x[0]
    assert first[0] == 1 and first.max() < 50 and 2 in first  # start token, ids within the vocabulary, OOV
    with pytest.raises(MissingData, match="CIFAR-100 data set is not in the Keras cache") as raised:
        load_data("cifar100", allow_download=False)
    assert "downloading is switched off" in str(raised.value)


def test_a_source_that_is_neither_a_path_nor_a_name(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_data(tmp_path / "cifar11")
