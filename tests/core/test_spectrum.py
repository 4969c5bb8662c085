"""Spectra of the prunable tensors (core.spectrum): singular values as NumPy's SVD gives them, alpha as the
``powerlaw`` package fits it on the same eigenvalues, a known power law recovered, and pruned matrices."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from prune_viz.core.layers import PrunableLayer
from prune_viz.core.pruning import PruningConfig
from prune_viz.core.session import open_model
from prune_viz.core.spectrum import (
    NON_FINITE,
    VIEW_MATRIX,
    VIEW_PER_POSITION,
    SpectrumCache,
    alpha_scan,
    fit_power_law,
    layer_spectrum,
    matrix_spectrum,
    spectra_at,
    view_words,
)
from prune_viz.resources import demo_model_path

ALPHA_AGREEMENT = 0.05  # issue 29: alpha within 0.05 of the powerlaw package's fit


@pytest.fixture(scope="module")
def demo():
    return open_model(demo_model_path())


@pytest.fixture(scope="module")
def trained_cnn(tmp_path_factory, mnist_train):
    """A small CNN trained for two epochs on the 5,000-image MNIST subset: conv 3x3x1x32, conv
    3x3x32x64 (a 288 x 64 matrix view), dense 1600 x 64, output 64 x 10."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(32, 3, activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(64, 3, activation="relu", name="conv2"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu", name="dense"),
            keras.layers.Dense(10, activation="softmax", name="output"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    x = mnist_train.x_train[..., None].astype("float32") / 255.0
    model.fit(x, mnist_train.y_train, epochs=2, batch_size=64, verbose=0)
    path = tmp_path_factory.mktemp("spectrum_cnn") / "cnn.keras"
    model.save(path)
    return open_model(path)


def powerlaw_fit(eigenvalues):
    """The powerlaw package's fit (xmin by the smallest KS distance, alpha by maximum likelihood). Its 2.0
    release keeps alpha in [0, 3] by default (a fit outside is dropped as out of range); WeightWatcher's
    own fit has no such bound, so the range is widened to compare every layer."""
    import powerlaw

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return powerlaw.Fit(eigenvalues, verbose=False, parameter_ranges={"alpha": [1, 50]})


def assert_fit_matches_powerlaw(spectrum):
    ours = spectrum.fit
    theirs = powerlaw_fit(spectrum.nonzero)
    assert abs(ours.alpha - theirs.alpha) <= ALPHA_AGREEMENT, (spectrum.name, ours, theirs.alpha)
    assert ours.xmin == pytest.approx(theirs.xmin, rel=1e-6), spectrum.name
    assert ours.ks_distance == pytest.approx(theirs.D, abs=1e-6), spectrum.name


def test_singular_values_are_numpys(demo):
    for layer in demo.layers:
        matrix = layer.as_matrix(layer.original).astype(np.float64)
        expected = np.linalg.svd(matrix, compute_uv=False)
        found = layer_spectrum(layer).singular_values
        assert found.shape == expected.shape
        np.testing.assert_allclose(found, expected, atol=1e-9 * expected[0], rtol=1e-6)


def test_a_wide_matrix_has_the_spectrum_of_its_transpose():
    rng = np.random.default_rng(1)
    wide = rng.standard_normal((40, 130)).astype(np.float32)
    a, b = matrix_spectrum("wide", wide), matrix_spectrum("tall", wide.T.copy())
    assert a.shape == (40, 130) and a.n == 130 and len(a.eigenvalues) == 40
    np.testing.assert_allclose(a.eigenvalues, b.eigenvalues, rtol=1e-10)
    np.testing.assert_allclose(a.singular_values, np.linalg.svd(wide.astype(np.float64), compute_uv=False), rtol=1e-8)


def test_alpha_is_powerlaws_on_the_demo_layers(demo):
    for layer in demo.layers:
        assert_fit_matches_powerlaw(layer_spectrum(layer))


@pytest.mark.slow
def test_alpha_is_powerlaws_on_a_trained_cnn(trained_cnn):
    names = [layer.name for layer in trained_cnn.layers]
    assert names == ["conv1", "conv2", "dense", "output"]
    for layer in trained_cnn.layers:
        spectrum = layer_spectrum(layer)
        assert spectrum.shape == (layer.rows, layer.columns)  # the matrix view: kh*kw*in x filters
        assert spectrum.view == (VIEW_PER_POSITION if layer.name.startswith("conv") else VIEW_MATRIX)
        assert_fit_matches_powerlaw(spectrum)


@pytest.mark.parametrize("method", ["weight", "unit"])
@pytest.mark.parametrize("k", [30.0, 70.0])
def test_alpha_is_powerlaws_on_pruned_matrices(demo, method, k):
    result = demo.pruner.prune(PruningConfig(method=method, k=k, included=demo.default_included))
    pairs = spectra_at(demo, result)
    for (original, pruned), layer in zip(pairs, demo.layers):
        if layer.name in demo.default_included:
            assert pruned is not original
            assert_fit_matches_powerlaw(pruned)
            assert pruned.sparsity == pytest.approx(result.layer(layer.name).sparsity, abs=1e-9)
        else:  # the output layer is not pruned by default: its spectrum is the original's
            assert pruned is original


def test_pruned_spectrum_is_the_spectrum_of_the_pruned_matrix(demo):
    result = demo.pruner.prune(PruningConfig(method="weight", k=60.0, included=demo.default_included))
    layer = demo.layers[1]
    matrix = layer.as_matrix(layer.original)
    pruned_matrix = np.where(result.plans[layer.name].kept(matrix), matrix, 0).astype(np.float64)
    expected = np.linalg.svd(pruned_matrix, compute_uv=False)
    found = layer_spectrum(layer, result.plans[layer.name]).singular_values
    np.testing.assert_allclose(found, expected, atol=1e-6 * expected[0])
    assert found[0] < layer_spectrum(layer).singular_values[0]  # pruning at 60% lowers the spectral norm


def test_removed_units_are_rank_lost(demo):
    config = PruningConfig(method="unit", k=40.0, included=demo.default_included)
    result = demo.pruner.prune(config)
    for original, pruned in spectra_at(demo, result, names=["fc1", "fc2"]):
        removed = result.layer(pruned.name).pruned_units
        assert removed > 0
        assert pruned.rank_loss == original.rank_loss + removed
        assert len(pruned.nonzero) == len(pruned.eigenvalues) - pruned.rank_loss
        assert (pruned.nonzero > 0).all()


def pareto_eigenvalues(alpha: float, n: int, xmin: float, seed: int) -> np.ndarray:
    """n values with density proportional to x^-alpha above xmin (numpy's pareto is the Lomax, shifted)."""
    return (np.random.default_rng(seed).pareto(alpha - 1.0, n) + 1.0) * xmin


@pytest.mark.parametrize("alpha", [2.0, 3.0, 4.5])
def test_a_known_power_law_is_recovered(alpha):
    """The MLE of alpha over a tail of n values has standard error (alpha - 1) / sqrt(n) (Clauset et al.
    2009, eq. 3.2); the fitted alpha must lie within 4 of those of the true one (a seeded draw, so the test
    is deterministic; 4 sigma leaves room for xmin's choice, which shortens the tail), and the pure power
    law's fit must be good (D small)."""
    values = pareto_eigenvalues(alpha, 4000, 0.01, seed=7)
    fit = fit_power_law(values)
    tolerance = 4 * (alpha - 1) / math.sqrt(fit.tail)
    assert abs(fit.alpha - alpha) < tolerance, (fit, tolerance)
    assert fit.tail > 400 and fit.ks_distance < 0.03


def test_a_matrix_with_a_known_spectrum():
    """W = U diag(s) V^T with orthonormal U, V and s^2 / N drawn from a power law with alpha = 2.5: the
    matrix's fitted alpha is that power law's, within 4 standard errors."""
    rng = np.random.default_rng(3)
    n, m, alpha = 800, 300, 2.5
    eigenvalues = pareto_eigenvalues(alpha, m, 1e-3, seed=11)
    u, _ = np.linalg.qr(rng.standard_normal((n, m)))
    v, _ = np.linalg.qr(rng.standard_normal((m, m)))
    w = (u * np.sqrt(eigenvalues * n)) @ v.T
    spectrum = matrix_spectrum("known", w)
    np.testing.assert_allclose(spectrum.eigenvalues, np.sort(eigenvalues), rtol=1e-6)
    tolerance = 4 * (alpha - 1) / math.sqrt(spectrum.fit.tail)
    assert abs(spectrum.fit.alpha - alpha) < tolerance, (spectrum.fit, tolerance)
    assert spectrum.spectral_norm == pytest.approx(math.sqrt(eigenvalues.max() * n), rel=1e-6)
    assert spectrum.stable_rank == pytest.approx(eigenvalues.sum() / eigenvalues.max(), rel=1e-6)


def test_an_all_zero_matrix_and_too_few_eigenvalues():
    empty = matrix_spectrum("zero", np.zeros((20, 5), np.float32))
    assert empty.rank_loss == 5 and empty.spectral_norm == 0 and empty.stable_rank == 0
    assert not empty.fit.fitted and empty.as_dict()["alpha"] is None and empty.sparsity == 1.0
    assert not fit_power_law(np.array([0.5])).fitted
    assert matrix_spectrum("small", np.eye(8, 3, dtype=np.float32) * [1, 2, 3]).few


def test_nan_weights_have_no_spectrum():
    matrix = np.ones((6, 4), np.float32)
    matrix[2, 1] = np.nan
    spectrum = matrix_spectrum("nan", matrix)
    assert spectrum.problem == NON_FINITE and not spectrum.fit.fitted
    assert spectrum.as_dict()["problem"] == NON_FINITE


def test_cache_and_scan(demo):
    cache = SpectrumCache()
    config = PruningConfig(method="unit", k=0.0, included=demo.default_included)
    points = alpha_scan(demo, config, ks=(0.0, 50.0), cache=cache, model_key=1)
    assert [p.k for p in points] == [0.0, 50.0]
    assert sorted(points[0].spectra) == ["fc1", "fc2"]  # the included tensors
    at_zero, at_fifty = points[0].spectra["fc1"], points[1].spectra["fc1"]
    assert at_zero.fit.alpha == pytest.approx(layer_spectrum(demo.layers[0]).fit.alpha)
    assert at_fifty.rank_loss == 150  # half of fc1's 300 units removed
    # the same k again is the cached spectrum itself, not a new computation
    again = spectra_at(demo, demo.pruner.prune(config.with_k(50.0)), ["fc1"], cache=cache, model_key=1)
    assert again[0][1] is at_fifty
    other_model = spectra_at(demo, demo.pruner.prune(config.with_k(50.0)), ["fc1"], cache=cache, model_key=2)
    assert other_model[0][1] is not at_fifty


# -- convolutions: one matrix per kernel position, their eigenvalues pooled (WeightWatcher's conv2D_Wmats) --


@pytest.fixture(scope="module")
def conv_zoo(tmp_path_factory):
    """An untrained model with a convolution of each kind: Conv2D, DepthwiseConv2D (multiplier 2),
    SeparableConv2D, Conv2DTranspose, Conv1D and Conv3D, and a Dense head (built, never trained)."""
    import keras

    keras.utils.set_random_seed(5)
    image = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(16, 3, name="conv")(image)
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, name="depthwise")(x)
    x = keras.layers.SeparableConv2D(24, 3, name="separable")(x)
    x = keras.layers.Conv2DTranspose(8, 3, name="transposed")(x)
    x = keras.layers.Reshape((64, 8))(x)
    x = keras.layers.Conv1D(12, 5, name="conv1d")(x)
    volume = keras.Input((4, 6, 6, 2))
    y = keras.layers.Conv3D(6, (2, 3, 3), name="conv3d")(volume)
    joined = keras.layers.Concatenate()([keras.layers.Flatten()(x), keras.layers.Flatten()(y)])
    model = keras.Model([image, volume], keras.layers.Dense(10, name="dense")(joined))
    path = tmp_path_factory.mktemp("conv_zoo") / "zoo.keras"
    model.save(path)
    return open_model(path)


