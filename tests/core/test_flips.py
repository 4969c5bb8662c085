"""The flip scan: each test image's breaking k, checked against brute force on a small model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from prune_viz.core.flips import SCAN_KS, run_flip_scan
from prune_viz.core.inputs import preprocess
from prune_viz.core.pruning import PruningConfig
from prune_viz.core.session import Session, open_model

SUBSET = 2000  # real test images; brute force over 101 k values stays quick


@pytest.fixture(scope="module")
def subset(mnist, tmp_path_factory):
    path = tmp_path_factory.mktemp("flips") / "mnist-test-subset.npz"
    np.savez(path, x_test=mnist.x_test[:SUBSET], y_test=mnist.y_test[:SUBSET])
    return mnist.x_test[:SUBSET], mnist.y_test[:SUBSET], path


@pytest.fixture(scope="module")
def session(trained_mlp_path, subset):
    s = Session(data_path=str(subset[2]), preprocessing="scale")
    s.set_model(open_model(trained_mlp_path))
    return s


@pytest.mark.parametrize("method, scope", [("weight", "layer"), ("unit", "global")])
def test_breaking_k_equals_brute_force(session, subset, method, scope):
    images, labels, _ = subset
    config = PruningConfig(method, 0, scope, session.config.included)
    seen = []
    scan = run_flip_scan(session, config, on_point=lambda i, predicted: seen.append(i))
    assert scan.ks == SCAN_KS and seen == list(range(101))
    # brute force: write each k's kernels into the model and call it directly
    model, pruner = session.model.loaded.keras_model, session.model.pruner
    x = preprocess(images, "scale").reshape(len(images), -1)
    expected = []
    for k in SCAN_KS:
        pruner.apply(pruner.prune(PruningConfig(method, k, scope, config.included)))
        try:
            expected.append(np.argmax(model(x, training=False).numpy(), axis=1))
        finally:
            pruner.restore()
    expected = np.stack(expected)
    np.testing.assert_array_equal(scan.predicted, expected)
    wrong = expected != labels[None, :]
    for image in range(len(labels)):
        failures = np.flatnonzero(wrong[:, image])
        want = float(SCAN_KS[failures[0]]) if len(failures) else None
        got = scan.breaking_k[image]
        assert (want is None and np.isnan(got)) or got == want
    # the scan is real: images break at many different k, some at once, most by k=100
    breaking = scan.breaking_k
    assert len(np.unique(breaking[~np.isnan(breaking)])) > 10
    assert np.nanmin(breaking) == 0 and np.mean(np.isnan(breaking)) < 0.3
    # per-digit accuracy at k=0 is the unpruned evaluation's
    record, _ = session.evaluate(PruningConfig(method, 0, scope, config.included), with_baseline=False)
    np.testing.assert_allclose(scan.per_digit_accuracy()[0], record.result.per_class_accuracy)
    np.testing.assert_array_equal(scan.confusion(0), record.result.confusion)


@pytest.mark.keras_floor
def test_json_shape(session):
    config = PruningConfig("weight", 0, "layer", session.config.included)
    scan = run_flip_scan(session, config, ks=(0, 50, 100))
    data = json.loads(json.dumps(scan.as_dict()))
    assert data["ks"] == [0, 50, 100]
    assert len(data["breaking_k"]) == SUBSET
    assert set(data["breaking_k"]) <= {None, 0, 50, 100}
    assert sorted(data["per_digit_accuracy"]) == [str(d) for d in range(10)]
    assert all(len(v) == 3 for v in data["per_digit_accuracy"].values())
    order = scan.order()
    breaking = scan.breaking_k[order]
    known = breaking[~np.isnan(breaking)]
    assert np.all(np.diff(known) >= 0) and np.all(np.isnan(breaking[len(known) :]))


def test_groups_split_the_images_by_what_pruning_did(session, subset):
    """broken: right unpruned and wrong at some k > 0; wrong: wrong unpruned; never: right at every k."""
    _, labels, _ = subset
    scan = run_flip_scan(session, PruningConfig("weight", 0, "layer", session.config.included), ks=(0, 50, 100))
    wrong = scan.predicted != labels[None, :]
    groups = {name: scan.group(name) for name in ("broken", "wrong", "never")}
    np.testing.assert_array_equal(groups["wrong"], wrong[0])
    np.testing.assert_array_equal(groups["broken"], ~wrong[0] & wrong[1:].any(axis=0))
    np.testing.assert_array_equal(groups["never"], ~wrong.any(axis=0))
    assert sum(g.sum() for g in groups.values()) == SUBSET and all(g.sum() > 0 for g in groups.values())
    broken = scan.order("broken")
    assert sorted(broken.tolist()) == np.flatnonzero(groups["broken"]).tolist()
    assert np.all(np.diff(scan.breaking_k[broken]) >= 0) and scan.breaking_k[broken[0]] == 50
    assert scan.order("all").tolist() == scan.order().tolist()
    with pytest.raises(ValueError, match="group must be one of"):
        scan.group("early")


def test_one_image_scan_agrees_with_the_test_set_scan(session, subset):
    """The pad's per-image scan: probabilities equal a direct model call, and a test image's flip k
    is its breaking k in the whole-test-set scan."""
    from prune_viz.core.flips import scan_image

    images, labels, _ = subset
    config = PruningConfig("unit", 0, "layer", session.config.included)
    scan = run_flip_scan(session, config)
    breaking = scan.breaking_k
    model, pruner = session.model.loaded.keras_model, session.model.pruner
    # images that break early, late, at once and never
    never = np.flatnonzero(np.isnan(breaking))[:1]
    chosen = [
        int(np.flatnonzero(breaking == 0)[0]),
        int(np.nanargmax(breaking)),
        int(np.nanargmin(breaking[100:])) + 100,
        *never.tolist(),
    ]
    for index in chosen:
        one = scan_image(session, images[index], config, label=int(labels[index]))
        want = None if np.isnan(breaking[index]) else float(breaking[index])
        assert one.flip_k == want
        np.testing.assert_array_equal(one.predicted, scan.predicted[:, index])
    # probabilities at k = 40 equal the pruned model's softmax output on the same pixels
    x = preprocess(images[chosen[1]][None], "scale").reshape(1, -1)
    pruner.apply(pruner.prune(PruningConfig("unit", 40, "layer", config.included)))
    try:
        direct = model(x, training=False).numpy()[0]
    finally:
        pruner.restore()
    one = scan_image(session, images[chosen[1]], config, ks=(0, 40))
    np.testing.assert_allclose(one.probabilities[1], direct, rtol=1e-5, atol=1e-6)
    assert one.label is None and one.reference == one.predicted[0]


def _scan(predicted, labels, names=None, against="labels"):
    from prune_viz.core.flips import FlipScan

    return FlipScan(PruningConfig(), (0.0, 10.0, 20.0), np.array(predicted), np.array(labels), "t", names, against)


def test_a_break_is_said_with_the_datas_class_names():
    # rows are k = 0, 10, 20; sample 0 breaks at 20 (read as 1), sample 1 at 10 (read as 2), sample 2
    # never, sample 3 is wrong unpruned (a 1 read as 0)
    scan = _scan([[0, 1, 2, 0], [0, 2, 2, 0], [1, 2, 2, 1]], [0, 1, 2, 1], ("cat", "dog", "bird"))
    np.testing.assert_array_equal(scan.breaking_prediction, [1, 2, -1, 0])
    assert scan.break_words(0) == ("cat -> dog", "at k = 20%")
    assert scan.describe_break(1) == "dog -> bird at k = 10%"
    assert scan.break_words(2) == ("bird", "never breaks")
    assert scan.describe_break(3) == "dog -> cat unpruned"
    assert scan.right_means == "matches the label"
    unnamed = _scan([[0, 1]], [0, 0], against="unpruned")
    assert unnamed.describe_break(1) == "0 -> 1 unpruned" and unnamed.class_name(7) == "7"
    assert unnamed.right_means == "agrees with the unpruned model"


def test_samples_are_pictures_only_when_they_are_images():
    from prune_viz.core.data import Dataset
    from prune_viz.core.flips import sample_pictures

    def data(x, kind="images"):
        return Dataset(x[:0], None, x, None, "t", None, "t", kind)

    colour = np.random.default_rng(0).integers(0, 256, (4, 20, 30, 3)).astype(np.uint8)
    assert sample_pictures(data(colour)) is not None and sample_pictures(data(colour)).shape == (4, 20, 30, 3)
    grey = colour[..., :1]
    np.testing.assert_array_equal(sample_pictures(data(grey)), grey[..., 0])
    flat = colour.reshape(4, -1)  # a CSV of colour pixels takes the model's image size
    np.testing.assert_array_equal(sample_pictures(data(flat), (20, 30), 3), colour)
    square = np.arange(4 * 49, dtype=np.uint8).reshape(4, 49)
    assert sample_pictures(data(square)).shape == (4, 7, 7)
    assert sample_pictures(data(np.zeros((4, 10), np.float32), "features")) is None
    assert sample_pictures(data(np.zeros((4, 20), np.int32), "tokens")) is None
    assert sample_pictures(data(np.zeros((4, 10), np.uint8))) is None  # flat, no size fits 10 numbers


def _brute_force(session, images, config):
    """The model's answers with ``config``'s kernels written in, called directly."""
    model, pruner = session.model.loaded.keras_model, session.model.pruner
    x = preprocess(images, "scale").reshape(len(images), -1)
    pruner.apply(pruner.prune(config))
    try:
        return np.argmax(model(x, training=False).numpy(), axis=1)
    finally:
        pruner.restore()


def test_nm_has_a_flip_set_what_its_pattern_breaks_and_fixes(session, subset):
    """N:M has no k: run_flips gives the samples right unpruned and wrong under 2:4 (and the other way)."""
    from prune_viz.core.flips import SET_GROUPS, FlipSet, run_flips

    images, labels, _ = subset
    config = PruningConfig("nm", included=session.config.included, nm=(2, 4))
    seen = []
    flips = run_flips(session, config, on_point=lambda i, predicted: seen.append(i))
    assert isinstance(flips, FlipSet) and seen == [0, 1] and flips.config == config
    unpruned = _brute_force(session, images, config.unpruned())
    under = _brute_force(session, images, config)
    np.testing.assert_array_equal(flips.predicted, np.stack([unpruned, under]))
    right, right_under = unpruned == labels, under == labels
    np.testing.assert_array_equal(flips.group("broken"), right & ~right_under)
    np.testing.assert_array_equal(flips.group("fixed"), ~right & right_under)
    counts = flips.counts()
    assert counts["broken"] > 0 and counts["fixed"] > 0  # 2:4 of a small MLP breaks some and fixes some
    assert sum(counts[name] for name in SET_GROUPS[:4]) == SUBSET == counts["all"]
    broken, fixed = flips.order("broken"), flips.order("fixed")
    assert flips.order()[: len(broken)].tolist() == broken.tolist() == np.flatnonzero(right & ~right_under).tolist()
    one = int(broken[0])
    was, now = (flips.class_name(int(c)) for c in (labels[one], under[one]))
    assert flips.break_words(one) == (f"{was} -> {now}", "right -> wrong under 2:4")
    one = int(fixed[0])
    assert flips.break_words(one) == (f"{unpruned[one]} -> {labels[one]}", "wrong -> right under 2:4")
    assert flips.point_words(0) == "unpruned" and flips.point_words(1) == "under 2:4"
    np.testing.assert_allclose(flips.accuracy(), [right.mean(), right_under.mean()])
    data = json.loads(json.dumps(flips.as_dict()))
    assert data["method"] == "nm" and data["nm"] == "2:4" and "k" not in data
    assert data["points"] == ["unpruned", "2:4"] and data["broken"] == broken.tolist()
    assert data["counts"]["fixed"] == len(fixed) and len(data["per_digit_accuracy"]["0"]) == 2
    with pytest.raises(Exception, match="fixed pattern"):
        run_flip_scan(session, config)  # a scan of k has nothing to scan


def test_block_pruning_is_scanned_along_k(session, subset):
    images, _, _ = subset
    config = PruningConfig("block", 0, "layer", session.config.included, block=(4, 4))
    scan = run_flip_scan(session, config, ks=(0, 60, 100))
    np.testing.assert_array_equal(scan.predicted[1], _brute_force(session, images, config.with_k(60)))
    assert scan.as_dict()["block"] == "4x4" and scan.config.describe(with_k=False) == "4x4 block pruning, layerwise"
    assert scan.group("broken").sum() > 0 and scan.accuracy()[2] < scan.accuracy()[0]


def test_a_flip_set_is_said_with_the_datas_class_names():
    from prune_viz.core.flips import FlipSet

    # answers unpruned (row 0) and under 1:4: broken, fixed, wrong either way, right either way
    flips = FlipSet(
        PruningConfig("nm", nm=(1, 4)),
        np.array([[0, 2, 2, 1], [1, 1, 0, 1]]),
        np.array([0, 1, 1, 1]),
        "t",
        ("cat", "dog", "bird"),
    )
    assert flips.break_words(0) == ("cat -> dog", "right -> wrong under 1:4")
    assert flips.break_words(1) == ("bird -> dog", "wrong -> right under 1:4")
    assert flips.describe_break(2) == "dog -> cat wrong either way"
    assert flips.break_words(3) == ("dog", "right either way")
    assert flips.order().tolist() == [0, 1, 2, 3] and flips.order("fixed").tolist() == [1]
    with pytest.raises(ValueError, match="group must be one of"):
        flips.group("early")
