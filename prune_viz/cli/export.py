"""``prune-viz export``: write a pruned model (zeros in place, or --compact) and report its size and speed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from prune_viz.cli.arguments import (
    add_data_args,
    add_json_arg,
    add_model_output_args,
    add_open_args,
    add_pruning_args,
    checked_output,
    positive_int,
)
from prune_viz.cli.errors import UsageError
from prune_viz.cli.models import load_data, open_model, pruning_config
from prune_viz.cli.terminal import megabytes, progress_printer

NAME = "export"


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        NAME,
        help="write a pruned model (zeros in place, or --compact) and its size/speed; a model opened from its "
        "weights only: its pruned weights in a copy of its file (--out with its suffix)",
    )
    p.add_argument("model")
    add_open_args(p)
    add_pruning_args(p)
    add_model_output_args(
        p, "the .keras file to write; for a model opened from its weights only, a file with the model's suffix"
    )
    p.add_argument(
        "--compact",
        action="store_true",
        help="remove pruned units physically (units of Dense, convolution, recurrent and Embedding layers, "
        "attention heads) instead of keeping zeros",
    )
    p.add_argument("--repeats", type=positive_int, default=5, help="timed passes over the test set (median)")
    p.add_argument("--no-report", action="store_true", help="only write the file; skip sizes and timing")
    add_json_arg(p)
    add_data_args(p)


def run(args) -> int:
    from prune_viz.core.data import DataError
    from prune_viz.core.export import export_pruned, model_problem, size_and_speed

    source_suffix = Path(args.model).suffix.lower()
    out_suffix = Path(args.out).suffix.lower()
    # a model opened from its weights only is exported as a copy of its file, with its suffix
    out = checked_output(
        args.out,
        out_suffix if out_suffix in {".keras", source_suffix} else ".keras",
        force=args.force,
        inputs=[args.model],
    )
    task = progress_printer()
    opened = open_model(args.model, task.sub(0.0, 0.15), args)
    weights_only = opened.loaded.weights_only
    if weights_only and out_suffix != source_suffix and not args.compact:
        raise UsageError(
            f"{out.name} should end in {source_suffix or '(no suffix)'}: {opened.loaded.name} opened from its weights "
            "only, so its pruned weights are written into a copy of its file."
        )
    if not weights_only and out_suffix != ".keras":
        raise UsageError(f"{out.name} should end in .keras.")
    config = pruning_config(args, opened, task.sub(0.15, 0.2))
    exported = export_pruned(opened, config, out, force=args.force, compact=args.compact, task=task.sub(0.2, 0.3))
    report, no_report = None, None
    if weights_only:
        no_report = model_problem(opened)
    elif not args.no_report:
        try:
            data = load_data(args.data, opened=opened)
        except DataError as exc:
            data = None
            print(f"prune-viz: no timing: {exc}", file=sys.stderr)
        report = size_and_speed(
            opened, config, data, preprocessing=args.preprocess, repeats=args.repeats, task=task.sub(0.3, 1.0)
        )
    task.finish()
    if args.json:
        print(
            json.dumps(
                {
                    "model": str(opened.loaded.path),
                    "out": str(exported.path),
                    "bytes": exported.bytes,
                    **config.as_dict(),
                    "included_layers": sorted(config.included),
                    "compacted": exported.compacted,
                    "weights_only": weights_only,
                    "sparsity_included": round(exported.sparsity_included, 6),
                    "report": report_dict(report) if report else None,
                    "no_report": no_report,
                },
                indent=2,
            )
        )
        return 0
    print(f"Model:        {opened.loaded.path}")
    print(
        f"Pruning:      {config.describe()}, {len(config.included)} layer(s); "
        f"{exported.sparsity_included * 100:.2f}% of their weights are zero"
    )
    if weights_only:
        print(
            f"Wrote:        {exported.path} ({megabytes(exported.bytes)}), a copy of {opened.loaded.name} with its "
            f"pruned weights; it loads wherever {opened.loaded.name} loads"
        )
        print(f"No report:    {no_report}")
        return 0
    kind = "compacted (dead units removed)" if exported.compacted else "dense, pruned weights stored as zeros"
    print(f"Wrote:        {exported.path} ({megabytes(exported.bytes)}, {kind}); loads with keras.saving.load_model")
    if report is not None:
        print()
        print_report(report)
    return 0


def report_dict(report) -> dict:
    """A JSON-ready view of a SizeSpeedReport."""
    coupling = report.coupling
    compaction = report.compaction
    return {
        "formats": [
            {
                "name": r.name,
                "bytes": r.bytes,
                "latency_seconds": r.latency_seconds,
                "accuracy": r.accuracy,
                "note": r.note,
            }
            for r in report.rows
        ],
        "parameters": report.parameters,
        "nonzero_parameters": report.nonzero_parameters,
        "dead_unit_coupling": None
        if coupling is None
        else {
            "dead_inputs": coupling.dead_inputs,
            "useless_weights": coupling.useless_weights,
            "layers": [vars(row) for row in coupling.layers],
        },
        "compaction": None
        if compaction is None
        else {
            "parameters_before": compaction.parameters_before,
            "parameters_after": compaction.parameters_after,
            "layers": [
                {
                    "name": c.name,
                    "units_before": c.units_before,
                    "units_after": c.units_after,
                    "kernel_shape_before": list(c.kernel_shape_before),
                    "kernel_shape_after": list(c.kernel_shape_after),
                }
                for c in compaction.layers
            ],
        },
        "compaction_error": report.compaction_error,
        "max_output_difference": report.max_output_difference,
        "test_images": report.test_images,
        "repeats": report.repeats,
        "latency_note": report.latency_note,
    }


def print_report(report) -> None:
    dense = report.rows[0].bytes
    if report.test_images:
        print(f"Size and speed (latency: median of {report.repeats} passes over {report.test_images:,} test images)")
    else:
        print(f"Size ({report.latency_note})")
    print(f"{'format':<46} {'size':>12} {'vs dense':>9} {'latency':>10} {'accuracy':>9}")
    for row in report.rows:
        latency = f"{row.latency_seconds * 1000:.1f} ms" if row.latency_seconds is not None else "-"
        accuracy = f"{row.accuracy * 100:.2f}%" if row.accuracy is not None else "-"
        print(f"{row.name:<46} {megabytes(row.bytes):>12} {row.bytes / dense * 100:>8.1f}% {latency:>10} {accuracy:>9}")
    print(f"Parameters:   {report.parameters:,} in all, {report.nonzero_parameters:,} non-zero")
    coupling = report.coupling_sentence()
    if coupling is not None:
        print(f"Dead units:   {coupling}")
    print(f"Compaction:   {report.compaction_sentence()}")
