"""A k per layer (PruningConfig.layer_k): the named tensor at its own k, the others at the slider's,
in both scopes; recorded in lessons, exports and provenance; carried by sweeps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from prune_viz.core.io import LoadedModel
from prune_viz.core.layers import find_prunable_layers
from prune_viz.core.lesson import Lesson, parse_lesson
from prune_viz.core.provenance import derivation, describe_derivation
from prune_viz.core.pruning import LayerKs, Pruner, PruningConfig, PruningError, count_to_prune
from prune_viz.core.session import Session, describe_change


def _model():
    import keras

    keras.utils.set_random_seed(3)
    return keras.Sequential(
        [
            keras.Input((20,)),
            keras.layers.Dense(13, name="a"),
            keras.layers.Dense(7, name="b"),
            keras.layers.Dense(3, name="out"),
        ]
    )


@pytest.fixture(scope="module")
def pruner():
    layers = find_prunable_layers(LoadedModel(path=Path("in-memory"), format="test", keras_model=_model()))
    return Pruner(layers)


ALL = frozenset({"a", "b", "out"})


@pytest.mark.parametrize("method", ["weight", "unit"])
def test_an_override_changes_exactly_that_layers_sparsity(pruner, method):
    plain = pruner.prune(PruningConfig(method=method, k=30, included=ALL))
    own = pruner.prune(PruningConfig(method=method, k=30, included=ALL, layer_k={"b": 80}))
    for name in ("a", "out"):
        assert own.layer(name) == plain.layer(name)
        assert np.array_equal(own.masks[name].numpy(), plain.masks[name].numpy())
    b = own.layer("b")
    if method == "weight":
        assert b.pruned == count_to_prune(b.size, 80)
    else:
        assert b.pruned_units == count_to_prune(b.units, 80)
    assert b.sparsity > plain.layer("b").sparsity


def test_an_override_of_the_slider_k_is_the_same_as_no_override(pruner):
    plain = pruner.prune(PruningConfig(k=40, included=ALL))
    same = pruner.prune(PruningConfig(k=40, included=ALL, layer_k={"a": 40}))
    assert [layer.zeros for layer in same.layers] == [layer.zeros for layer in plain.layers]


def test_an_override_of_an_excluded_layer_prunes_nothing(pruner):
    result = pruner.prune(PruningConfig(k=50, included=frozenset({"a"}), layer_k={"b": 90}))
    assert result.layer("b").pruned == 0


def test_global_scope_prunes_the_named_layer_alone_and_ranks_the_others_together(pruner):
    own = pruner.prune(PruningConfig(k=50, scope="global", included=ALL, layer_k={"b": 10}))
    b = own.layer("b")
    assert b.pruned == count_to_prune(b.size, 10)
    # the others are exactly a global pruning of the others alone
    others = pruner.prune(PruningConfig(k=50, scope="global", included=frozenset({"a", "out"})))
    for name in ("a", "out"):
        assert own.layer(name) == others.layer(name)
    assert own.threshold("a") == own.threshold("out") != own.threshold("b")


def test_bad_overrides_are_refused_in_one_sentence(pruner):
    with pytest.raises(PruningError, match="from 0 to 100"):
        PruningConfig(layer_k={"a": 101})
    with pytest.raises(PruningError, match="no prunable layer"):
        pruner.prune(PruningConfig(k=10, included=ALL, layer_k={"nope": 5}))


def test_layer_ks_are_hashable_read_only_and_equal_to_a_dict():
    config = PruningConfig(layer_k={"b": 80, "a": 20.0})
    assert isinstance(config.layer_k, LayerKs)
    assert config.layer_k == {"a": 20.0, "b": 80.0}
    assert hash(config) == hash(PruningConfig(layer_k={"a": 20, "b": 80}))
    assert config != PruningConfig()
    with pytest.raises(TypeError):
        config.layer_k["a"] = 5  # type: ignore[index]
    assert config.k_of("a") == 20 and config.k_of("out") == config.k
    assert config.as_dict()["layer_k"] == {"a": 20.0, "b": 80.0}
    assert "layer_k" not in PruningConfig().as_dict()
    assert "own k: a 20%, b 80%" in config.describe()
    assert describe_change(PruningConfig(), config) == "the per-layer ks changed"


def test_lessons_round_trip_layer_k():
    lesson = Lesson(
        model="m.keras", model_sha256="0" * 64, config=PruningConfig(k=30, layer_k={"fc1": 80.0, "fc2": 95.5})
    )
    again = parse_lesson(lesson.to_json())
    assert again.config.layer_k == {"fc1": 80.0, "fc2": 95.5}
    assert parse_lesson(Lesson(model="m.keras", model_sha256="").to_json()).config.layer_k == {}
    bad = json.loads(lesson.to_json())
    bad["layer_k"] = {"fc1": 300}
    with pytest.raises(Exception, match="settings prune-viz does not know"):
        parse_lesson(json.dumps(bad))


def test_provenance_records_and_describes_layer_k(tmp_path):
    source = tmp_path / "m.keras"
    source.write_bytes(b"model")
    entry = derivation(source, PruningConfig(k=30, included=ALL, layer_k={"b": 80}))
    assert entry["layer_k"] == {"b": 80.0}
    assert "own k: b 80%" in describe_derivation({"derived_from": entry})
    assert "layer_k" not in derivation(source, PruningConfig(k=30))


def test_exports_record_layer_k_and_prune_the_layer_at_it(trained_mlp_path, tmp_path):
    import zipfile

    import keras

    from prune_viz.core.export import export_pruned
    from prune_viz.core.session import open_model

    opened = open_model(trained_mlp_path)
    first, second = (layer.name for layer in opened.layers[:2])
    config = PruningConfig(k=20, included=frozenset({first, second}), layer_k={second: 90})
    out = export_pruned(opened, config, tmp_path / "out.keras")
    metadata = json.loads(zipfile.ZipFile(out.path).read("prune_viz.json"))
    assert metadata["derived_from"]["layer_k"] == {second: 90.0}
    assert metadata["pruning"]["layer_k"] == {second: 90.0}
    kernels = [layer.kernel.numpy() for layer in keras.saving.load_model(out.path).layers if hasattr(layer, "kernel")]
    assert np.mean(kernels[0] == 0) == pytest.approx(0.2, abs=0.001)
    assert np.mean(kernels[1] == 0) == pytest.approx(0.9, abs=0.001)


def test_a_sweep_keeps_the_override_and_a_sensitivity_scan_drops_it(trained_mlp_path):
    from prune_viz.core.session import open_model
    from prune_viz.core.sweep import sweep_configs

    session = Session()
    session.set_model(open_model(trained_mlp_path))
    name = sorted(session.config.included)[0]
    session.configure(layer_k={name: 95})
    plan = sweep_configs(session, ["weight"], [10, 50])
    assert all(config.layer_k == {name: 95.0} for _, config in plan)
    scan = sweep_configs(session, ["weight"], [10, 50], per_layer=True)
    assert all(not config.layer_k for _, config in scan)
