"""The Session: the one evented state the GUI binds to."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pytest

from prune_viz.core.pruning import PruningConfig, count_to_prune
from prune_viz.core.session import Session, open_model

pytestmark = pytest.mark.keras_floor


@pytest.fixture()
def session(trained_mlp_path, mnist_dir):
    s = Session(data_path=str(mnist_dir), preprocessing="scale")
    s.set_model(open_model(trained_mlp_path))
    return s


def test_opening_excludes_the_output_layer_and_starts_unpruned(session):
    assert [layer.name for layer in session.model.layers] == ["hidden1", "hidden2", "output"]
    assert session.config.included == {"hidden1", "hidden2"}
    assert session.config.k == 0 and session.result.prunable_sparsity == 0
    assert session.model.total_parameters == 784 * 64 + 64 + 64 * 32 + 32 + 32 * 10 + 10


def test_configure_emits_and_recomputes(session):
    seen = {"config": [], "pruning": []}
    session.config_changed.connect(seen["config"].append)
    session.pruning_changed.connect(seen["pruning"].append)
    session.configure(k=40)
    session.configure(k=40)  # no change, no emit
    session.configure(method="unit")
    assert [c.k for c in seen["config"]] == [40, 40]
    assert [r.config.method for r in seen["pruning"]] == ["weight", "unit"]
    result = seen["pruning"][-1]
    assert result.layer("hidden1").pruned_units == count_to_prune(64, 40)
    assert result.layer("output").pruned_units == 0
    prunable = 784 * 64 + 64 * 32 + 32 * 10
    assert result.prunable_sparsity == pytest.approx(
        (count_to_prune(64, 40) * 784 + count_to_prune(32, 40) * 64) / prunable
    )
    # all weights also counts the biases (none of which are zero after training)
    assert session.all_weights_sparsity() == pytest.approx(result.prunable_zeros / session.model.total_parameters)


def test_evaluate_restores_originals_and_records_baseline(session, mnist):
    before = [w.copy() for w in session.model.loaded.keras_model.get_weights()]
    record, baseline = session.evaluate(PruningConfig("weight", 90, "layer", session.config.included))
    for got, want in zip(session.model.loaded.keras_model.get_weights(), before):
        assert got.tobytes() == want.tobytes()
    assert baseline.config.k == 0 and baseline.result.accuracy > 0.85
    assert record.result.accuracy < baseline.result.accuracy
    assert record.sparsity == pytest.approx(
        (count_to_prune(784 * 64, 90) + count_to_prune(64 * 32, 90)) / (784 * 64 + 64 * 32)
    )
    assert record.train_description == "MNIST 5,000-image training subset"
    # the pruned accuracy is exactly what the model gives with those kernels written in
    pruner = session.model.pruner
    pruner.apply(pruner.prune(record.config))
    try:
        out = session.model.loaded.keras_model(mnist.x_test.reshape(-1, 784).astype(np.float32) / 255).numpy()
    finally:
        pruner.restore()
    assert record.result.correct == int((out.argmax(axis=1) == mnist.y_test).sum())


def test_stale_records_are_recognised(session):
    session.configure(k=30)
    record, _ = session.evaluate()
    received = []
    session.evaluation_changed.connect(received.append)
    session.record_evaluation(record)
    assert session.is_current(record) and received == [record]
    assert record.key == session.result_key()
    session.configure(k=31)
    assert not session.is_current(session.last_evaluation)


def test_one_staleness_rule_names_what_changed(session, trained_mlp_path):
    session.configure(k=30)
    record, baseline = session.evaluate()
    assert session.why_stale(record) is None and session.why_stale(None) is None
    assert session.why_stale(baseline) == "The pruning settings changed since this evaluation: k changed (0% -> 30%)."

    session.configure(k=60, method="unit")
    assert session.why_stale(record) == (
        "The pruning settings changed since this evaluation: k changed (30% -> 60%), "
        "the method changed (weight -> unit)."
    )
    # a result that does not depend on k (a sweep) is still current
    assert session.why_stale(record.key, "sweep", fields=("included", "scope")) is None
    session.configure(k=30, method="weight")
    assert session.why_stale(record) is None  # back at the settings it was computed for

    session.set_data(preprocessing="raw")
    assert session.why_stale(record) == "The test data or its input scaling changed since this evaluation."
    session.configure(k=40)
    assert session.why_stale(record, "measurement") == (
        "The pruning settings and the test data or its input scaling changed since this measurement: "
        "k changed (30% -> 40%)."
    )
    again, _ = session.evaluate()
    assert session.is_current(again) and not session.is_current(record)
    assert again.result.preprocessing == "raw"

    session.set_data(preprocessing="scale")
    assert session.why_stale(again) == "The test data or its input scaling changed since this evaluation."
    session.set_data(data_path=session.data_path + "/")
    assert "test data" in session.why_stale(record)

    session.set_model(open_model(trained_mlp_path))  # the same file opened again is another model
    assert session.why_stale(again) == "Another model was opened since this evaluation."


def test_a_record_carries_the_data_settings_its_evaluator_was_built_for(session):
    """The GUI thread may change the data while a worker evaluates: the record says what it used."""
    seen = []

    def change_data_midway(fraction, message):
        if not seen:
            seen.append(message)
            session.set_data(preprocessing="raw")

    from prune_viz.core.tasks import TaskState

    session.configure(k=20)
    record, _ = session.evaluate(task=TaskState(on_progress=change_data_midway))
    assert seen and record.key.preprocessing == "scale" and record.result.preprocessing == "scale"
    assert session.why_stale(record) == "The test data or its input scaling changed since this evaluation."


def test_the_opened_file_is_never_written(trained_mlp_path, mnist_dir):
    digest = hashlib.sha256(trained_mlp_path.read_bytes()).hexdigest()
    mtime = trained_mlp_path.stat().st_mtime_ns
    s = Session(data_path=str(mnist_dir))
    s.set_model(open_model(trained_mlp_path))
    for k in (10, 90, 50):
        s.configure(k=k, method="unit")
        s.evaluate()
    assert hashlib.sha256(trained_mlp_path.read_bytes()).hexdigest() == digest
    assert trained_mlp_path.stat().st_mtime_ns == mtime


def test_changing_data_settings_rebuilds_the_evaluator(session):
    first = session.evaluator()
    session.set_data(preprocessing="raw")
    second = session.evaluator()
    assert second is not first and second.preprocessing == "raw"


def test_evaluation_without_any_data_source_uses_the_bundled_test_set(trained_mlp_path, session, tmp_path, monkeypatch):
    from prune_viz.core import data as data_module

    monkeypatch.setenv("HOME", str(tmp_path))  # an empty home: no Keras cache
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.delenv(data_module.ENV_VAR, raising=False)
    offline = Session(preprocessing="scale")
    offline.set_model(open_model(trained_mlp_path))
    config = PruningConfig("weight", 50, "layer", offline.config.included)
    record, _ = offline.evaluate(config)
    assert record.data_source == data_module.BUNDLED_SOURCE
    assert record.result.total == 10_000
    # the same images as the shared copy of the test set, so the same accuracy
    assert record.result.correct == session.evaluate(config)[0].result.correct


def test_a_changed_pattern_is_a_change_of_the_settings():
    """N:M's N and M, and the block's size, are settings a result depends on (when their method is used)."""
    from prune_viz.core.session import describe_change

    nm = PruningConfig("nm")
    assert describe_change(nm, replace(nm, nm=(1, 8))) == "the N:M pattern changed (2:4 -> 1:8)"
    block = PruningConfig("block", 50)
    assert describe_change(block, replace(block, block=(1, 8))) == "the block changed (4x4 -> 1x8)"
    assert describe_change(PruningConfig(), PruningConfig(nm=(1, 8), block=(2, 2))) == ""  # weight uses neither
