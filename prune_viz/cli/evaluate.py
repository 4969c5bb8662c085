"""``prune-viz evaluate MODEL``: MNIST accuracy of a model, optionally pruned."""

from __future__ import annotations

import json
import time

from prune_viz.cli.arguments import add_data_args, add_json_arg, add_pruning_args
from prune_viz.cli.models import layer_rows, open_session
from prune_viz.cli.terminal import progress_printer

NAME = "evaluate"


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(NAME, help="MNIST accuracy of a model, optionally pruned")
    p.add_argument("model")
    add_pruning_args(p)
    add_data_args(p)
    add_json_arg(p)


def run(args) -> int:
    task = progress_printer()
    start = time.perf_counter()
    session = open_session(args, task.sub(0.0, 0.3))
    load_seconds = time.perf_counter() - start
    record, baseline = session.evaluate(task=task.sub(0.3, 1.0), with_baseline=True)
    task.finish()
    result = record.result
    taylor = session.model.pruner.taylor if record.config.criterion == "taylor" else None
    rows = layer_rows(session)
    out = {
        "model": str(session.model.loaded.path),
        **record.config.as_dict(),
        "included_layers": sorted(record.config.included),
        "scores": taylor.description if taylor is not None else None,
        "accuracy": result.accuracy,
        "loss": result.loss,
        "correct": result.correct,
        "total": result.total,
        "unpruned_accuracy": baseline.result.accuracy if baseline else None,
        "sparsity_included": round(record.sparsity, 6),
        "sparsity_prunable": round(session.result.prunable_sparsity, 6),
        "sparsity_all_weights": round(session.all_weights_sparsity(), 6),
        "sparsity_per_layer": {row["name"]: row["sparsity"] for row in rows},
        "warnings": session.result.warnings(),  # one sentence per layer cut off; empty when none
        "per_class_accuracy": [round(float(a), 6) for a in result.per_class_accuracy],
        "confusion": result.confusion.tolist(),  # rows: true digit, columns: predicted digit
        "preprocessing": result.preprocessing,
        "preprocessing_requested": session.preprocessing,
        "data": record.data_source,
        "model_trained_on": session.model.loaded.metadata.get("trained_on"),
        "notes": session.model.loaded.notes,
        "seconds": {
            "load": round(load_seconds, 3),
            "evaluate": round(result.seconds, 4),
            "total": round(time.perf_counter() - start, 3),
        },
    }
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    from prune_viz.core.inputs import PREPROCESSING_LABELS

    print(f"Model:        {out['model']}")
    for note in session.model.loaded.notes:
        print(f"Warning:      {note}")
    if out["model_trained_on"]:
        print(f"Trained on:   {out['model_trained_on']}")
    print(f"Pruning:      {record.config.describe()}, {len(record.config.included)} layer(s)")
    if taylor is not None:
        print(f"Scores:       {taylor.description}")
    print(
        f"Sparsity:     {out['sparsity_included'] * 100:.2f}% of the pruned layers, "
        f"{out['sparsity_all_weights'] * 100:.2f}% of all weights"
    )
    width = max((len(row["name"]) for row in rows), default=0)
    print("Per layer:")
    for row in rows:
        output = ": output layer, excluded by default" if row["output_layer"] else ""
        included = "" if row["included"] else f"  (not pruned{output})"
        print(
            f"  {row['name']:<{width}}  {row['sparsity'] * 100:6.2f}% zero, "
            f"{row['pruned_units']:,} / {row['units']:,} units pruned{included}"
        )
    for warning in out["warnings"]:
        print(f"Warning:      {warning}")
    print(f"Test data:    {out['data']} ({result.total:,} test images)")
    chosen = PREPROCESSING_LABELS[result.preprocessing]
    auto = " (chosen automatically)" if session.preprocessing == "auto" else ""
    print(f"Input:        {chosen}{auto}")
    print(f"Accuracy:     {result.accuracy * 100:.2f}%  ({result.correct:,}/{result.total:,})")
    if baseline is not None and record.config.k:
        delta = (result.accuracy - baseline.result.accuracy) * 100
        print(f"Unpruned:     {baseline.result.accuracy * 100:.2f}%  (change {delta:+.2f} points)")
    print(f"Loss:         {result.loss:.4f}")
    print("Per class:    " + "  ".join(f"{d}:{a * 100:.1f}" for d, a in enumerate(result.per_class_accuracy)))
    print(f"\n(load {load_seconds:.2f} s, one evaluation pass {result.seconds:.3f} s)")
    return 0
