"""N:M and block pruning (issue 28): N of every M along the input axis for every prunable kind, whole
blocks, padding stated, invalid requests refused, and the pattern kept through fine-tuning and provenance."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from prune_viz.core.io import LoadedModel
from prune_viz.core.layers import find_prunable_layers
from prune_viz.core.patterns import (
    PatternError,
    block_norms,
    input_run,
    is_valid_nm,
    layer_is_valid_nm,
    packed_nm_bytes,
    parse_block,
    parse_nm,
)
from prune_viz.core.pruning import Pruner, PruningConfig, PruningError, count_to_prune


def _pruner(model):
    layers = find_prunable_layers(LoadedModel(path=Path("in-memory"), format="test", keras_model=model))
    return Pruner(layers), layers


def _groups(layer, matrix, m):
    """Each group of M along the input axis, written out with loops (the test's own reading of the rule):
    yields (column, the group's row indices) for every run of the input axis, its last group short."""
    run = input_run(layer)
    for column in range(matrix.shape[1]):
        for start in range(0, layer.rows, run):
            for g in range(start, start + run, m):
                yield column, np.arange(g, min(g + m, start + run))


def _check_nm(layer, mask, n, m):
    matrix = np.abs(layer.as_matrix(layer.original))
    mask = mask.reshape(layer.rows, layer.columns)
    for column, rows in _groups(layer, mask, m):
        kept = mask[rows, column]
        assert np.count_nonzero(kept) == min(n, len(rows)), (layer.name, column, rows)
        if 0 < np.count_nonzero(kept) < len(rows):  # the kept ones are the highest |w| of the group
            assert matrix[rows, column][kept].min() >= matrix[rows, column][~kept].max()


@pytest.fixture(scope="module")
def kind_models():
    from kind_models import build_kind_models

    return build_kind_models()


@pytest.mark.slow
@pytest.mark.parametrize("nm", [(2, 4), (1, 3)])
def test_nm_keeps_exactly_n_of_every_m_inputs_for_every_prunable_kind(kind_models, nm):
    kinds = set()
    for model in kind_models.values():
        pruner, layers = _pruner(model)
        result = pruner.prune(PruningConfig("nm", included=frozenset(t.name for t in layers), nm=nm))
        with pruner.applied(result):
            pruned = {t.name: np.asarray(t.variable.numpy()) for t in layers}
        for t in layers:
            mask = np.asarray(result.masks[t.name].numpy())
            _check_nm(t, mask, *nm)
            assert np.array_equal(pruned[t.name], np.where(mask, t.original, 0))  # the one place masks are applied
            assert layer_is_valid_nm(t, pruned[t.name], nm) and result.layer(t.name).valid_nm
            assert result.layer(t.name).pruned == int((~mask).sum())
            kinds.add(t.kind)
    assert {"Dense", "Conv2D", "Conv1D", "DepthwiseConv2D", "Embedding"} <= kinds and len(kinds) >= 15, kinds


def _dense(inputs: int, units: int, seed: int = 0):
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((inputs,)), keras.layers.Dense(units, name="a"), keras.layers.Dense(3)])


def test_padding_of_an_input_axis_not_a_multiple_of_m_is_stated():
    pruner, layers = _pruner(_dense(10, 6))
    result = pruner.prune(PruningConfig("nm", included=frozenset({"a"})))
    mask = np.asarray(result.masks["a"].numpy())
    assert (mask[:8].reshape(2, 4, 6).sum(1) == 2).all()
    assert mask[8:].all()  # the last group holds 2 real weights (and 2 of padding): it keeps both
    note = result.layer("a").pattern_note
    assert "not a multiple of 4" in note and "padded with zeros to 12" in note
    assert any("padded" in line for line in result.pattern_notes())
    assert result.layer("a").valid_nm


def test_a_conv_kernels_groups_run_along_its_input_channels_per_kernel_position():
    import keras

    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((8, 8, 6)), keras.layers.Conv2D(5, 3, name="c"), keras.layers.Flatten()])
    pruner, layers = _pruner(model)
    layer = layers[0]
    assert input_run(layer) == 6  # 3x3 positions x 6 channels: groups of 4 and a padded group of 2 per position
    result = pruner.prune(PruningConfig("nm", included=frozenset({"c"})))
    kept = np.asarray(result.masks["c"].numpy())  # (3, 3, 6, 5)
    assert (kept[:, :, :4].sum(2) == 2).all() and kept[:, :, 4:].all()
    assert "9 kernel positions x 6 input channels" in result.layer("c").pattern_note


