"""``prune-viz budget``: per-layer ks from a sensitivity scan that reach a target sparsity with the least
predicted loss, measured against one k for every layer (core.budget)."""

from __future__ import annotations

import argparse
import json
import sys

from prune_viz.cli.arguments import (
    add_data_args,
    add_force_arg,
    add_include_output_arg,
    add_json_arg,
    add_open_args,
    add_unit_mode_args,
    checked_output,
    k_value,
)
from prune_viz.cli.models import open_session
from prune_viz.cli.terminal import progress_printer
from prune_viz.core.pruning import CRITERIA, METHODS
from prune_viz.core.tasks import Cancelled

NAME = "budget"


def target_value(text: str) -> float:
    """An overall sparsity from 0 to 1 (0.9), or a percentage above 1 (90%, 90)."""
    try:
        value = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a sparsity such as 0.9 or 90%, not {text!r}") from None
    if text.endswith("%") or value > 1:
        value /= 100.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a target sparsity is from 0 to 1 (or 0% to 100%), not {text}")
    return value


def add_parser(subparsers) -> None:
    from prune_viz.core.budget import BUDGET_SCAN_KS

    p = subparsers.add_parser(
        NAME,
        help="per-layer ks reaching a target sparsity with the least predicted loss (from a sensitivity scan), "
        "against one k for every layer",
    )
    p.add_argument("model", metavar="MODEL")
    add_open_args(p)
    p.add_argument(
        "--target",
        nargs="+",
        type=target_value,
        required=True,
        metavar="SPARSITY",
        help="overall sparsity of the included layers, e.g. 0.9 (above 1: a percentage, 90); several: "
        "a table, CSV and plot of uniform against allocated",
    )
    p.add_argument("--method", choices=METHODS, default="weight", help="weight or unit pruning (default: weight)")
    p.add_argument("--criterion", choices=CRITERIA, default="magnitude", help="what ranks the weights and units")
    add_unit_mode_args(p)
    p.add_argument(
        "--scan-ks",
        nargs="+",
        type=k_value,
        default=list(BUDGET_SCAN_KS),
        metavar="K",
        help=f"the ks of the sensitivity scan (default: {' '.join(f'{k:g}' for k in BUDGET_SCAN_KS)})",
    )
    add_include_output_arg(p)
    p.add_argument("--csv", metavar="OUT.csv", help="one row per target: uniform and allocated")
    p.add_argument("--plot", metavar="OUT.png", help="score against target sparsity, uniform and allocated")
    add_force_arg(p, "overwrite --csv/--plot if they exist")
    add_json_arg(p, "print one JSON object (with several targets: {'targets': [...]})")
    add_data_args(p)


def run(args) -> int:
    from prune_viz.core.budget import BUDGET_CSV_FIELDS, compare_at_targets
    from prune_viz.core.files import write_csv

    csv_path = checked_output(args.csv, ".csv", force=args.force, inputs=[args.model])
    plot_path = checked_output(args.plot, ".png", force=args.force, inputs=[args.model])
    task = progress_printer()
    rows = []
    interrupted = False
    try:
        session = open_session(args, task.sub(0.0, 0.05))
        if 0 not in args.scan_ks:
            args.scan_ks = [0.0, *args.scan_ks]  # the unpruned score the losses are counted from
        compare_at_targets(session, args.target, task.sub(0.05, 1.0), rows.append, scan_ks=sorted(set(args.scan_ks)))
    except (KeyboardInterrupt, Cancelled):
        interrupted = True
    task.finish()
    if csv_path is not None and rows:
        write_csv(csv_path, [row.as_row() for row in rows], BUDGET_CSV_FIELDS, force=args.force, protect=[args.model])
    if plot_path is not None and rows:
        from prune_viz.gui.views.budget_chart import write_budget_plot

        write_budget_plot(plot_path, rows, force=args.force, protect=[args.model])
    if interrupted:
        print(f"prune-viz: interrupted after {len(rows)} of {len(args.target)} targets", file=sys.stderr)
    if args.json:
        found = [row.as_dict() for row in rows]
        print(json.dumps(found[0] if len(args.target) == 1 and found else {"targets": found}, indent=2))
    else:
        print_table(rows)
        outputs = [str(p) for p in (csv_path, plot_path) if p is not None]
        if outputs and rows:
            print(f"\nWrote {', '.join(outputs)}")
    return 130 if interrupted else 0


def print_table(rows) -> None:
    if not rows:
        return
    scale = rows[0].scale
    unit = " (%)" if scale.percent else ""
    print(f"{rows[0].model}: {rows[0].method} pruning, {rows[0].criterion} scores, {scale.name}{unit}")
    print(f"ks chosen on {rows[0].chosen_on} (predicted: the scan's curves there); measured on {rows[0].reported_on}")
    print(
        f"{'target':>7} {'uniform':>9} {'allocated':>10} {'predicted':>10} {'sparsity':>9}  {'chosen':<9} ks per layer"
    )
    for row in rows:
        ks = ", ".join(f"{n} {k:g}" for n, k in row.layer_k.items())
        chosen = f"blend {row.blend:g}" if row.chosen == "blend" else row.chosen
        print(
            f"{row.target * 100:>6g}% {scale.column(row.uniform_score):>9} {scale.column(row.allocated_score):>10} "
            f"{scale.column(row.predicted_score):>10} {row.allocated_sparsity * 100:>8.2f}%  {chosen:<9} {ks}"
        )
    for row in rows:
        if row.chosen != "allocated":
            print(f"At {row.target * 100:g}%: {row.why}")