def per_position_eigenvalues(kernel: np.ndarray) -> np.ndarray:
    """Each kernel position's matrix kernel[i, j] (the last two axes), its squared singular values over its
    larger side, pooled and sorted: computed from the kernel's own axes, not from the matrix view."""
    values = []
    for position in np.ndindex(*kernel.shape[:-2]):
        matrix = kernel[position].astype(np.float64)
        values.append(np.linalg.svd(matrix, compute_uv=False) ** 2 / max(matrix.shape))
    return np.sort(np.concatenate(values))


def test_each_convolution_is_cut_per_kernel_position(conv_zoo):
    by_name = {layer.name: layer for layer in conv_zoo.layers}
    positions = {"conv": 9, "depthwise": 9, "separable/depthwise_kernel": 9, "transposed": 9, "conv1d": 5}
    positions["conv3d"] = 18
    matrices = {"separable/pointwise_kernel", "dense"}  # a 1x1 pointwise kernel is its matrix
    assert set(by_name) == set(positions) | matrices
    for name, layer in by_name.items():
        spectrum = layer_spectrum(layer)
        assert spectrum.shape == (layer.rows, layer.columns)
        if name in matrices:
            expected = np.linalg.svd(layer.as_matrix(layer.original).astype(np.float64), compute_uv=False)
            expected = np.sort(expected**2 / max(layer.rows, layer.columns))
            assert spectrum.view == VIEW_MATRIX and spectrum.slices == 1, name
            assert view_words(layer) == spectrum.view_words == f"{layer.rows} x {layer.columns}"
        else:
            expected = per_position_eigenvalues(layer.original)
            slice_shape = tuple(layer.shape[-2:])  # in x out; filters x in transposed; in x multiplier depthwise
            assert spectrum.view == VIEW_PER_POSITION and spectrum.slices == positions[name], name
            assert spectrum.slice_shape == slice_shape and spectrum.n == max(slice_shape)
            assert (
                view_words(layer) == spectrum.view_words == f"{positions[name]} x ({slice_shape[0]} x {slice_shape[1]})"
            )
        np.testing.assert_allclose(spectrum.eigenvalues, expected, rtol=1e-6, atol=1e-9 * expected[-1], err_msg=name)
        assert spectrum.spectral_norm == pytest.approx(math.sqrt(expected[-1] * spectrum.n), rel=1e-6)
        assert spectrum.stable_rank == pytest.approx(expected.sum() / expected[-1], rel=1e-6)
        row = spectrum.as_dict()
        assert row["view"] == spectrum.view and row["slices"] == spectrum.slices
        assert row["slice"] == list(spectrum.slice_shape or spectrum.shape)