@pytest.mark.parametrize("scope", ["layer", "global"])
@pytest.mark.parametrize("block", [(4, 4), (1, 8), (3, 5)])
def test_block_masks_zero_whole_blocks_with_the_smallest_norms(scope, block):
    pruner, layers = _pruner(_dense(22, 13, seed=2))  # neither side a multiple of the blocks: edge blocks
    names = frozenset(t.name for t in layers)
    for k in (0, 30, 50, 90, 100):
        result = pruner.prune(PruningConfig("block", k, scope, names, block=block))
        all_norms, all_kept = [], []
        for t in layers:
            matrix = t.as_matrix(t.original)
            kept = np.asarray(result.masks[t.name].numpy()).reshape(matrix.shape)
            grid = (math.ceil(matrix.shape[0] / block[0]), math.ceil(matrix.shape[1] / block[1]))
            by_block = np.zeros(grid, bool)
            for i in range(grid[0]):
                for j in range(grid[1]):
                    cells = kept[i * block[0] : (i + 1) * block[0], j * block[1] : (j + 1) * block[1]]
                    assert cells.all() or not cells.any()  # a block is pruned whole or not at all
                    by_block[i, j] = cells.all()
            norms = block_norms(matrix, block)
            if scope == "layer":
                assert int((~by_block).sum()) == count_to_prune(by_block.size, k)
                if 0 < (~by_block).sum() < by_block.size:
                    assert norms[~by_block].max() <= norms[by_block].min()
            all_norms.append(norms.ravel())
            all_kept.append(by_block.ravel())
        if scope == "global":
            norms, kept = np.concatenate(all_norms), np.concatenate(all_kept)
            assert int((~kept).sum()) == count_to_prune(kept.size, k)
            if 0 < (~kept).sum() < kept.size:
                assert norms[~kept].max() <= norms[kept].min()


@pytest.mark.parametrize(
    "fields,words",
    [
        ({"nm": (2, 2)}, "0 < N < M"),
        ({"nm": (0, 4)}, "0 < N < M"),
        ({"nm": (5, 4)}, "0 < N < M"),
        ({"nm": (2, 1000)}, "at most 256"),
        ({"nm": (2.5, 4)}, "whole numbers"),
        ({"nm": "2-4"}, "written like 2:4"),
        ({"block": (0, 4)}, "from 1 to"),
        ({"block": "4*4"}, "written like 4x4"),
        ({"method": "blocks"}, "method must be one of"),
    ],
)
def test_invalid_pattern_requests_are_refused_in_one_sentence(fields, words):
    with pytest.raises(PruningError) as caught:
        PruningConfig(**{"method": "nm", **fields})
    message = str(caught.value)
    assert words in message and message.endswith(".") and "\n" not in message


def test_patterns_parse_from_text():
    assert parse_nm(" 2:4 ") == (2, 4) and parse_nm("1:8") == (1, 8)
    assert parse_block("4x4") == (4, 4) and parse_block("1X8") == (1, 8)
    assert PruningConfig("nm", nm="1:4").nm == (1, 4)
    with pytest.raises(PatternError):
        parse_nm("2:4:8")


def test_validity_packed_storage_and_describing():
    rng = np.random.default_rng(0)
    dense = rng.normal(size=(16, 3)).astype(np.float32)
    assert not is_valid_nm(dense, 2, 4)
    dense[1::2] = 0  # every other input zero: at most 2 of every 4
    assert is_valid_nm(dense, 2, 4) and not is_valid_nm(dense, 1, 4)
    # 16 inputs x 3 units = 12 groups of 4: 24 float32 values and 24 two-bit indices
    assert packed_nm_bytes(dense, 2, 4) == 24 * 4 + 6
    assert packed_nm_bytes(np.zeros((10, 3)), 2, 4) == 9 * 2 * 4 + math.ceil(9 * 2 * 2 / 8)  # padded to 12 rows
    config = PruningConfig("nm", 40, nm=(2, 4))
    assert config.describe() == "2:4 (N:M) pruning" and config.file_tag == "nm2-4"
    assert config.as_dict()["nm"] == "2:4" and not config.uses_k and not config.prunes_nothing
    assert config.unpruned().prunes_nothing
    block = PruningConfig("block", 50, "global", block=(1, 8))
    assert block.describe() == "1x8 block pruning, k=50%, global" and block.file_tag == "block1x8-k50"
    assert block.as_dict()["block"] == "1x8" and PruningConfig("block", 0).prunes_nothing


def test_provenance_records_the_pattern(tmp_path):
    from prune_viz.core.provenance import derivation, describe_derivation

    source = tmp_path / "model.keras"
    source.write_bytes(b"not really a model")
    entry = derivation(source, PruningConfig("nm", nm=(1, 4), included=frozenset({"a"})))
    assert entry["method"] == "nm" and entry["nm"] == "1:4"
    text = describe_derivation({"derived_from": entry})
    assert "1:4 (N:M) pruning" in text and "k=" not in text
    entry = derivation(source, PruningConfig("block", 60, block=(4, 4)))
    assert entry["block"] == "4x4" and "4x4 block pruning, k=60%" in describe_derivation({"derived_from": entry})
    assert "nm" not in derivation(source, PruningConfig("weight", 50))


@pytest.mark.slow
def test_fine_tuning_keeps_the_model_valid_nm(trained_mlp_path, mnist):
    from prune_viz.core.finetune import finetune
    from prune_viz.core.session import open_model

    opened = open_model(trained_mlp_path)
    config = PruningConfig("nm", included=opened.default_included, nm=(2, 4))
    result = finetune(opened, config, mnist, epochs=1, learning_rate=3e-3, seed=1, preprocessing="scale")
    kernels = {
        layer.name: np.asarray(layer.kernel.numpy()) for layer in result.model.layers if hasattr(layer, "kernel")
    }
    by_name = {layer.name: layer for layer in opened.layers}
    for name in config.included:
        assert layer_is_valid_nm(by_name[name], kernels[name], (2, 4)), name
        assert np.count_nonzero(kernels[name]) == kernels[name].size // 2  # the survivors all trained, none came back
    assert result.metadata["pruning"]["nm"] == "2:4"
    assert result.accuracy_after >= result.accuracy_before
