"""``prune-viz flips MODEL``: which test digits break first as k goes from 0 to 100; for N:M, which has
no k, the flip set: the images 2:4 breaks (right unpruned, wrong under it) and those it fixes."""

from __future__ import annotations

import json

import numpy as np

from prune_viz.cli.arguments import (
    add_data_args,
    add_force_arg,
    add_include_output_arg,
    add_json_arg,
    add_open_args,
    add_pattern_args,
    add_unit_mode_args,
    checked_output,
)
from prune_viz.cli.models import open_session
from prune_viz.cli.terminal import progress_printer
from prune_viz.core.pruning import CRITERIA, METHODS, SCOPES

NAME = "flips"
CSV_FIELDS = ("image", "label", "breaking_k", "predicted_at_break")
SET_CSV_FIELDS = ("image", "label", "unpruned", "pruned", "change")  # a flip set: each image's two answers


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        NAME,
        help="each test image's breaking k (the first k, 0-100, at which it is "
        "misclassified) and per-digit accuracy along k; for --method nm the images N:M breaks and fixes",
    )
    p.add_argument("model")
    add_open_args(p)
    p.add_argument(
        "--method",
        choices=METHODS,
        default="weight",
        help="weight, unit or block pruning, scanned along k; nm: the images its pattern breaks and fixes",
    )
    add_pattern_args(p)
    p.add_argument("--scope", choices=SCOPES, default="layer", help="layerwise or global threshold")
    p.add_argument(
        "--criterion",
        choices=CRITERIA,
        default="magnitude",
        help="what ranks the weights and units (default: magnitude)",
    )
    add_unit_mode_args(p)
    add_include_output_arg(p)
    p.add_argument("--csv", metavar="OUT.csv", help="one row per test image: its label and breaking k")
    add_force_arg(p, "overwrite --csv if it exists")
    add_json_arg(p, "print one JSON object: ks, breaking_k (null: never breaks), per_digit_accuracy")
    add_data_args(p)


def set_csv_rows(flips) -> list[dict]:
    """One row per image of a FlipSet: its label, its answers unpruned and under the pattern, and its group."""
    change = np.full(len(flips.labels), "", dtype=object)
    for group in ("broken", "fixed", "wrong", "never"):
        change[flips.group(group)] = group
    return [
        {
            "image": i,
            "label": int(flips.labels[i]),
            "unpruned": int(flips.predicted[0, i]),
            "pruned": int(flips.predicted[1, i]),
            "change": change[i],
        }
        for i in range(len(flips.labels))
    ]


def csv_rows(scan) -> list[dict]:
    breaking = scan.breaking_k
    first = np.argmax(scan.wrong, axis=0)
    return [
        {
            "image": i,
            "label": int(scan.labels[i]),
            "breaking_k": "" if np.isnan(b) else float(b),
            "predicted_at_break": "" if np.isnan(b) else int(scan.predicted[first[i], i]),
        }
        for i, b in enumerate(breaking)
    ]


def run(args) -> int:
    from prune_viz.core.files import write_csv
    from prune_viz.core.flips import FlipSet, run_flips

    csv_path = checked_output(args.csv, ".csv", force=args.force, inputs=[args.model])
    task = progress_printer()
    session = open_session(args, task.sub(0.0, 0.1))
    scan = run_flips(session, task=task.sub(0.1, 1.0))
    task.finish()
    is_set = isinstance(scan, FlipSet)
    if csv_path is not None:
        rows, fields = (set_csv_rows(scan), SET_CSV_FIELDS) if is_set else (csv_rows(scan), CSV_FIELDS)
        write_csv(csv_path, rows, fields, force=args.force, protect=[args.model])
    if args.json:
        print(
            json.dumps(
                {"model": str(session.model.loaded.path), **scan.as_dict(), "csv": str(csv_path) if csv_path else None}
            )
        )
        return 0
    print_set_summary(scan) if is_set else print_summary(scan)
    if csv_path is not None:
        print(f"\nWrote {csv_path}")
    return 0


def print_summary(scan) -> None:
    breaking = scan.breaking_k
    n = len(breaking)
    print(
        f"{scan.config.describe(with_k=False)}, k = {scan.ks[0]:g}..{scan.ks[-1]:g}; "
        f"{n:,} test images ({scan.data_source})"
    )
    print(f"Wrong unpruned: {int(np.sum(breaking == 0)):,}   never break: {int(np.sum(np.isnan(breaking))):,}")
    broken = breaking[~np.isnan(breaking) & (breaking > 0)]
    if len(broken):
        quartiles = np.percentile(broken, [25, 50, 75])
        print("Breaking k of the others: quartiles " + ", ".join(f"{q:g}" for q in quartiles))
    per_digit = scan.per_digit_accuracy()
    marks = [i for i, k in enumerate(scan.ks) if k % 10 == 0]
    print("\nAccuracy % per digit at k =")
    print("digit " + "".join(f"{scan.ks[i]:>6g}" for i in marks))
    for digit in range(per_digit.shape[1]):
        print(f"{digit:>5} " + "".join(f"{per_digit[i, digit] * 100:>6.1f}" for i in marks))


def print_set_summary(flips, most: int = 12) -> None:
    """What the pattern broke and fixed, the first of each in words, and per-digit accuracy before and after."""
    counts = flips.counts()
    before, after = flips.accuracy()
    print(f"{flips.config.describe()}; {len(flips.labels):,} test images ({flips.data_source})")
    print(f"Accuracy {before * 100:.2f}% unpruned, {after * 100:.2f}% under {flips.pattern}")
    print(
        f"Right -> wrong under {flips.pattern}: {counts['broken']:,}   wrong -> right: {counts['fixed']:,}   "
        f"wrong either way: {counts['wrong']:,}   right either way: {counts['never']:,}"
    )
    for group in ("broken", "fixed"):
        members = flips.order(group)
        if len(members):
            shown = ", ".join(f"#{i} {flips.break_words(i)[0]}" for i in members[:most])
            more = f" and {len(members) - most:,} more" if len(members) > most else ""
            print(f"{'Broken' if group == 'broken' else 'Fixed'}: {shown}{more}")
    per_digit = flips.per_digit_accuracy()
    print(f"\nAccuracy % per digit   unpruned   {flips.pattern}")
    for digit in range(per_digit.shape[1]):
        print(f"{flips.class_name(digit):>20}   {per_digit[0, digit] * 100:>8.1f}   {per_digit[1, digit] * 100:>5.1f}")
