"""``prune-viz evaluate MODEL``: the metric that fits a model (MNIST accuracy by default), optionally pruned."""

from __future__ import annotations

import json
import math
import time

import numpy as np

from prune_viz.cli.arguments import add_data_args, add_json_arg, add_open_args, add_pruning_args
from prune_viz.cli.models import layer_rows, open_session
from prune_viz.cli.terminal import progress_printer
from prune_viz.core.metric_words import metric_lines

NAME = "evaluate"


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        NAME, help="the metric that fits a model on the data (MNIST accuracy by default), optionally pruned"
    )
    p.add_argument("model")
    add_open_args(p)
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
    evaluator = session.evaluator()
    data = evaluator.data
    classifier = result.task in ("classification", "binary")
    out = {
        "model": str(session.model.loaded.path),
        **record.config.as_dict(),
        "included_layers": sorted(record.config.included),
        "scores": taylor.description if taylor is not None else None,
        "task": result.task,
        "heads": [head.as_dict() for head in evaluator.heads],
        "metrics": result.metrics,
        "score": _number(result.score),
        "score_name": result.score_name,
        "accuracy": result.accuracy if classifier else None,
        "loss": result.loss,
        "correct": result.correct,
        "total": result.total,
        "unpruned_accuracy": baseline.result.accuracy if baseline and classifier else None,
        "unpruned_score": _number(baseline.result.score) if baseline else None,
        "unpruned_metrics": baseline.result.metrics if baseline else None,
        "sparsity_included": round(record.sparsity, 6),
        "sparsity_prunable": round(session.result.prunable_sparsity, 6),
        "sparsity_all_weights": round(session.all_weights_sparsity(), 6),
        "sparsity_per_layer": {row["name"]: row["sparsity"] for row in rows},
        **(
            {"valid_nm": {row["name"]: row["valid_nm"] for row in rows if "valid_nm" in row}}
            if record.config.method == "nm"
            else {}
        ),
        "pattern_notes": session.result.pattern_notes(),  # N:M: valid tensors and padded input axes
        # one sentence per layer cut off, then what looks wrong about the data; empty when none
        "warnings": session.result.warnings() + list(result.warnings),
        "class_names": list(data.class_names) if data.class_names else None,
        "per_class_accuracy": [None if np.isnan(a) else round(float(a), 6) for a in result.per_class_accuracy],
        "confusion": result.confusion.tolist(),  # rows: true class, columns: predicted class
        "preprocessing": result.preprocessing,
        "preprocessing_requested": session.preprocessing,
        "preprocessing_evidence": result.scaling_evidence,
        "data": data.as_dict(),
        "data_source": record.data_source,
        "model_trained_on": session.model.loaded.metadata.get("trained_on"),
        "notes": session.model.loaded.notes,
        "seconds": {
            "load": round(load_seconds, 3),
            "evaluate": round(result.seconds, 4),
            "total": round(time.perf_counter() - start, 3),
        },
    }
    if result.agreement is not None:
        out["agreement"] = result.agreement
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
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
    for note in session.result.pattern_notes():
        print(f"Pattern:      {note}")
    for warning in session.result.warnings():
        print(f"Warning:      {warning}")
    print(f"Test data:    {data.description}")
    print(f"From:         {out['data_source']}")
    for note in data.notes:
        print(f"              {note}")
    print(f"Input:        {evaluator.describe_scaling()}")
    print(f"Task:         {result.task} ({result.score_name})")
    for line in metric_lines(result, None if record.config.prunes_nothing else baseline):
        print(line)
    for warning in result.warnings:
        print(f"Warning:      {warning}")
    print(f"\n(load {load_seconds:.2f} s, one evaluation pass {result.seconds:.3f} s)")
    return 0


def _number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 6)
