"""``prune-viz bench``: time the hot paths against their targets and print a table or JSON."""

from __future__ import annotations

import json

from prune_viz import cli


def register(subparsers) -> None:
    from prune_viz.bench.core_bench import SECTIONS

    p = subparsers.add_parser("bench", help="benchmark slider step, evaluation, sweep, scale and compaction")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--quick", action="store_true", help="small models and few repeats (a smoke run)")
    p.add_argument("--data", metavar="PATH", help="MNIST as a folder of IDX files or an .npz "
                                                  "(default: $PRUNE_VIZ_MNIST, then the Keras cache)")
    p.add_argument("--only", metavar="SECTIONS",
                   help=f"comma-separated subset of: {', '.join(SECTIONS)} (default: all)")
    p.add_argument("--gui", action="store_true", help="also time the GUI (slider to repaint, start-up)")
    p.add_argument("--output", metavar="FILE", help="also write the JSON to FILE")


cli._EXTRA_PARSERS.append(register)


@cli.subcommand("bench")
def cmd_bench(args) -> int:
    from prune_viz.bench.core_bench import SECTIONS, BenchOptions, format_table, run_bench

    sections = SECTIONS
    if args.only:
        sections = tuple(s.strip() for s in args.only.split(",") if s.strip())
        unknown = sorted(set(sections) - set(SECTIONS))
        if unknown:
            raise cli.UsageError(f"unknown bench section {', '.join(unknown)}; choose from {', '.join(SECTIONS)}.")
    task = cli.progress_printer()
    report = run_bench(BenchOptions(quick=args.quick, data=args.data, sections=sections), task)
    if args.gui:
        from prune_viz.bench.gui_bench import run_gui_bench

        run_gui_bench(report, quick=args.quick)
    task.finish()
    text = json.dumps(report.as_dict(), indent=2)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    print(text if args.json else format_table(report))
    return 0
