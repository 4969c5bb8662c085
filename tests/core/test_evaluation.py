"""Exact evaluation on the real 10k test set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from prune_viz.core.evaluation import Evaluator, summarise
from prune_viz.core.inputs import EvaluationUnavailable, InputLayout, evaluation_problem, layout_for, preprocess
from prune_viz.core.io import LoadedModel, load_model
from prune_viz.core.tasks import Cancelled, TaskState

pytestmark = pytest.mark.keras_floor


@pytest.fixture(scope="module")
def loaded_mlp(trained_mlp_path):
    return load_model(trained_mlp_path)


def test_accuracy_is_correct_over_ten_thousand(loaded_mlp, mnist):
    evaluator = Evaluator(loaded_mlp, mnist, "scale")
    result = evaluator.run()
    outputs = loaded_mlp.keras_model(mnist.x_test.reshape(-1, 784).astype(np.float32) / 255.0).numpy()
    predicted = outputs.argmax(axis=1)
    assert result.total == 10_000
    assert result.correct == int((predicted == mnist.y_test).sum())
    assert result.accuracy == result.correct / 10_000
    assert result.accuracy > 0.85  # a real trained model, not chance
    expected_loss = -np.mean(np.log(np.clip(outputs[np.arange(10_000), mnist.y_test], 1e-7, 1)))
    assert result.loss == pytest.approx(expected_loss, rel=1e-4)
    assert result.confusion.sum() == 10_000
    np.testing.assert_array_equal(result.confusion.sum(axis=1), np.bincount(mnist.y_test, minlength=10))
    for digit in range(10):
        mask = mnist.y_test == digit
        assert result.per_class_accuracy[digit] == pytest.approx(np.mean(predicted[mask] == digit))


def test_auto_chooses_the_scaling_the_model_was_trained_with(loaded_mlp, mnist):
    assert Evaluator(loaded_mlp, mnist, "auto").preprocessing == "scale"


def test_progress_is_reported_and_cancel_stops(loaded_mlp, mnist):
    seen = []
    Evaluator(loaded_mlp, mnist, "scale", batch_size=1000).run(TaskState(on_progress=lambda f, m: seen.append(f)))
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == 10
    task = TaskState(on_progress=lambda f, m: task.cancel())
    with pytest.raises(Cancelled):
        Evaluator(loaded_mlp, mnist, "scale", batch_size=1000).run(task)


def test_fixed_batch_and_image_shaped_inputs(loaded_mlp, mnist):
    import keras

    # the same weights behind a (32, 28, 28, 1) input: 10,000 is not a multiple of 32, so the last batch is padded
    inputs = keras.Input((28, 28, 1), batch_size=32)
    x = keras.layers.Flatten()(inputs)
    for layer in loaded_mlp.keras_model.layers:
        x = layer(x)
    wrapped = LoadedModel(Path("fixed"), "test", keras.Model(inputs, x))
    fixed = Evaluator(wrapped, mnist, "scale")
    assert fixed.batch_size == 32 and fixed.layout == InputLayout((28, 28, 1), 32)
    assert fixed.run().correct == Evaluator(loaded_mlp, mnist, "scale").run().correct


@pytest.mark.parametrize(
    "shape,expected",
    [
        ((None, 784), (784,)),
        ((None, 28, 28), (28, 28)),
        ((None, 28, 28, 1), (28, 28, 1)),
        ((None, None, None, 1), (28, 28, 1)),
        ((None, 1, 28, 28), (1, 28, 28)),
        ((64, 784), (784,)),
    ],
)
def test_layouts(shape, expected):
    assert layout_for(shape).feature_shape == expected


CANNOT = "so it cannot be evaluated on MNIST. Pruning and inspecting its weights still work."


@pytest.mark.parametrize(
    "shape,sentence",
    [
        ((None, 224, 224, 3), f"This model takes 224x224x3 colour images; MNIST's are 28x28 grey images, {CANNOT}"),
        ((None, 3, 224, 224), f"This model takes 3x224x224 colour images; MNIST's are 28x28 grey images, {CANNOT}"),
        ((None, 28, 28, 3), f"This model takes 28x28x3 colour images; MNIST's are 28x28 grey images, {CANNOT}"),
        ((None, 32, 32, 1), f"This model takes 32x32x1 grey images; MNIST's are 28x28 grey images, {CANNOT}"),
        (
            (None, 100),
            f"This model takes vectors of 100 numbers; MNIST's are 28x28 grey images (784 numbers), {CANNOT}",
        ),
        ((None, 32, 32), f"This model takes inputs of shape 32x32; MNIST's are 28x28 grey images, {CANNOT}"),
        (
            None,
            "The model's input shape is unknown, so MNIST cannot be fed to it. "
            "Pruning and inspecting its weights still work.",
        ),
    ],
)
def test_inputs_mnist_cannot_fill_are_explained_in_one_sentence(shape, sentence):
    with pytest.raises(EvaluationUnavailable) as raised:
        layout_for(shape)
    assert str(raised.value) == sentence
    assert evaluation_problem(shape) == sentence


def test_inputs_mnist_fills_have_no_problem():
    for shape in ((None, 784), (None, 28, 28), (None, 28, 28, 1), (None, None, None, 1), (None, 1, 28, 28)):
        assert evaluation_problem(shape) is None


def test_l2_preprocessing_matches_keras_normalize(mnist):
    import keras

    flat = mnist.x_test[:50].reshape(50, -1).astype(np.float32)
    ours = preprocess(mnist.x_test[:50], "l2").reshape(50, -1)
    np.testing.assert_allclose(ours, keras.utils.normalize(flat, axis=1), rtol=1e-5, atol=1e-7)


def test_logits_and_probabilities_give_the_same_loss():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(100, 10))
    labels = rng.integers(0, 10, 100)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    a = summarise(logits, labels, False, "scale")
    b = summarise(probs, labels, True, "scale")
    assert a.loss == pytest.approx(b.loss, rel=1e-6) and a.correct == b.correct


def test_a_small_model_runs_the_test_set_as_one_batch_and_a_big_one_in_batches(loaded_mlp, mnist):
    import keras

    from prune_viz.core.evaluation import DEFAULT_BATCH

    assert Evaluator(loaded_mlp, mnist, "scale").batch_size == len(mnist.x_test)
    big = keras.Sequential(
        [keras.Input((784,)), keras.layers.Dense(1000), keras.layers.Dense(1000), keras.layers.Dense(10)]
    )  # 1.8M weights: batches keep Cancel responsive
    assert Evaluator(LoadedModel(Path("big.keras"), "test", big), mnist, "scale").batch_size == DEFAULT_BATCH
    wide = keras.Sequential(
        [keras.Input((28, 28, 1)), keras.layers.Conv2D(20, 5), keras.layers.Flatten(), keras.layers.Dense(10)]
    )  # few weights, but 11,520 activations per image
    assert Evaluator(LoadedModel(Path("conv.keras"), "test", wide), mnist, "scale").batch_size == DEFAULT_BATCH


def _answers(right: int, total: int = 1000) -> np.ndarray:
    return np.arange(total) < right


def test_the_scaling_is_chosen_by_accuracy_before_loss():
    """Issue 27: the loss alone picked raw pixels where /255 answered right more often."""
    from prune_viz.core.evaluation import _best_scaling

    candidates = ("scale", "raw", "l2")
    right = {"scale": _answers(900), "raw": _answers(800), "l2": _answers(100)}
    assert _best_scaling(candidates, {"scale": 0.5, "raw": 0.3, "l2": 2.3}, right) == "scale"
    # no accuracies (a regression model): the lowest loss, as before
    assert _best_scaling(candidates, {"scale": 0.5, "raw": 0.3, "l2": 2.3}, {}) == "raw"
    assert _best_scaling(candidates, {"scale": np.nan, "raw": np.inf, "l2": np.nan}, {}) == "scale"


def test_scalings_whose_answers_differ_by_chance_are_tied_and_the_loss_decides():
    from prune_viz.core.evaluation import _best_scaling, _tied

    signed = _answers(751)
    standard = signed.copy()
    standard[:7] = False  # seven the standardised inputs get wrong and x/127.5 - 1 right ...
    standard[751:763] = True  # ... twelve the other way: 756 right, within chance of 751
    assert standard.sum() == 756 and _tied(standard, signed)
    losses = {"signed": 0.6, "standard": 0.7}
    assert _best_scaling(("signed", "standard"), losses, {"signed": signed, "standard": standard}) == "signed"
    clearly = signed.copy()
    clearly[751:796] = True  # 45 more right, none fewer: not chance
    assert not _tied(clearly, signed)
    assert _best_scaling(("signed", "standard"), losses, {"signed": signed, "standard": clearly}) == "standard"


def test_per_image_and_caffe_scalings_match_tensorflow_and_keras_applications():
    import keras
    import tensorflow as tf

    from prune_viz.core.inputs import image_candidates

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    images[1] = 77  # a flat image: its standard deviation is floored, as TensorFlow does
    expected = tf.image.per_image_standardization(images.astype(np.float32)).numpy()
    np.testing.assert_allclose(preprocess(images, "image_standard"), expected, rtol=1e-5, atol=1e-5)
    caffe = keras.applications.vgg16.preprocess_input(images.astype(np.float32).copy())
    np.testing.assert_allclose(preprocess(images, "caffe"), np.asarray(caffe), rtol=1e-6, atol=1e-4)
    assert "caffe" in image_candidates(images) and "caffe" not in image_candidates(images[..., 0])
