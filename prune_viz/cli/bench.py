"""``prune-viz bench``: time the hot paths against their targets and print a table or JSON."""

from __future__ import annotations

import json
import os
import time

from prune_viz.cli.arguments import add_json_arg
from prune_viz.cli.errors import UsageError
from prune_viz.cli.terminal import progress_printer

NAME = "bench"
ALL_SECTIONS = (
    "slider",
    "evaluation",
    "sweep",
    "flips",
    "kinds",
    "scale",
    "vgg16",
    "compaction",
    "data",
    "spectrum",
    "gui",
)


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        NAME,
        help="benchmark slider step, evaluation, sweep, flip scan, layer kinds (LSTM, attention), scale, VGG-16, "
        "compaction, own data (.npz, image folder), the spectrum of VGG-16's largest matrix and the GUI",
    )
    add_json_arg(p, "print one JSON object instead of the table")
    p.add_argument("--quick", action="store_true", help="small models and few repeats (a smoke run)")
    p.add_argument(
        "--data",
        metavar="PATH",
        help="MNIST as a folder of IDX files or an .npz (default: $PRUNE_VIZ_MNIST, then the Keras cache)",
    )
    p.add_argument(
        "--only", metavar="SECTIONS", help=f"comma-separated subset of: {', '.join(ALL_SECTIONS)} (default: all)"
    )
    p.add_argument("--output", metavar="FILE", help="also write the JSON to FILE")


def run(args) -> int:
    from prune_viz.bench.core_bench import SECTIONS, BenchOptions, run_bench
    from prune_viz.bench.report import format_table
    from prune_viz.core.files import write_text

    sections = ALL_SECTIONS
    if args.only:
        sections = tuple(s.strip() for s in args.only.split(",") if s.strip())
        unknown = sorted(set(sections) - set(ALL_SECTIONS))
        if unknown:
            raise UsageError(f"unknown bench section {', '.join(unknown)}; choose from {', '.join(ALL_SECTIONS)}.")
    started = time.perf_counter()
    task = progress_printer()
    core = tuple(s for s in sections if s in SECTIONS)
    report = run_bench(BenchOptions(quick=args.quick, data=args.data, sections=core), task)
    if "kinds" in sections:  # their window figures too: the section is the models
        from prune_viz.bench.kinds_bench import run_kinds_gui_bench

        task.progress(1.0, "GUI: layer kinds")
        run_kinds_gui_bench(report, quick=args.quick)
    if "gui" in sections:
        from prune_viz.bench.gui_bench import run_gui_bench

        task.progress(1.0, "GUI")
        run_gui_bench(report, quick=args.quick)
    if {"kinds", "gui"} & set(sections):
        report.options["sections"] = list(sections)
        report.machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
        report.seconds = time.perf_counter() - started
    task.finish()
    text = json.dumps(report.as_dict(), indent=2)
    if args.output:
        write_text(args.output, text + "\n", force=True)  # a results file, rewritten run after run
    print(text if args.json else format_table(report))
    return 0
