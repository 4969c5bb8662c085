"""Published accuracy-vs-k curves of the seed experiment's MLP, by other people.

The FOR.ai pruning challenge's MNIST MLP (784-1000-1000-500-200-10, ReLU, no
biases, output layer not pruned) was pruned without retraining in several public
repositories; their numbers ship in ``data/reference`` with a citation per row.
They are other people's models trained on full MNIST, so they are offered only
beside a model of that architecture and always labelled as such.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from prune_viz.resources import reference_curves_csv

REFERENCE_CSV = reference_curves_csv()
SEED_MLP_WIDTHS = (784, 1000, 1000, 500, 200, 10)
LABEL = "other people's models, trained on full MNIST"


@dataclass(frozen=True)
class ReferenceCurve:
    source: str  # GitHub repository, "owner/name"
    file: str  # the file in that repository the numbers come from
    setup: str  # how that model was trained, in its author's terms
    method: str  # "weight" or "unit"
    ks: tuple[float, ...]
    accuracy: tuple[float, ...]  # fractions, 0..1

    @property
    def citation(self) -> str:
        return f"{self.source}, {self.file}"


def reference_curves(path: Path = REFERENCE_CSV) -> list[ReferenceCurve]:
    """Every published curve: one per repository and method, in file order."""
    rows: dict[tuple[str, str, str], list[tuple[float, float, float]]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(line for line in f if not line.startswith("#")):
            key = (row["source"], row["file"], row["setup"])
            rows.setdefault(key, []).append(
                (float(row["k"]), float(row["weight_accuracy"]), float(row["unit_accuracy"]))
            )
    curves = []
    for (source, file, setup), points in rows.items():
        points.sort()
        ks = tuple(p[0] for p in points)
        for method, column in (("weight", 1), ("unit", 2)):
            curves.append(ReferenceCurve(source, file, setup, method, ks, tuple(p[column] / 100 for p in points)))
    return curves


def is_seed_mlp(opened) -> bool:
    """True for the seed experiment's architecture: Dense kernels 784-1000-1000-500-200-10 and no
    other weights (no biases). ``opened``: a ``session.OpenedModel``."""
    layers = opened.layers
    if [layer.kind for layer in layers] != ["Dense"] * (len(SEED_MLP_WIDTHS) - 1):
        return False
    widths = (layers[0].fan_in, *(layer.units for layer in layers))
    return widths == SEED_MLP_WIDTHS and opened.total_parameters == sum(layer.size for layer in layers)
