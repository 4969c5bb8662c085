"""The checkpoints of every Keras layer kind (kind_models.py, for issue 26): each kind is there in each format,
and every one Keras 3 cannot rebuild fails to load for the reason recorded, while loading with its own code
works. That prune-viz opens each rebuildable one as the model it was (its outputs) is test_any_checkpoint's."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kind_loads import load_reports, load_reports_in_turn
from kind_models import KINDS, plan, tf_keras_available

pytestmark = [
    pytest.mark.slow,
    # a Functional model rebuilt from a file takes its inputs as a list: called on one array, Keras 3 warns
    pytest.mark.filterwarnings("ignore:The structure of `inputs` doesn't match"),
    # Keras reading a legacy .h5 weight through numpy 2
    pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"),
]

PLANNED = plan(Path("."))  # their names only: the files are the kind_checkpoints fixture's
NOT_REBUILDABLE = [c.id for c in PLANNED if not c.rebuildable]

# the Keras layer classes with weights (and containers of them) the checkpoints must hold: those issue 26
# names and the others keras.layers has (UnitNormalization, LayerNormalization's cousins without weights, the
# preprocessing layers without variables are not)
EXPECTED_CLASSES = {
    "Dense", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
    "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
    "LSTM", "GRU", "SimpleRNN", "RNN", "SimpleRNNCell", "LSTMCell", "GRUCell", "Bidirectional", "TimeDistributed",
    "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D", "Embedding", "ReversibleEmbedding",
    "MultiHeadAttention", "GroupQueryAttention", "Attention", "AdditiveAttention", "EinsumDense",
    "BatchNormalization", "LayerNormalization", "GroupNormalization", "RMSNormalization", "Normalization",
    "SpectralNormalization", "PReLU", "STFTSpectrogram", "Sequential",
}  # fmt: skip


@pytest.fixture(scope="module")
def by_id(kind_checkpoints) -> dict:
    return {c.id: c for c in kind_checkpoints}


def checkpoint(by_id, checkpoint_id):
    if checkpoint_id not in by_id:
        assert not tf_keras_available(), f"{checkpoint_id} was not written"
        pytest.skip("tf_keras is not installed: no Keras 2 checkpoints")
    return by_id[checkpoint_id]


def _class_names(config) -> set:
    if isinstance(config, list):
        return set().union(*map(_class_names, config)) if config else set()
    if not isinstance(config, dict):
        return set()
    found = {config["class_name"]} if isinstance(config.get("class_name"), str) else set()
    return found.union(*map(_class_names, config.values()))


def _saved_configs(kind_checkpoints) -> dict:
    """Each Keras 3 model's config as model.get_config() gave it when saved, by model name: read from the
    .keras archives kind_checkpoints wrote (the models as build_kind_models builds them), not built again."""
    import json
    import zipfile

    configs = {}
    for c in kind_checkpoints:
        if c.format == "keras3-keras" and c.custom_source is None and c.rebuildable:
            with zipfile.ZipFile(c.path) as archive:
                configs[c.name] = json.loads(archive.read("config.json"))["config"]
    return configs


def test_every_layer_kind_with_weights_is_built_sequential_and_functional(kind_checkpoints, by_id):
    import keras

    configs = _saved_configs(kind_checkpoints)
    assert set(configs) == {name for kind in KINDS for name in kind.models()}
    held = set().union(*map(_class_names, configs.values()))
    assert EXPECTED_CLASSES - held == set()

    def layer(model: str, name: str) -> dict:
        return next(entry["config"] for entry in configs[model]["layers"] if entry["config"]["name"] == name)

    gru = [layer(name, "gru") for name in configs if name.startswith("gru")]
    assert sorted(config["reset_after"] for config in gru) == [False, False, True, True]
    prelu = keras.saving.load_model(by_id["prelu-seq.keras"].path, compile=False)
    assert prelu.get_layer("prelu").alpha.shape == (10, 5)
    assert layer("depthwise-conv2d-fn", "conv")["depth_multiplier"] == 2
    embedding = layer("embedding-lstm-seq", "embedding")
    assert (embedding["input_dim"], embedding["output_dim"]) == (200, 16)
    sequential_only = {kind.name for kind in KINDS if kind.graph is None}
    assert {name.rsplit("-", 1)[0] for name in configs if name.endswith("-seq")} == sequential_only


def test_every_planned_checkpoint_is_written_and_small(kind_checkpoints):
    written = {c.id for c in kind_checkpoints}
    keras2 = {c.id for c in PLANNED if c.format == "keras2-h5"}
    assert written == {c.id for c in PLANNED} - (set() if tf_keras_available() else keras2)
    sizes = {c.id: c.path.stat().st_size for c in kind_checkpoints}
    assert {name: size for name, size in sizes.items() if not 4_000 <= size <= 200_000} == {}
    for c in kind_checkpoints:
        x, y = c.io()
        assert len(x) == len(y) and np.isfinite(y).all() and np.ptp(y) > 0, c.id
    custom = [c for c in kind_checkpoints if c.custom_source is not None]
    assert custom and all(c.custom_source.name == "custom_layers.py" and c.custom_source.is_file() for c in custom)


@pytest.fixture(scope="module")
def keras3_loads(kind_checkpoints) -> tuple[dict, dict]:
    """The "plain" loads of every checkpoint Keras 3 cannot rebuild, then the "own-code" loads of the Keras 3
    ones, in one process (one TensorFlow import): plain first, so that it runs without the custom code."""
    folder = kind_checkpoints[0].path.parent
    not_rebuildable = [c.id for c in kind_checkpoints if not c.rebuildable]
    keras3 = [c.id for c in kind_checkpoints if not c.rebuildable and c.format != "keras2-h5"]
    plain, own_code = load_reports_in_turn(folder, [("plain", not_rebuildable), ("own-code", keras3)])
    return plain, own_code


@pytest.fixture(scope="module")
def plain_loads(keras3_loads) -> dict:
    return keras3_loads[0]


@pytest.mark.parametrize("checkpoint_id", NOT_REBUILDABLE)
def test_keras3_without_the_custom_code_cannot_rebuild_it(by_id, plain_loads, checkpoint_id):
    saved = checkpoint(by_id, checkpoint_id)
    report = plain_loads[checkpoint_id]
    assert not report["custom_code"]
    assert report["max_diff"] is None, "it loaded"
    assert len(report["errors"]) == (2 if saved.format == "keras2-h5" else 1)
    assert saved.blocker in report["errors"][-1]


@pytest.fixture(scope="module")
def own_code_loads(kind_checkpoints, keras3_loads) -> dict:
    folder = kind_checkpoints[0].path.parent
    keras2 = [c.id for c in kind_checkpoints if not c.rebuildable and c.format == "keras2-h5"]
    reports = dict(keras3_loads[1])
    if keras2:
        reports.update(load_reports(folder, "tf_keras", keras2))
    return reports


@pytest.mark.parametrize("checkpoint_id", NOT_REBUILDABLE)
def test_with_its_own_code_it_loads_with_its_outputs(by_id, own_code_loads, checkpoint_id):
    """The file is sound: the code that wrote it (its custom_layers.py through custom_objects, a lambda with
    safe_mode=False, tf_keras for a Keras 2 file) rebuilds the model as it was."""
    saved = checkpoint(by_id, checkpoint_id)
    report = own_code_loads[checkpoint_id]
    assert report["errors"] == [] and report["max_diff"] < 1e-5, saved.id
