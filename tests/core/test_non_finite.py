"""NaN and infinite weights (issue 30, item 13): one rule says which weights they are, the model's notes
say where and what pruning does with them, and pruning keeps them last as core.plan states, by
magnitude and by LAMP alike. Extra output heads of a multi-output model are output layers too."""

from __future__ import annotations

import json

import numpy as np
import pytest

from prune_viz.core.non_finite import PRUNING_RULE, NonFinite, by_layer, is_non_finite, non_finite_entries
from prune_viz.core.session import Session, open_model

pytestmark = pytest.mark.keras_floor


def test_the_rule_counts_nan_and_both_infinities_and_nothing_else():
    values = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1e38, -1e-45, np.nan], np.float32)
    np.testing.assert_array_equal(is_non_finite(values), [0, 0, 1, 1, 1, 0, 0, 1])
    assert non_finite_entries(values) == (2, 2)
    assert non_finite_entries(np.arange(5)) == (0, 0)  # integers are always numbers
    assert not is_non_finite(np.arange(5)).any()
    assert by_layer([NonFinite("h1/kernel", 1, 0, 4), NonFinite("h1/bias", 0, 2, 2), NonFinite("out", 1, 0, 3)]) == {
        "h1": 3,
        "out": 1,
    }


def _poisoned_mlp(path):
    """784-6-4-3 with one NaN and both infinities in h1's kernel, one NaN in out's bias."""
    import keras

    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(6, name="h1"), keras.layers.Dense(3, name="out")])
    kernel = model.get_layer("h1").kernel.numpy()
    kernel[0, 0], kernel[1, 1], kernel[2, 2] = np.nan, np.inf, -np.inf
    model.get_layer("h1").kernel.assign(kernel)
    bias = model.get_layer("out").bias.numpy()
    bias[1] = np.nan
    model.get_layer("out").bias.assign(bias)
    model.save(path)
    return path


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory):
    return open_model(_poisoned_mlp(tmp_path_factory.mktemp("nan") / "nan.keras"))


def test_the_notes_say_which_tensors_how_many_and_the_pruning_rule(poisoned):
    found = poisoned.loaded.non_finite_variables()
    assert [(f.name, f.nan, f.inf, f.size) for f in found] == [("h1/kernel", 1, 2, 48), ("out/bias", 1, 0, 3)]
    assert poisoned.loaded.notes == [
        "The model holds 4 weights that are NaN or infinite "
        "(h1/kernel: 1 NaN and 2 infinite of 48 entries; out/bias: 1 NaN of 3 entries).",
        PRUNING_RULE,
    ]
    assert poisoned.non_finite_notes == poisoned.loaded.notes
    # per prunable tensor, for the window's layer list
    assert [(f.name, f.nan, f.inf) for f in poisoned.non_finite_tensors] == [("h1", 1, 2)]
    assert poisoned.loaded.non_finite_weights() == {"h1": 3, "out": 1}


@pytest.mark.parametrize("criterion", ["magnitude", "lamp"])
def test_pruning_keeps_nan_last_and_infinities_just_before_it(poisoned, criterion):
    """core.plan: NaN sorts after every number; |+-inf| after every finite weight, ties by flat index.
    LAMP ranks them the same way (a NaN no longer makes every LAMP score of its layer NaN)."""
    session = Session()
    session.set_model(poisoned)
    matrix = poisoned.layers[0].as_matrix(poisoned.layers[0].original)

    def kept(k, method="weight"):
        result = session.configure(k=k, method=method, criterion=criterion, included=frozenset({"h1"}))
        return result.plans["h1"].kept(matrix, slice(None), slice(None))

    # 48 weights: 45 finite, then +inf (flat 7), -inf (flat 14), NaN (flat 0)
    assert kept(90)[0, 0] and kept(90)[1, 1] and kept(90)[2, 2]  # 43 pruned: all finite ones not yet
    at = {n: kept(100 * n / 48) for n in (45, 46, 47)}
    assert at[45].sum() == 3 and at[45][0, 0] and at[45][1, 1] and at[45][2, 2]
    assert at[46].sum() == 2 and not at[46][1, 1] and at[46][2, 2] and at[46][0, 0]
    assert at[47].sum() == 1 and at[47][0, 0]
    assert kept(100).sum() == 0
    # units: a unit holding a NaN ranks after every other
    units = kept(100 * 5 / 6, "unit")
    assert units[:, 0].all() and units.sum() == 8


def _inspect(capsys, *argv) -> tuple[int, str, str]:
    """``prune-viz inspect ARGV`` in this process (the command's code; no process needed to read its table)."""
    from prune_viz.cli import main

    code = main(["inspect", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_every_head_of_a_multi_output_model_is_an_output_layer_excluded_by_default(tmp_path, capsys):
    import keras

    keras.utils.set_random_seed(1)
    image = keras.Input((28, 28, 1))
    trunk = keras.layers.Dense(16, activation="relu", name="trunk")(keras.layers.Flatten()(image))
    digit = keras.layers.Dense(10, activation="softmax", name="digit")(trunk)
    parity = keras.layers.Softmax(name="parity")(keras.layers.Dense(2, name="parity_logits")(trunk))
    path = tmp_path / "two-heads.keras"
    keras.Model(image, [digit, parity]).save(path)

    opened = open_model(path)
    assert {layer.name: layer.is_output for layer in opened.layers} == {
        "trunk": False,
        "parity_logits": True,  # its head ends in a Softmax layer, which holds no weights
        "digit": True,
    }
    assert opened.default_included == {"trunk"}
    code, shown, err = _inspect(capsys, path)
    assert code == 0, err
    tensors = shown.split("prunable tensor ")[1].splitlines()  # the table of prunable tensors
    for head in ("digit", "parity_logits"):
        row = next(line for line in tensors if line.startswith(head + " "))
        assert row.endswith("; output layer, excluded by default")
    assert "output layer" not in next(line for line in tensors if line.startswith("trunk "))
    described = json.loads(_inspect(capsys, path, "--json")[1])
    assert {row["name"]: row["output_layer"] for row in described["layers"]} == {
        "trunk": False,
        "parity_logits": True,
        "digit": True,
    }
    assert described["non_finite"] == []
