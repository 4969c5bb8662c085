"""The layer kinds beyond Dense and Conv (issue 26): an Embedding+LSTM text model and a text model around
one transformer block (``models.KIND_MODELS``), each about fc-1000's size.

Measured as fc-1000 is, against floors of the same run: the slider step (``Session.configure`` and
``Pruner.apply``; weight and unit pruning, layerwise and global) against the seed's step, interleaved;
and in the window, slider to repainted heatmaps against a bare pyqtgraph window painting the same
images, for the same four step kinds. Their input is token ids, so no MNIST evaluation, sweep or flip
scan, and no step under a running sweep.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from prune_viz.bench.gui_bench import bench_slider_repaint
from prune_viz.bench.models import KIND_MODELS
from prune_viz.bench.report import BenchReport, Figure
from prune_viz.bench.slider_bench import bench_slider
from prune_viz.core.tasks import TaskState

SECTION = "kinds"


def describe_tensors(opened) -> list[dict]:
    """Each prunable tensor: name, kind, shape, matrix view, units and whether they are mapped slices."""
    return [
        {
            "name": layer.name,
            "kind": layer.kind,
            "shape": list(layer.shape),
            "matrix": [layer.rows, layer.columns],
            "units": layer.units,
            "group": layer.group,
            "mapped_units": layer.mapped,
        }
        for layer in opened.layers
    ]


def bench_kinds(workdir: Path, quick: bool, task: TaskState) -> tuple[list[Figure], dict]:
    """Slider steps of each KIND_MODELS model, opened through the real loader from a .keras file,
    against the seed's step: weight steps with fc-1000's target (>= SEED_SPEEDUP_TARGET times
    faster), unit steps for information, as fc-1000's."""
    from prune_viz.core.session import open_model

    figures: list[Figure] = []
    details: dict = {}
    for index, (label, save_model) in enumerate(KIND_MODELS.items()):
        sub = task.sub(index / len(KIND_MODELS), (index + 1) / len(KIND_MODELS))
        sub.progress(0.0, f"{label}: building the model")
        path = save_model(workdir / f"{label}.keras", quick)
        opened = open_model(path)
        details[label] = {
            "parameters": opened.total_parameters,
            "prunable_weights": sum(layer.size for layer in opened.layers),
            "tensors": describe_tensors(opened),
        }
        found, slider = bench_slider(opened, label, quick, True, sub)
        figures += found
        details[label]["slider"] = slider
        opened.pruner.restore()
        details[label]["restored_exactly"] = all(
            (layer.variable.numpy() == layer.original).all() for layer in opened.layers
        )
        path.unlink()
    return figures, details


def run_kinds_gui_bench(report: BenchReport, quick: bool = False) -> BenchReport:
    """Append each KIND_MODELS model's window figures to ``report``: slider to repainted heatmaps,
    weight and unit, layerwise and global, each step followed by the bare pyqtgraph window's; the steps
    start after the slider's warm-up, as the big models' do (the embedding tables, 2.56M weights, are
    not sorted whole: a step before the warm-up reads one of their groups on a thread)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="prune-viz-gui-bench-") as tmp:
        folder = Path(tmp)
        for label, save_model in KIND_MODELS.items():
            path = save_model(folder / f"{label}.keras", quick)
            figures, details = bench_slider_repaint(
                path, folder, label, quick, scopes=("layer", "global"), under_load=False, warm_up=True
            )
            report.figures += figures
            report.details.setdefault("gui", {})[label] = details
            path.unlink()
    return report
