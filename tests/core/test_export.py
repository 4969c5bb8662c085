"""Pruned export, compaction (equal outputs, smaller kernels), dead-unit coupling and the size/speed report."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from prune_viz.core.architectures import build_model
from prune_viz.core.export import (
    CompactionError,
    compact_model,
    csr_bytes,
    dead_unit_coupling,
    export_pruned,
    masked_kernels,
    size_and_speed,
)
from prune_viz.core.io import LoadedModel
from prune_viz.core.layers import find_prunable_layers
from prune_viz.core.pruning import Pruner, PruningConfig
from prune_viz.core.session import open_model

pytestmark = pytest.mark.keras_floor


def _with_random_biases(arch: str, seed: int):
    """An untrained net whose biases are non-zero, so dead units output a constant that must be folded."""
    import keras

    keras.utils.set_random_seed(seed)
    model = build_model(arch)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if getattr(layer, "use_bias", False):
            layer.bias.assign(rng.normal(0.0, 0.5, layer.bias.shape).astype(np.float32))
    return model


def _masked(model, config_of):
    loaded = LoadedModel(path=None, format="test", keras_model=model)
    layers = find_prunable_layers(loaded)
    pruner = Pruner(layers)
    included = {layer.name for layer in layers if not layer.is_output}
    result = pruner.prune(config_of(included))
    pruner.apply(result)  # the model now is the masked model
    return masked_kernels(result)


def _inputs(mnist, shape):
    return (mnist.x_test[:500].astype(np.float32) / 255.0).reshape((500,) + shape)


@pytest.mark.parametrize("arch,shape", [("lenet-300-100", (784,)), ("lenet-5", (28, 28, 1))])
def test_compacted_model_computes_the_masked_model(arch, shape, mnist):
    model = _with_random_biases(arch, seed=1)
    kernels = _masked(model, lambda inc: PruningConfig("unit", 50, "layer", inc))
    compaction = compact_model(model, kernels)
    x = _inputs(mnist, shape)
    want = np.asarray(model(x, training=False))
    got = np.asarray(compaction.model(x, training=False))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    shapes = {c.name: c.kernel_shape_after for c in compaction.layers}
    if arch == "lenet-300-100":
        assert shapes == {"fc1": (784, 150), "fc2": (150, 50), "output": (50, 10)}
    else:  # conv2 loses input channels, fc1 the flattened rows of conv2's dead filters
        assert shapes == {"conv1": (5, 5, 1, 10), "conv2": (5, 5, 10, 25), "fc1": (400, 250), "output": (250, 10)}
    expected = {
        "lenet-300-100": 784 * 150 + 150 + 150 * 50 + 50 + 50 * 10 + 10,
        "lenet-5": 5 * 5 * 10 + 10 + 5 * 5 * 10 * 25 + 25 + 400 * 250 + 250 + 250 * 10 + 10,
    }
    assert compaction.parameters_after == expected[arch]


def test_weight_pruning_leaves_no_dead_units_to_remove(trained_mlp_path):
    opened = open_model(trained_mlp_path)
    model = opened.loaded.keras_model
    result = opened.pruner.prune(PruningConfig("weight", 50, "layer", opened.default_included))
    compaction = compact_model(model, masked_kernels(result))
    assert [c.kernel_shape_after for c in compaction.layers] == [(784, 64), (64, 32), (32, 10)]
    assert compaction.parameters_after == compaction.parameters_before


def test_dead_unit_coupling_counts_weights_reading_dead_units():
    model = _with_random_biases("lenet-300-100", seed=2)
    kernels = _masked(model, lambda inc: PruningConfig("unit", 30, "layer", inc))
    coupling = dead_unit_coupling(model, kernels)
    dead_fc1 = ~np.any(kernels["fc1"] != 0, axis=0)
    dead_fc2 = ~np.any(kernels["fc2"] != 0, axis=0)
    assert dead_fc1.sum() == 90 and dead_fc2.sum() == 30
    expected = np.count_nonzero(kernels["fc2"][dead_fc1]) + np.count_nonzero(kernels["output"][dead_fc2])
    assert coupling.useless_weights == expected > 0
    assert [(row.layer, row.after, row.dead_inputs) for row in coupling.layers] == [
        ("fc2", "fc1", 90),
        ("output", "fc2", 30),
    ]


def test_branching_models_cannot_be_compacted():
    import keras

    inputs = keras.Input((784,))
    a = keras.layers.Dense(16, activation="relu", name="a")(inputs)
    b = keras.layers.Dense(16, activation="relu", name="b")(a)
    out = keras.layers.Dense(10, activation="softmax", name="out")(keras.layers.Add()([a, b]))
    model = keras.Model(inputs, out)
    kernels = _masked(model, lambda inc: PruningConfig("unit", 50, "layer", inc))
    with pytest.raises(CompactionError, match="straight chains"):
        compact_model(model, kernels)


def test_csr_bytes_is_data_indices_and_indptr():
    matrix = np.array([[0, 1.5, 0], [0, 0, 0], [2, 0, 3]], np.float32)
    assert csr_bytes(matrix) == 3 * 4 + 3 * 4 + 4 * 4


@pytest.fixture(scope="module")
def exported(trained_mlp_path, tmp_path_factory):
    opened = open_model(trained_mlp_path)
    before = [w.copy() for w in opened.loaded.keras_model.get_weights()]
    folder = tmp_path_factory.mktemp("export")
    config = PruningConfig("unit", 50, "layer", opened.default_included)
    dense = export_pruned(opened, config, folder / "dense.keras")
    compact = export_pruned(opened, config, folder / "compact.keras", compact=True)
    return opened, before, config, dense, compact


def test_export_leaves_the_opened_model_and_input_alone(exported, trained_mlp_path):
    opened, before, config, dense, compact = exported
    for got, want in zip(opened.loaded.keras_model.get_weights(), before):
        assert got.tobytes() == want.tobytes()
    with pytest.raises(FileExistsError, match="--force"):
        export_pruned(opened, config, dense.path)
    from prune_viz.core.files import WriteRefused

    with pytest.raises(WriteRefused, match="opened model"):
        export_pruned(opened, config, trained_mlp_path, force=True)
    assert compact.bytes < dense.bytes
    assert [c.kernel_shape_after for c in compact.compaction.layers] == [(784, 32), (32, 16), (16, 10)]


@pytest.mark.slow
def test_exported_files_load_in_a_fresh_keras_process(exported, mnist):
    opened, _, _, dense, compact = exported
    code = textwrap.dedent(f"""
        import json, zipfile, numpy as np, keras
        out = {{}}
        for name, path in (("dense", {str(dense.path)!r}), ("compact", {str(compact.path)!r})):
            model = keras.saving.load_model(path)
            kernels = [l.kernel.numpy() for l in model.layers if hasattr(l, "kernel")]
            x = np.load({str(dense.path.parent / "x.npy")!r})
            out[name] = {{"shapes": [list(k.shape) for k in kernels],
                          "zeros": [int((k == 0).sum()) for k in kernels],
                          "pred": np.asarray(model.predict(x, verbose=0)).tolist(),
                          "meta": json.loads(zipfile.ZipFile(path).read("prune_viz.json"))}}
        print(json.dumps(out))
    """)
    x = mnist.x_test[:50].reshape(50, 784).astype(np.float32) / 255.0
    np.save(dense.path.parent / "x.npy", x)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["dense"]["shapes"] == [[784, 64], [64, 32], [32, 10]]
    assert out["dense"]["zeros"][:2] == [32 * 784, 16 * 64]
    assert out["compact"]["shapes"] == [[784, 32], [32, 16], [16, 10]]
    np.testing.assert_allclose(out["compact"]["pred"], out["dense"]["pred"], rtol=1e-5, atol=1e-6)
    assert out["dense"]["meta"]["pruning"]["method"] == "unit" and out["dense"]["meta"]["pruning"]["k"] == 50
    assert out["compact"]["meta"]["pruning"]["compacted"] is True
    assert out["dense"]["meta"]["trained_on"] == opened.loaded.metadata["trained_on"]


def test_size_and_speed_report(trained_mlp_path, mnist):
    opened = open_model(trained_mlp_path)
    config = PruningConfig("unit", 50, "layer", opened.default_included)
    report = size_and_speed(opened, config, mnist, preprocessing="scale", repeats=2)
    names = [row.name for row in report.rows]
    assert names[0].startswith("dense") and names[1].startswith("gzip") and names[2].startswith("CSR")
    assert names[3].startswith("compacted")
    dense, gz, csr, compact = report.rows
    assert gz.bytes < dense.bytes and compact.bytes < dense.bytes
    kernels = masked_kernels(opened.pruner.prune(config))
    biases = 64 + 32 + 10
    assert csr.bytes == sum(csr_bytes(k) for k in kernels.values()) + biases * 4
    assert dense.latency_seconds > 0 and compact.latency_seconds > 0
    assert compact.accuracy == dense.accuracy  # same predictions on all 10,000 images
    assert report.max_output_difference < 1e-5
    assert report.coupling.useless_weights == sum(
        np.count_nonzero(kernels[after][~np.any(kernels[before] != 0, axis=0)])
        for before, after in (("hidden1", "hidden2"), ("hidden2", "output"))
    )
    assert report.nonzero_parameters == sum(np.count_nonzero(k) for k in kernels.values()) + biases
    for layer in opened.layers:  # the model is left unpruned
        assert np.asarray(layer.variable.numpy()).tobytes() == layer.original.tobytes()


def test_a_bare_savedmodel_is_refused_in_one_sentence(trained_mlp_path, tmp_path):
    import keras

    from prune_viz.core.export import ExportError

    folder = tmp_path / "savedmodel"
    keras.saving.load_model(trained_mlp_path).export(str(folder), verbose=False)
    opened = open_model(folder)
    assert opened.loaded.keras_model is None
    config = PruningConfig("unit", 50, "layer", opened.default_included)
    with pytest.raises(ExportError, match="bare TensorFlow SavedModel"):
        export_pruned(opened, config, tmp_path / "out.keras")
    with pytest.raises(ExportError, match="bare TensorFlow SavedModel"):
        size_and_speed(opened, config)
    assert not (tmp_path / "out.keras").exists()