def conv_layer(kernel: np.ndarray) -> PrunableLayer:
    return PrunableLayer(name="conv", kind="Conv2D", variable=None, original=kernel)


def test_conv_alpha_is_powerlaws_on_the_pooled_positions():
    """A heavy-tailed 3x3x64x128 kernel (Student t entries, as trained layers' heavy tails): alpha, xmin and D
    are the powerlaw package's fit on the 9 x 64 eigenvalues of its kernel positions, and not the fit of its
    576 x 128 matrix view."""
    kernel = np.random.default_rng(4).standard_t(2.5, (3, 3, 64, 128)).astype(np.float32)
    spectrum = layer_spectrum(conv_layer(kernel))
    pooled = per_position_eigenvalues(kernel)
    assert len(spectrum.nonzero) == len(pooled) == 9 * 64
    theirs = powerlaw_fit(pooled)
    assert abs(spectrum.fit.alpha - theirs.alpha) <= ALPHA_AGREEMENT, (spectrum.fit, theirs.alpha)
    assert spectrum.fit.xmin == pytest.approx(theirs.xmin, rel=1e-5)
    assert spectrum.fit.ks_distance == pytest.approx(theirs.D, abs=1e-5)
    matrix_view = matrix_spectrum("conv", kernel.reshape(-1, 128))
    assert len(matrix_view.eigenvalues) == 128 and abs(matrix_view.fit.alpha - spectrum.fit.alpha) > 0.1


