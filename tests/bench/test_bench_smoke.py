"""Smoke test of ``prune-viz bench --quick --json``: it runs end to end on real MNIST and reports
every figure with a target, a ratio and a verdict. No timing is asserted here."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from prune_viz import cli

pytestmark = pytest.mark.slow  # one quick bench run: ~45 s of CPU, three child processes

FIGURE_KEYS = {
    "key",
    "name",
    "value",
    "unit",
    "target",
    "ratio",
    "passed",
    "note",
    "floor",
    "floor_name",
    "times",
    "faster",
}


@pytest.fixture(scope="module")
def quick_report(mnist_dir, tmp_path_factory):
    """One quick bench run through the CLI; its --output file must be valid JSON."""
    output = tmp_path_factory.mktemp("bench") / "bench.json"
    assert cli.main(["bench", "--quick", "--json", "--data", str(mnist_dir), "--output", str(output)]) == 0
    return json.loads(output.read_text())


def test_report_has_machine_options_and_every_section(quick_report):
    assert set(quick_report) == {"machine", "options", "figures", "details", "seconds"}
    machine = quick_report["machine"]
    assert machine["nproc"] >= 1 and machine["memory_gb"] > 0 and machine["cpu"]
    assert len(machine["load_average_at_start"]) == 3 and len(machine["load_average_at_end"]) == 3
    import keras
    import PySide6
    import tensorflow

    assert machine["versions"]["keras"] == keras.__version__  # what RESULTS.md's machine line quotes
    assert machine["versions"]["tensorflow"] == tensorflow.__version__
    assert machine["versions"]["PySide6"] == PySide6.__version__
    assert machine["qt_platform"] == os.environ.get("QT_QPA_PLATFORM", "Qt's default")
    keys = {figure["key"] for figure in quick_report["figures"]}
    for method in ("weight", "unit"):
        for scope in ("layer", "global"):
            assert f"mlp-64-32.slider.{method}_{scope}.ms" in keys
            assert f"scale.slider.{method}_{scope}.ms" in keys
            assert f"vgg16.slider.{method}_{scope}.ms" in keys
    assert {
        "mlp-64-32.eval.vs_floor",
        "mlp-64-32.eval.ms",
        "mlp-64-32.eval.predict32_ms",
        "mlp-64-32.sweep.ratio",
        "mlp-64-32.flips.ratio",
    } <= keys
    for k in ("50", "90", "99"):
        assert f"mlp-64-32.compaction.k{k}.batch_speedup" in keys
    for big in ("scale", "vgg16"):  # the same figures for both big models
        assert {
            f"{big}.{figure}"
            for figure in (
                "load_ms",
                "load_peak_memory",
                "open_s",
                "open_usable_s",
                "copy_floor_ms",
                "peak_memory",
                "peak_memory_total",
                "peak_memory_reading",
                "peak_memory_pruning",
            )
        } <= keys
    for method in ("weight", "unit"):
        assert {
            f"gui.mlp-64-32.slider_repaint.{method}",
            f"gui.mlp-64-32.slider_window.{method}",
            f"gui.mlp-64-32.slider_under_load.{method}",
        } <= keys
    assert {"gui.startup.first_paint", "gui.startup.window_painted", "gui.startup.model_ready"} <= keys
    for big in ("scale", "vgg16"):  # both big models are opened through the window too
        assert {
            f"gui.{big}.open_stall",
            f"gui.{big}.open_s",
            f"gui.{big}.slider_repaint.weight",
            f"gui.{big}.slider_repaint.unit",
        } <= keys


def test_kinds_section_measures_an_lstm_and_an_attention_model(quick_report):
    """The layer kinds beyond Dense and Conv: each model's tensors (with mapped units), its four step kinds
    against the seed's step, restored exactly, and in the window the four step kinds against a bare
    pyqtgraph window, the selected tensor (the embedding) pruned by k."""
    keys = {figure["key"] for figure in quick_report["figures"]}
    kinds = quick_report["details"]["kinds"]
    tensor_kinds = {label: [t["kind"] for t in kinds[label]["tensors"]] for label in kinds}
    assert tensor_kinds == {
        "lstm-text": ["Embedding", "LSTM kernel", "LSTM recurrent kernel", "Dense"],
        "transformer": [
            "Embedding",
            *(f"MultiHeadAttention {part}" for part in ("query", "key", "value", "output")),
            "Dense",
            "Dense",
            "Dense",
        ],
    }
    for label, found in kinds.items():
        mapped = {t["kind"].split()[0] for t in found["tensors"] if t["mapped_units"]}
        assert mapped == ({"LSTM"} if label == "lstm-text" else {"MultiHeadAttention"})
        assert found["restored_exactly"] is True
        assert found["prunable_weights"] == sum(int(np.prod(t["shape"])) for t in found["tensors"])
        for method in ("weight", "unit"):
            for scope in ("layer", "global"):
                assert f"{label}.slider.{method}_{scope}.ms" in keys
                assert f"gui.{label}.slider_repaint.{method}" + ("" if scope == "layer" else "_global") in keys
        weight = quick_report["details"]["gui"][label]["weight"]
        for k, shown in zip(weight["ks"], weight["selected_heatmap_pruned_fraction"], strict=True):
            assert shown == pytest.approx(k / 100, abs=0.02)
    targets = {f["key"] for f in quick_report["figures"] if f["passed"] is not None and f["key"].startswith("gui.")}
    assert {key for key in targets if "lstm-text" in key or "transformer" in key} == {
        f"gui.{label}.slider_repaint.{mode}"
        for label in kinds
        for mode in ("weight", "weight_global", "unit", "unit_global")
    }


def test_every_figure_is_complete_and_consistent(quick_report):
    for figure in quick_report["figures"]:
        assert set(figure) == FIGURE_KEYS, figure["key"]
        assert isinstance(figure["value"], int | float) and math.isfinite(figure["value"]), figure
        assert figure["value"] >= 0, figure
        if figure["passed"] is None:  # information only
            assert figure["target"] == "" and figure["ratio"] is None
        else:
            # every target is a multiple of a floor measured in the same run
            assert figure["target"].startswith(("<=", ">=")) and figure["target"].endswith(("floor", "than floor"))
            assert figure["floor"] > 0 and figure["floor_name"] and figure["ratio"] > 0
            assert figure["faster"] == figure["target"].startswith(">=")
            expected = figure["floor"] / figure["value"] if figure["faster"] else figure["value"] / figure["floor"]
            assert figure["times"] == pytest.approx(expected, rel=1e-3, abs=1e-3), figure
            # the verdict agrees with the ratio to the target
            assert figure["passed"] == (figure["ratio"] <= 1.0 + 1e-9), figure


def test_evaluation_and_sweep_measure_real_mnist(quick_report):
    details = quick_report["details"]["mlp-64-32"]
    evaluation = details["evaluation"]
    # random weights: accuracy near chance, but the evaluator and the NumPy floor agree exactly
    assert evaluation["accuracy_evaluator"] == pytest.approx(evaluation["accuracy_numpy"], abs=2e-4)
    points = details["sweep"]["points"]
    assert [(p["method"], p["k"]) for p in points] == [
        (m, float(k)) for m in ("weight", "unit") for k in range(5, 100, 10)
    ]
    # sparsity of the included layers follows k for weight pruning
    weight = [p["sparsity"] for p in points if p["method"] == "weight"]
    assert weight == sorted(weight) and weight[0] == pytest.approx(0.05, abs=0.01)
    assert weight[-1] == pytest.approx(0.95, abs=0.01)


def test_compaction_keeps_predictions(quick_report):
    compaction = quick_report["details"]["mlp-64-32"]["compaction"]
    for k in ("50", "90", "99"):
        assert compaction[f"k{k}"]["same_predictions"] is True
        assert compaction[f"k{k}"]["max_abs_output_diff"] < 1e-4


def test_scale_child_reports_memory(quick_report):
    scale = quick_report["details"]["scale"]
    assert scale["parameters"] == 2048 * 1024 + 1024 * 1024 + 1024 * 10
    assert scale["peak_rss"] >= scale["rss_after_open"] >= scale["rss_after_tf_import"] > 0
    assert scale["prunable_layer_kinds"] == {"Dense": 3} and scale["restored_exactly"] is True


def test_vgg16_section_opens_prunes_and_restores_a_vgg_shaped_cnn(quick_report):
    vgg = quick_report["details"]["vgg16"]
    assert vgg["input_shape"] == [None, 224, 224, 3]
    assert vgg["prunable_layer_kinds"] == {"Conv2D": 13, "Dense": 3}  # VGG-16's layout, narrow
    assert set(vgg["step_ms"]) == {f"{m}_{s}" for m in ("weight", "unit") for s in ("layer", "global")}
    assert vgg["restored_exactly"] is True
    assert vgg["peak_rss"] >= vgg["rss_after_open"] >= vgg["rss_after_tf_import"] > 0


def test_gui_slider_reaches_the_heatmap(quick_report):
    slider = quick_report["details"]["gui"]["slider"]["weight"]
    # the selected heatmap shows k% of its weights as pruned (NaN) after each slider move
    for k, shown in zip(slider["ks"], slider["selected_heatmap_pruned_fraction"], strict=True):
        assert shown == pytest.approx(k / 100, abs=0.02)
    startup = quick_report["details"]["gui"]["startup"]
    assert 0 < startup["first_paint_s"][0] < startup["window_painted_s"][0] < startup["model_ready_s"][0]


def test_data_section_reads_an_npz_and_a_png_folder(quick_report):
    """Issue 27, Must 6: the CIFAR-10-size CNN on the same images from an .npz and from PNG files (lossless:
    the same numbers), each evaluation against the in-memory floor, the first pass reported on its own.
    Its quick run (100 images) costs about 1 s of CPU."""
    keys = {figure["key"]: figure for figure in quick_report["figures"]}
    assert keys["data.npz.vs_floor"]["target"] == "<= 1.2x floor"
    assert keys["data.folder.vs_floor"]["target"] == "<= 1.5x floor"
    assert {"data.folder.first_pass_s", "data.npz.first_ms", "data.folder.first_ms"} <= set(keys)
    data = quick_report["details"]["data"]
    assert data["decoded_images_equal_the_originals"] is True
    assert data["accuracy_npz"] == data["accuracy_folder"]
    assert data["png_bytes"] > 0 and data["npz_bytes"] > 0


def test_unknown_section_is_a_usage_error(capsys):
    assert cli.main(["bench", "--only", "slider,nonsense"]) == 2
    assert "unknown bench section nonsense" in capsys.readouterr().err


def test_gui_scale_opens_the_big_model_through_the_window(quick_report):
    scale = quick_report["details"]["gui"]["scale"]
    assert 0 < scale["open_seconds"] <= scale["shown_seconds"]
    for method in ("weight", "unit"):
        assert scale[method]["ks"] == [10, 50, 90]
        rows, cols = scale[method]["displayed_shape"]  # 2048x1024 strided down to the display limit or less
        assert 0 < rows <= 2048 and 0 < cols <= 1024
