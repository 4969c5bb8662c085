"""``prune-viz inspect MODEL``: format, input shape, provenance and layers of a model, prunable ones marked;
for a model opened from its weights only, every stored layer and its weights."""

from __future__ import annotations

import json
import time

from prune_viz.cli.arguments import add_json_arg, add_open_args, add_pruning_args
from prune_viz.cli.models import layer_rows, open_session
from prune_viz.cli.terminal import progress_printer

NAME = "inspect"


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(NAME, help="format, input shape, provenance and layers of a model")
    p.add_argument("model")
    add_open_args(p)
    add_json_arg(p)
    pruning = p.add_argument_group("pruning (optional: each tensor's sparsity after it)")
    add_pruning_args(pruning)


def run(args) -> int:
    from prune_viz.core.layers import model_layers, weight_share
    from prune_viz.core.provenance import describe_derivation

    task = progress_printer()
    start = time.perf_counter()
    session = open_session(args, task)
    task.finish()
    loaded = session.model.loaded
    share = weight_share(loaded, session.model.layers)
    pruned = not session.config.prunes_nothing
    info = {
        "model": str(loaded.path),
        "format": loaded.format,
        "mode": "weights-only" if getattr(loaded, "stored_layers", None) else "model",
        "parameters": session.model.total_parameters,
        "prunable_parameters": session.result.prunable_size,
        "share_shown": round(share.fraction, 6),
        "left_out": [{"layer": layer, "why": why} for layer, why in share.left_out],
        "tensors": tensor_rows(session, with_sparsity=pruned),
        "input_shape": [d for d in (loaded.input_shape or ())],
        "total_parameters": session.model.total_parameters,
        "sparsity_prunable": round(session.result.prunable_sparsity, 6),
        "sparsity_all_weights": round(session.all_weights_sparsity(), 6),
        "layers": layer_rows(session),
        "model_layers": [
            {
                "name": layer.name,
                "kind": layer.kind,
                "params": layer.params,
                "output_shape": None if layer.output_shape is None else list(layer.output_shape),
                "prunable": layer.prunable,
            }
            for layer in model_layers(loaded)
        ],
        "weights_only": loaded.weights_only,
        "stored_layers": [
            {
                "path": layer.path,
                "class_name": layer.class_name,
                "rebuilt": layer.layer is not None,
                "weights": [{"name": v.name, "shape": list(v.shape)} for v in layer.variables],
            }
            for layer in loaded.stored_layers
        ],
        "derived_from": describe_derivation(loaded.metadata),
        "metadata": loaded.metadata,
        "notes": loaded.notes,
        "non_finite": [found.as_dict() for found in loaded.non_finite_variables()],  # NaN or infinite entries
        "seconds": round(time.perf_counter() - start, 3),
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"Model:        {info['model']}")
    print(f"Format:       {info['format']}")
    for note in loaded.notes:
        print(f"Warning:      {note}")
    print(f"Input shape:  {tuple(loaded.input_shape) if loaded.input_shape else 'unknown'}")
    print(f"Parameters:   {info['total_parameters']:,} in all, {info['prunable_parameters']:,} in prunable kernels")
    print(f"Shown:        {share.describe()}")
    for layer, why in share.left_out:
        print(f"Left out:     {layer}: {why}")
    print(
        f"Sparsity:     {info['sparsity_prunable'] * 100:.2f}% of prunable weights are zero, "
        f"{info['sparsity_all_weights'] * 100:.2f}% of all weights"
    )
    if loaded.metadata:
        trained_on = loaded.metadata.get("trained_on")
        if trained_on:
            print(f"Trained on:   {trained_on}")
        if "test_accuracy" in loaded.metadata:
            print(f"Recorded test accuracy: {loaded.metadata['test_accuracy']:.4f}")
    if info["derived_from"]:
        print(f"Derived from: {info['derived_from']}")
    if info["model_layers"]:
        print()
        header = f"{'all layers':<28} {'kind':<22} {'output shape':<16} {'params':>10}  prunable"
        print(header)
        print("-" * len(header))
        for row in info["model_layers"]:
            shape = "?" if row["output_shape"] is None else "x".join(str(d) for d in row["output_shape"])
            print(
                f"{row['name']:<28} {row['kind']:<22} {shape:<16} {row['params']:>10,}  "
                f"{'yes' if row['prunable'] else '-'}"
            )
    if info["stored_layers"]:
        print()
        header = f"{'stored layer':<36} {'class':<22} weights"
        print(header)
        print("-" * len(header))
        for row in info["stored_layers"]:
            weights = ", ".join(f"{w['name']} {'x'.join(map(str, w['shape']))}" for w in row["weights"]) or "-"
            print(f"{row['path']:<36} {row['class_name'] or '?':<22} {weights}")
    print()
    header = f"{'prunable tensor':<34} {'kind':<30} {'shape':<16} {'params':>10} {'sparsity':>9}  unit"
    print(header)
    print("-" * len(header))
    for row, tensor in zip(info["layers"], info["tensors"]):
        note = "; output layer, excluded by default" if row["output_layer"] else ""
        unit = tensor["unit_definition"] or "none: weight pruning only"
        print(
            f"{row['name']:<34} {row['kind']:<30} {'x'.join(map(str, row['shape'])):<16} "
            f"{row['params']:>10,} {row['sparsity'] * 100:>8.2f}%  {unit}{note}"
        )
    if not info["layers"]:
        print("(no prunable tensors: the model has no trainable weights of rank 2 or more)")
    print(f"\n({info['seconds']:.2f} s)")
    return 0


def tensor_rows(session, *, with_sparsity: bool) -> list[dict]:
    """One row per prunable tensor: its layer, name, kind, shape and what a unit of it is."""
    result = session.result
    rows = []
    for tensor in session.model.layers:
        row = {
            "layer": tensor.layer_path,
            "name": tensor.name,
            "kind": tensor.kind,
            "shape": list(tensor.shape),
            "units": tensor.units,
            "unit_definition": tensor.unit_definition,
        }
        if with_sparsity:
            row["sparsity"] = round(result.layer(tensor.name).sparsity, 6)
        rows.append(row)
    return rows