def test_a_conv_whose_positions_have_a_known_spectrum():
    """Each of the 9 positions of a 3x3x200x60 kernel is U diag(s) V^T with s^2 / 200 drawn from one power law
    (alpha = 2.5), a draw of its own per position: the pooled eigenvalues are those draws and the fitted alpha
    is the law's, within 4 standard errors."""
    rng = np.random.default_rng(8)
    n, m, alpha = 200, 60, 2.5
    kernel = np.zeros((3, 3, n, m))
    drawn = []
    for p, (i, j) in enumerate(np.ndindex(3, 3)):
        eigenvalues = pareto_eigenvalues(alpha, m, 1e-3, seed=20 + p)
        u, _ = np.linalg.qr(rng.standard_normal((n, m)))
        v, _ = np.linalg.qr(rng.standard_normal((m, m)))
        kernel[i, j] = (u * np.sqrt(eigenvalues * n)) @ v.T
        drawn.append(eigenvalues)
    drawn = np.sort(np.concatenate(drawn))
    spectrum = layer_spectrum(conv_layer(kernel))
    np.testing.assert_allclose(spectrum.eigenvalues, drawn, rtol=1e-6)
    tolerance = 4 * (alpha - 1) / math.sqrt(spectrum.fit.tail)
    assert abs(spectrum.fit.alpha - alpha) < tolerance, (spectrum.fit, tolerance)
    assert spectrum.spectral_norm == pytest.approx(math.sqrt(drawn[-1] * n), rel=1e-6)
    assert spectrum.stable_rank == pytest.approx(drawn.sum() / drawn[-1], rel=1e-6)
    assert spectrum.singular_values[0] == pytest.approx(spectrum.spectral_norm)


