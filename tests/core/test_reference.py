"""The published reference curves ship with their citations and match only the seed MLP."""

from __future__ import annotations

from types import SimpleNamespace

from prune_viz.core.reference import SEED_MLP_WIDTHS, is_seed_mlp, reference_curves


def test_curves_cite_their_repository_and_file():
    curves = reference_curves()
    assert {c.source for c in curves} == {
        "soniajoseph/Pruning",
        "taodav/Pruning-NNs",
        "justincosentino/network-pruning",
        "AmrMKayid/KayPruning",
    }
    assert {c.method for c in curves} == {"weight", "unit"}
    for curve in curves:
        assert curve.file and curve.setup and curve.ks[0] == 0
        assert all(0.05 < a < 1 for a in curve.accuracy)
    soniajoseph_unit = next(c for c in curves if c.source == "soniajoseph/Pruning" and c.method == "unit")
    assert dict(zip(soniajoseph_unit.ks, soniajoseph_unit.accuracy))[90] == 0.3667


def _layer(fan_in, units):
    return SimpleNamespace(kind="Dense", fan_in=fan_in, units=units, size=fan_in * units)


def test_only_the_seed_architecture_without_biases_matches():
    widths = SEED_MLP_WIDTHS
    layers = [_layer(a, b) for a, b in zip(widths[:-1], widths[1:])]
    kernels = sum(layer.size for layer in layers)
    assert is_seed_mlp(SimpleNamespace(layers=layers, total_parameters=kernels))
    assert not is_seed_mlp(SimpleNamespace(layers=layers, total_parameters=kernels + 2710))  # biases
    assert not is_seed_mlp(SimpleNamespace(layers=layers[:-1], total_parameters=kernels))