@pytest.mark.parametrize("method", ["weight", "unit"])
def test_a_pruned_convolution_is_its_pruned_kernels_positions(conv_zoo, method):
    included = frozenset({"conv", "depthwise", "transposed", "conv3d"})
    result = conv_zoo.pruner.prune(PruningConfig(method=method, k=50.0, included=included))
    by_name = {layer.name: layer for layer in conv_zoo.layers}
    pairs = {pruned.name: (original, pruned) for original, pruned in spectra_at(conv_zoo, result, sorted(included))}
    for name in included:
        layer = by_name[name]
        matrix = layer.as_matrix(layer.original)
        pruned_kernel = np.where(result.plans[name].kept(matrix), matrix, 0).reshape(layer.shape)
        original, pruned = pairs[name]
        expected = per_position_eigenvalues(pruned_kernel)
        np.testing.assert_allclose(pruned.nonzero, expected[pruned.rank_loss :], rtol=1e-5, err_msg=name)
        assert expected[: pruned.rank_loss].max(initial=0) <= 1e-10 * expected[-1], name
        assert pruned.view == original.view == VIEW_PER_POSITION
        assert pruned.sparsity == pytest.approx(result.layer(name).sparsity, abs=1e-9)
        assert pruned.stable_rank != pytest.approx(original.stable_rank)
